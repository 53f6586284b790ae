"""The facade every entry point uses: build the graph once, triage tickets, resume reviews."""

from __future__ import annotations

import logging
import sqlite3
import time
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, Durability
from pydantic import BaseModel, Field

from agent.assign import InMemoryLoads, LoadView
from agent.brief import brief_markdown
from agent.deps import Deps
from agent.errors import ConflictError, NotFoundError
from agent.graph import build_graph
from agent.language import with_language
from agent.llm import LLMClassifier
from agent.models import Brief, Ticket, TriageDecision
from agent.nodes import review_held
from agent.policy import Policy, load_policy
from agent.settings import Settings, get_settings
from agent.state import HumanReview
from knowledge.kb import KnowledgeBase

log = logging.getLogger(__name__)


class TriageResult(BaseModel):
    """A decision and its brief: what `triage route` prints and `POST /v1/triage` returns."""

    decision: TriageDecision
    brief: Brief
    # The service's id of the stored decision, when it tells its listeners of one: a listener
    # keyed by decision (the helpdesk outbox) must not guess which decision it is told of.
    stored_as: int | None = Field(default=None, exclude=True)

    def to_output(self) -> dict[str, Any]:
        """The decision's fields at the top level and the brief under ``brief``."""
        out = self.decision.model_dump(mode="json")
        out["brief"] = self.brief.model_dump(mode="json")
        return out

    def to_markdown(self) -> str:
        """The brief as Markdown, headed by the decision."""
        return brief_markdown(self.brief, self.decision)


def _serializer() -> JsonPlusSerializer:
    """Checkpoint serde that revives only this product's own models."""
    import agent.models as models
    import agent.state as state

    allowed: list[type] = [
        obj
        for module in (models, state)
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, BaseModel)
        and obj.__module__.startswith(("agent", "knowledge"))
    ]
    for name in (
        "agent.rules",
        "agent.route",
        "agent.priority",
        "agent.llm",
        "agent.policy",
        "knowledge.base",
        "knowledge.cases",
    ):
        module = __import__(name, fromlist=["_"])
        allowed += [
            obj
            for obj in vars(module).values()
            if isinstance(obj, type) and issubclass(obj, BaseModel) and obj.__module__ == name
        ]
    return JsonPlusSerializer(allowed_msgpack_modules=allowed)


def sqlite_checkpointer(settings: Settings) -> SqliteSaver:
    """Checkpoints on disk under the data directory, so a crash mid-run resumes."""
    settings.ensure_dirs()
    conn = sqlite3.connect(str(settings.checkpoint_path), check_same_thread=False)
    # WAL without a sync per commit: a crashed process loses nothing, a crashed OS at most the
    # last runs' checkpoints (their tickets are re-triaged from the intake queue).
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return SqliteSaver(conn, serde=_serializer())


def memory_checkpointer() -> InMemorySaver:
    """Checkpoints in memory, for evals and tests."""
    return InMemorySaver(serde=_serializer())


