"""A throw-away knowledge base and triager in a temporary data directory (evals, scenarios)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from agent.policy import Policy
from agent.settings import Settings
from knowledge.cases import Case
from knowledge.embeddings import Embedder, make_embedder
from knowledge.kb import KnowledgeBase

if TYPE_CHECKING:
    from agent.triager import Triager


class SandboxInfo(BaseModel):
    """What building the sandbox did."""

    ingest: dict[str, Any] | None = None
    fit: dict[str, Any] = Field(default_factory=dict)
    seconds: float = 0.0


def eval_embedder(settings: Settings) -> Embedder:
    """The embedder evals share: a vector cache by text hash under the data directory.

    It memoises the embedding function only (no labels, no cases), so every run still builds a
    fresh knowledge base, and re-running an eval or a learning curve embeds nothing twice.
    """
    settings.ensure_dirs()
    return make_embedder(settings.embedding_model, settings.data_dir / "eval-embeddings.sqlite")


@contextmanager
def isolated_triager(
    settings: Settings,
    policy: Policy,
    cases: Sequence[Case],
    progress: bool = False,
    embedder: Embedder | None = None,
) -> Iterator[tuple[Triager, SandboxInfo]]:
    """A triager over a fresh knowledge base holding exactly ``cases``; all removed afterwards."""
    from agent.llm import LLMClassifier
    from agent.triager import Triager, memory_checkpointer  # the graph is heavy to import

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="triage-eval-") as tmp:
        # Embedded Chroma in a throw-away directory: an eval never touches a real knowledge base.
        run_settings = settings.model_copy(
            update={"data_dir": Path(tmp), "chroma_mode": "embedded"}
        )
        run_settings.ensure_dirs()
        kb = _open_kb(run_settings, embedder)
        info = SandboxInfo()
        try:
            # built first: it hands its policy's team descriptions to the refit below
            triager = Triager(
                settings=run_settings,
                policy=policy,
                kb=kb,
                llm=LLMClassifier.from_settings(run_settings),
                checkpointer=memory_checkpointer(),
            )
            if cases:
                info.ingest = kb.ingest(cases, progress=progress).model_dump(mode="json")
                info.fit = kb.refit()
            info.seconds = round(time.perf_counter() - started, 2)
            yield triager, info
        finally:
            closer = getattr(kb.store, "close", None)
            if closer is not None:
                closer()


def _open_kb(settings: Settings, embedder: Embedder | None) -> KnowledgeBase:
    """Embedded Chroma and a router kept in memory: a throw-away run never writes its models."""
    from knowledge.router import LearnedRouter
    from knowledge.store import ChromaCaseStore

    if embedder is None:
        embedder = make_embedder(settings.embedding_model, settings.embedding_cache_path)
    return KnowledgeBase(ChromaCaseStore.open(settings), embedder, LearnedRouter())
