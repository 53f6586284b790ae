"""Run the product on labelled tickets: a fresh knowledge base from TRAIN, every TEST ticket routed.

TEST labels are read only after the product decided: to score, and in feedback mode to resolve the
ticket afterwards (its true team joins the knowledge base before the next ticket, as a resolved
case from the helpdesk would); never as input or history of the ticket being decided.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agent import __version__
from agent.errors import TriageError
from agent.kpis import OutcomeRecord, compute_kpis
from agent.models import PriorTicket, TriageDecision
from agent.policy import Policy
from agent.settings import Settings
from evals.datasets import Row, as_history, require_label, sample, to_case, to_ticket
from evals.eval_policy import build_policy
from evals.metrics import Outcome, accuracy, compute_metrics
from evals.progress import Progress
from evals.sandbox import isolated_triager
from knowledge.embeddings import Embedder

HISTORY_LIMIT = 5  # earlier TEST tickets of the same requester given as history, newest last


class EvalConfig(BaseModel):
    """What one eval run was asked to do."""

    model_config = ConfigDict(extra="forbid")

    label: str
    first_line: str | None = None
    priority_label: str | None = None
    policy_path: Path | None = None
    seed: int = 0
    limit: int | None = Field(default=None, ge=1)
    history: bool = True
    feedback: bool = False
    train_source: str = "TRAIN"
    test_source: str = "TEST"


class EvalResult(BaseModel):
    """The figures and the per-ticket outcomes of one run."""

    metrics: dict[str, Any]
    outcomes: list[Outcome]


def _outcome(
    row: Row, decision: TriageDecision, config: EvalConfig, text: str, language: str | None
) -> Outcome:
    return Outcome(
        ticket_id=row.id,
        truth=row.label(config.label) or "",
        predicted=decision.team,
        confidence=decision.confidence,
        needs_review=decision.needs_review,
        escalate=decision.escalate,
        decided_by=decision.decided_by,
        language=language,
        truth_priority=row.label(config.priority_label) if config.priority_label else None,
        predicted_priority=decision.priority,
        latency_ms=decision.latency_ms or 0.0,
        llm_calls=decision.llm.calls,
        prompt_tokens=decision.llm.prompt_tokens,
        completion_tokens=decision.llm.completion_tokens,
        cost_usd=decision.llm.cost_usd,
        review_reasons=decision.review_reasons,
        alternatives=[(s.team, round(s.score, 4)) for s in decision.alternatives[:3]],
        evidence=[f"{e.kind} [{e.source}] {e.detail}"[:300] for e in decision.evidence[:10]],
        text=text[:400],
    )


def _settings_record(settings: Settings) -> dict[str, Any]:
    keep = ("embedding_model", "neighbours", "llm_model", "llm_when", "llm_max_prompt_tokens")
    return {k: getattr(settings, k) for k in keep} | {"llm_configured": settings.llm_configured}


def run_eval(
    train: Sequence[Row],
    test: Sequence[Row],
    config: EvalConfig,
    settings: Settings | None = None,
    progress: bool = True,
    embedder: Embedder | None = None,
    policy: Policy | None = None,
) -> EvalResult:
    """Ingest TRAIN into an isolated knowledge base, route every TEST ticket, and score.

    ``embedder`` lets several runs share one (cached) embedder, e.g. the learning curve's;
    ``policy`` replaces the one built from the config (the curve keeps TRAIN's full team list).
    """
    if train:
        require_label(train, config.label, config.train_source)
    require_label(test, config.label, config.test_source)
    if config.priority_label:
        require_label(test, config.priority_label, config.test_source)
    if config.limit is not None and config.limit < len(test):
        keep = {r.id for r in sample(test, config.limit, config.seed)}
        test = [r for r in test if r.id in keep]  # file order kept: it is the history order
    policy = policy or build_policy(config, train)
    started = time.perf_counter()
    base = settings or Settings()
    cases = [to_case(r, config.label, config.priority_label) for r in train]
    with isolated_triager(base, policy, cases, progress, embedder) as (triager, info):
        control = None
        resolutions = None
        if config.feedback:
            # the same tickets first without feedback: the control, on the same fitted router
            control = _route_all(triager, test, config, progress)
            resolutions = _Resolutions(triager.kb, config)
        outcomes = _route_all(triager, test, config, progress, resolutions)
    metrics = compute_metrics(outcomes, config.first_line, config.priority_label is not None)
    if resolutions is not None and control is not None:
        metrics["feedback"] = resolutions.summary(outcomes, control)
    if config.first_line is not None:
        records = [_kpi_record(o, config.first_line) for o in outcomes]
        metrics["kpis"] = compute_kpis(records).model_dump(mode="json", exclude={"per_team"})
    metrics["version"] = __version__
    metrics["settings"] = _settings_record(base)
    metrics["run"] = {
        **config.model_dump(mode="json"),
        "n_train": len(train),
        "n_test": len(test),
        "teams": policy.team_names,
        "policy": policy.name,
        "policy_version": policy.fingerprint,
        "model_version": info.fit.get("version"),
        "ingest": info.ingest,
        "fit": json.loads(json.dumps(info.fit, default=str)),
        "ingest_and_fit_s": info.seconds,
        "seconds": round(time.perf_counter() - started, 2),
        "unseen_test_labels": sorted({o.truth for o in outcomes} - set(policy.team_names)),
        # a TEST ticket also in TRAIN finds itself among the past cases
        "overlapping_ids": len({r.id for r in test} & {r.id for r in train}),
    }
    return EvalResult(metrics=metrics, outcomes=outcomes)


class _Resolutions:
    """Feedback mode: each decided TEST ticket comes back resolved and joins the knowledge base.

    The router learns it at once (precedents, requester history) and refits when enough cases
    piled up, as the service's refit schedule does.
    """

    def __init__(self, kb: Any, config: EvalConfig) -> None:
        self.kb = kb
        self.config = config
        self.refits = 0
        self.refit_s = 0.0

    def resolve(self, row: Row) -> None:
        case = to_case(row, self.config.label, self.config.priority_label)
        self.kb.ingest([case.model_copy(update={"label_source": "helpdesk"})])
        if self.kb.router is not None and self.kb.router.needs_refit:
            started = time.perf_counter()
            self.kb.refit()
            self.refits += 1
            self.refit_s += time.perf_counter() - started

    def summary(self, outcomes: Sequence[Outcome], control: Sequence[Outcome]) -> dict[str, Any]:
        """Refits, and accuracy with and without feedback, overall and per quarter of the stream."""
        pairs = list(zip(control, outcomes, strict=True))
        return {
            "refits": self.refits,
            "refit_seconds": round(self.refit_s, 2),
            "accuracy_by_quarter": _quarters(outcomes),
            "without_feedback": {
                "accuracy": accuracy(control),
                "accuracy_by_quarter": _quarters(control),
            },
            "gained": sum(not c.correct and o.correct for c, o in pairs),
            "lost": sum(c.correct and not o.correct for c, o in pairs),
        }


def _quarters(outcomes: Sequence[Outcome]) -> list[float | None]:
    n = len(outcomes)
    return [accuracy(outcomes[n * q // 4 : n * (q + 1) // 4]) for q in range(4)]


def _route_all(
    triager: Any,
    test: Sequence[Row],
    config: EvalConfig,
    progress: bool,
    resolutions: _Resolutions | None = None,
) -> list[Outcome]:
    earlier: dict[str, list[PriorTicket]] = defaultdict(list)
    bar = Progress(len(test), "routing", enabled=progress)
    outcomes: list[Outcome] = []
    for index, row in enumerate(test):
        prior = earlier[row.requester][-HISTORY_LIMIT:] if config.history and row.requester else []
        ticket = to_ticket(row, history=prior)
        thread = f"eval-{index}-{row.id}"
        try:
            result = triager.triage(ticket, thread_id=thread)
        except TriageError as exc:
            raise type(exc)(f"{config.test_source}: ticket {row.id!r}: {exc}") from exc
        finally:
            triager.forget(thread)
        outcomes.append(_outcome(row, result.decision, config, ticket.text, ticket.language))
        if row.requester:
            earlier[row.requester].append(as_history(row))
        if resolutions is not None:
            resolutions.resolve(row)
        bar.update()
    bar.close()
    return outcomes


def _kpi_record(outcome: Outcome, first_line: str) -> OutcomeRecord:
    """The KPI view of a TEST ticket: true team as final, the product's choice as first route."""
    return OutcomeRecord(
        ticket_id=outcome.ticket_id,
        team=outcome.truth,
        first_route=outcome.predicted,
        escalated=outcome.truth != first_line,
        needed_review=outcome.needs_review,
    )