def _config(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


class Triager:
    """Routes tickets through the graph; one per process."""

    def __init__(
        self,
        *,
        settings: Settings,
        policy: Policy,
        kb: KnowledgeBase,
        llm: LLMClassifier | None = None,
        loads: LoadView | None = None,
        checkpointer: BaseCheckpointSaver | None = None,
        shadow: bool = False,
    ) -> None:
        """``shadow``: a second triager on the live one's knowledge base (a policy dry-run),
        whose policy must not become what that knowledge base refits with, and which routes
        stored tickets again: each without its own case (see knowledge.replay)."""
        self.settings = settings
        self.kb = kb
        self.shadow = shadow
        self.llm = llm
        self.loads: LoadView = loads if loads is not None else InMemoryLoads()
        self.checkpointer = checkpointer if checkpointer is not None else memory_checkpointer()
        self.set_policy(policy)

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        policy: Policy | None = None,
        read_only: bool = False,
    ) -> Triager:
        """The embedded defaults: Chroma on disk, SQLite checkpoints, the configured policy.

        ``read_only``: a triager that only routes (``triage route``) reads the knowledge base
        beside the process that writes it, a running service (see ``knowledge.owner``). Its runs
        are checkpointed in memory: nothing resumes them once the process ends, and the data
        directory's checkpoint file is the service's, its held runs kept under their ticket ids
        (a route of the same ticket would run on the held run's thread)."""
        settings = settings or get_settings()
        settings.ensure_dirs()
        kb = KnowledgeBase.open(settings, read_only=read_only)
        triager = cls(
            settings=settings,
            policy=policy or load_policy(settings.policy_path),
            kb=kb,
            llm=LLMClassifier.from_settings(settings),
            checkpointer=memory_checkpointer() if read_only else sqlite_checkpointer(settings),
        )
        # after the triager: the refit learns with the team descriptions it handed over
        if kb.router is not None and not kb.router.is_fitted and kb.store.count():
            log.info("fitting the learned router on %d stored cases", kb.store.count())
            kb.refit()
        return triager

    def set_policy(self, policy: Policy) -> None:
        """Activate a policy: rebuilds the engines and the graph. InputError, and the policy
        before stays active, when the LLM's prompt budget is too small for this one's teams."""
        if self.llm is not None:
            self.llm.check_budget(policy)
        self.policy = policy
        self.deps = Deps(
            settings=self.settings,
            policy=policy,
            kb=self.kb,
            loads=self.loads,
            llm=self.llm,
            replay=self.shadow,
        )
        if not self.shadow:  # refits learn with the active policy's team descriptions
            self.kb.team_descriptions = self.deps.team_embeddings
        self.graph: CompiledStateGraph = build_graph(self.deps, self.checkpointer)

    def triage(self, ticket: Ticket, thread_id: str | None = None) -> TriageResult:
        """Route one ticket; a ticket the agent abstains on waits for review under its thread.

        A ticket that names no language gets its text's, as one from intake does: the same
        ticket routes alike through /v1/triage, `triage route` and every channel."""
        started = time.perf_counter()
        ticket = with_language(ticket)
        config = _config(thread_id or ticket.id)
        if self._stopped_midway(config, ticket):
            # The process died during this ticket's run: go on from its last checkpoint.
            log.info("resuming the interrupted triage run of %s", ticket.id)
            state = self.graph.invoke(None, config, durability=self.durability)
        else:
            state = self.graph.invoke({"ticket": ticket}, config, durability=self.durability)
        return self._result(state, started)

    @property
    def durability(self) -> Durability:
        """The configured checkpoint durability, ``auto`` resolved (see Settings)."""
        setting = self.settings.checkpoint_durability
        if setting == "auto":
            return "sync" if self.llm is not None else "exit"
        return setting

    def _stopped_midway(self, config: RunnableConfig, ticket: Ticket) -> bool:
        """True when this thread holds an unfinished run (not a review wait) of the same ticket
        under the active policy. One that started under another policy is dropped: its rule hits
        and complexity came from rules no longer in force, and the ticket starts again."""
        if self.checkpointer.get_tuple(config) is None:
            return False  # a new thread, as nearly every ticket is: skip the full state read
        snapshot = self.graph.get_state(config)
        if not snapshot.next or snapshot.interrupts or snapshot.values.get("ticket") != ticket:
            return False
        started_under = snapshot.values.get("policy_version")
        if started_under == self.deps.policy_version:
            return True
        log.info(
            "triage run of %s stopped under policy %s; starting it again under %s",
            ticket.id,
            started_under,
            self.deps.policy_version,
        )
        self.forget(str(config["configurable"]["thread_id"]))
        return False

    def resume(self, thread_id: str, review: HumanReview) -> TriageResult:
        """Resume a run waiting for review with a human's decision."""
        config = _config(thread_id)
        snapshot = self.graph.get_state(config)
        if not snapshot.values:
            raise NotFoundError(f"no triage run {thread_id!r}")
        if not snapshot.interrupts:
            raise ConflictError(f"triage run {thread_id!r} is not waiting for review")
        started = time.perf_counter()
        state = self.graph.invoke(
            Command(resume=review.model_dump()),
            config,
            durability=self.durability,
        )
        return self._result(state, started)

    def decide_held(self, held: TriageResult, ticket: Ticket, review: HumanReview) -> TriageResult:
        """Apply a review to a held decision whose run is gone (resumed by a process that died).

        The review step reads only the held decision, its brief and the ticket's arrival, all
        stored with the decision; the steps before it are done and none comes after.
        """
        started = time.perf_counter()
        ticket = with_language(ticket)  # as the run that held it read the ticket
        decision, brief = review_held(held.decision, held.brief, review, ticket, self.deps)
        return self._result({"decision": decision, "brief": brief}, started)

    def forget(self, thread_id: str) -> None:
        """Drop a run's checkpoints (evals route thousands of tickets)."""
        self.checkpointer.delete_thread(thread_id)

    def _result(self, state: dict[str, Any], started: float) -> TriageResult:
        decision: TriageDecision = state["decision"]
        decision = decision.model_copy(
            update={"latency_ms": round((time.perf_counter() - started) * 1000, 2)}
        )
        return TriageResult(decision=decision, brief=state["brief"])
