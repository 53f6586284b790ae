"""What the reports say, as rows and lines: shared by report.md, report.html and the command."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evals.gate import HEADLINE_FIGURES
from evals.learning_curve import percent
from evals.metrics import Outcome
from evals.runner import EvalResult

HEADLINE = HEADLINE_FIGURES
WORST = 10
REASON_HEAD = ["reason", "tickets", "share", "best guess right"]
KPI_HEAD = ["KPI (agent/kpis.py, as GET /v1/kpis)", "value", "target", "met"]
# What each KPI counts in an eval, where the true team stands in for where the ticket ended.
KPI_MEANING = {
    "escalation_accuracy_rate": "of the tickets whose true team is a specialist, the share the "
    "product's first route sent there (held for review or not)",
    "first_contact_resolution_rate": "needs resolution outcomes; the dataset has none",
    "avg_handling_hours": "needs handling times; the dataset has none",
}


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _span(interval: Sequence[float] | None) -> str:
    """A 95% interval after its figure, e.g. " (0.757-0.801)"; nothing when there is none."""
    return f" ({interval[0]:.3f}-{interval[1]:.3f})" if interval else ""


def worst_misroutes(outcomes: Sequence[Outcome], n: int = WORST) -> list[Outcome]:
    """Wrong decisions routed without review, most confident first."""
    wrong = [o for o in outcomes if not o.correct and not o.needs_review]
    return sorted(wrong, key=lambda o: -o.confidence)[:n]


def headline_rows(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """The headline figures as (name, formatted value)."""
    lat = metrics.get("latency_ms") or {}
    at = metrics.get("accuracy_at_coverage") or {}
    spans = metrics.get("intervals") or {}
    rows = [("n", _fmt(metrics.get("n")))]
    rows += [(k, _fmt(metrics.get(k)) + _span(spans.get(k))) for k in HEADLINE]
    rows += [(f"accuracy @ {k} coverage", _fmt(v)) for k, v in at.items()]
    rows.append(("latency p50 / p99 (ms)", f"{_fmt(lat.get('p50'))} / {_fmt(lat.get('p99'))}"))
    tokens = [str(metrics.get(k, 0)) for k in ("llm_calls", "prompt_tokens", "completion_tokens")]
    rows.append(("LLM calls / prompt / completion tokens", " / ".join(tokens)))
    return rows


def language_rows(metrics: dict[str, Any]) -> list[list[str]]:
    """Per-language rows: language, n, accuracy, coverage, auto accuracy."""
    return [
        [lang, str(v["n"]), _fmt(v["accuracy"]), _fmt(v["coverage"]), _fmt(v["auto_accuracy"])]
        for lang, v in (metrics.get("by_language") or {}).items()
    ]


def reason_rows(metrics: dict[str, Any]) -> list[list[str]]:
    """Per kind of review reason: reason, tickets held, their share, best-guess accuracy."""
    return [
        [kind, str(v["n"]), _fmt(v["share"]), _fmt(v["accuracy"])]
        for kind, v in (metrics.get("review_reasons") or {}).items()
    ]


def kpi_rows(metrics: dict[str, Any]) -> list[list[str]]:
    """The product KPIs against their targets: name and meaning, value, target, met."""
    targets = (metrics.get("kpis") or {}).get("targets") or {}
    return [
        [
            f"{name}: {KPI_MEANING.get(name, '')}",
            _fmt(t.get("value")),
            f"{'>' if t.get('better') == 'higher' else '<'} {t.get('target')}",
            _fmt(t.get("met")),
        ]
        for name, t in targets.items()
    ]


def team_rows(metrics: dict[str, Any], limit: int | None = None) -> list[list[str]]:
    """Per-team rows, largest first: team, support, predicted, precision, recall, F1."""
    ranked = sorted((metrics.get("per_team") or {}).items(), key=lambda kv: -kv[1]["support"])
    return [
        [
            t,
            str(v["support"]),
            str(v["predicted"]),
            *(_fmt(v[k]) for k in ("precision", "recall", "f1")),
        ]
        for t, v in ranked[:limit]
    ]


def feedback_summary(metrics: dict[str, Any]) -> str | None:
    """One line on a --feedback run: refits, accuracy with and without, gained and lost."""
    learned = metrics.get("feedback")
    if not learned:
        return None
    without = learned["without_feedback"]
    return (
        f"{learned['refits']} refits in {learned['refit_seconds']:.0f} s; accuracy "
        f"{_fmt(metrics.get('accuracy'))} ({_fmt(without['accuracy'])} without), "
        f"{learned['gained']} tickets gained, {learned['lost']} lost; by quarter of TEST "
        f"{_shares(learned['accuracy_by_quarter'])} ({_shares(without['accuracy_by_quarter'])} "
        "without)"
    )


def _shares(values: Sequence[float | None]) -> str:
    return " ".join(_fmt(v) for v in values)


def unseen_note(result: EvalResult) -> str | None:
    """How many TEST tickets carry a label no team of the policy has: none can be routed right,
    which the figures alone do not show."""
    unseen = set(result.metrics.get("run", {}).get("unseen_test_labels") or ())
    held = [o for o in result.outcomes if o.truth in unseen]
    if not held:
        return None
    names = ", ".join(sorted(unseen)[:5]) + (", ..." if len(unseen) > 5 else "")
    n = len(result.outcomes)
    return (
        f"{len(held)} of {n} TEST tickets ({len(held) / n:.0%}) "
        f"have a label that is none of the policy's teams ({names}): no route can be right for them"
    )


def overlap_note(result: EvalResult) -> str | None:
    """How many TEST tickets are also in TRAIN: each is routed with its own past case in the
    knowledge base, which the figures alone do not show."""
    overlap = result.metrics.get("run", {}).get("overlapping_ids") or 0
    if not overlap:
        return None
    n = len(result.outcomes)
    return (
        f"{overlap} of {n} TEST tickets ({overlap / n:.0%}) are also in TRAIN (the same id): "
        "each finds itself among the past cases, so the figures overstate routing of new tickets"
    )


def notes(result: EvalResult) -> list[str]:
    """What the figures do not show about the run, one sentence each."""
    return [note for note in (unseen_note(result), overlap_note(result)) if note]


def subtitle(metrics: dict[str, Any]) -> str:
    """One line on the run: TRAIN and TEST sizes, mode, policy, seed, version, time."""
    run = metrics.get("run", {})
    learned = feedback_summary(metrics)
    mode = (
        f", each TEST ticket resolved into the knowledge base after its decision ({learned})"
        if learned
        else ""
    )
    curve = run.get("learning_curve")
    share = (
        f" ({percent(curve['share'])} of {curve['of_n_train']}: the learning curve's largest share)"
        if curve
        else ""
    )
    return (
        f"TRAIN {run.get('n_train')}{share} / TEST {run.get('n_test')} tickets{mode}, "
        f"policy {run.get('policy')}, seed {run.get('seed')}, "
        f"version {metrics.get('version')}, {run.get('seconds')} s"
    )
