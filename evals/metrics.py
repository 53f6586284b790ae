"""Routing quality from per-ticket outcomes: accuracy, coverage, calibration, cost, speed."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, Field
from sklearn.metrics import f1_score, precision_recall_fscore_support

from evals.intervals import intervals

ECE_BINS = 15
CURVE_POINTS = 20
COVERAGE_MARKS = (0.5, 0.7, 0.9)


class Outcome(BaseModel):
    """One TEST ticket: its truth (for scoring only) and what the product decided."""

    ticket_id: str
    truth: str
    predicted: str
    confidence: float
    needs_review: bool
    escalate: bool
    decided_by: str
    language: str | None = None
    truth_priority: str | None = None
    predicted_priority: str | None = None
    latency_ms: float = 0.0
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    review_reasons: list[str] = Field(default_factory=list)
    alternatives: list[tuple[str, float]] = Field(default_factory=list)
    evidence: list[str] = Field(default_factory=list, description="Evidence, one line each")
    text: str = Field(default="", description="Start of the ticket text, for the report")

    @property
    def correct(self) -> bool:
        return self.predicted == self.truth


def _mean(values: Sequence[bool] | Sequence[float]) -> float | None:
    return float(np.mean(values)) if len(values) else None


def accuracy(outcomes: Sequence[Outcome]) -> float | None:
    """Share of tickets whose best-guess team is the true team."""
    return _mean([o.correct for o in outcomes])


def macro_f1(outcomes: Sequence[Outcome]) -> float | None:
    """Unweighted mean F1 over every team seen in truth or prediction."""
    if not outcomes:
        return None
    truth, pred = [o.truth for o in outcomes], [o.predicted for o in outcomes]
    return float(f1_score(truth, pred, average="macro", zero_division=0))


def coverage(outcomes: Sequence[Outcome]) -> float | None:
    """Share of tickets routed without review."""
    return _mean([not o.needs_review for o in outcomes])


def auto_accuracy(outcomes: Sequence[Outcome]) -> float | None:
    """Accuracy on the tickets routed without review."""
    return accuracy([o for o in outcomes if not o.needs_review])


def escalation_accuracy(outcomes: Sequence[Outcome]) -> float | None:
    """Of the tickets escalated without review, the share sent to the right team."""
    return accuracy([o for o in outcomes if o.escalate and not o.needs_review])


def escalate_decision_accuracy(outcomes: Sequence[Outcome], first_line: str) -> float | None:
    """Share of tickets whose escalate-or-not matches the truth (truth: team is not first line)."""
    return _mean([o.escalate == (o.truth != first_line) for o in outcomes])


def priority_accuracy(outcomes: Sequence[Outcome]) -> float | None:
    """Share of tickets with a priority label whose decided priority matches it."""
    scored = [o for o in outcomes if o.truth_priority is not None]
    return _mean([o.predicted_priority == o.truth_priority for o in scored])


def ece(outcomes: Sequence[Outcome], bins: int = ECE_BINS) -> float | None:
    """Expected calibration error of the confidence over equal-width bins."""
    return reliability(outcomes, bins)["ece"]


def reliability(outcomes: Sequence[Outcome], bins: int = ECE_BINS) -> dict[str, Any]:
    """Per-bin mean confidence, accuracy and count, and the ECE they give."""
    if not outcomes:
        return {"ece": None, "bins": []}
    conf = np.array([o.confidence for o in outcomes])
    hit = np.array([o.correct for o in outcomes], dtype=float)
    # Bin i holds (i/bins, (i+1)/bins]; confidence 0 falls into the first bin.
    index = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    rows, total = [], 0.0
    for i in range(bins):
        mask = index == i
        if not mask.any():
            continue
        mean_conf, acc, count = float(conf[mask].mean()), float(hit[mask].mean()), int(mask.sum())
        total += count / len(outcomes) * abs(acc - mean_conf)
        rows.append(
            {
                "lo": i / bins,
                "hi": (i + 1) / bins,
                "confidence": mean_conf,
                "accuracy": acc,
                "n": count,
            }
        )
    return {"ece": total, "bins": rows}


def _top_hits(outcomes: Sequence[Outcome]) -> tuple[list[Outcome], np.ndarray]:
    """Tickets most confident first, and for each k the right ones among the top k, where the
    tickets tied in confidence at the cut count at their group's accuracy: no order among equal
    confidences (the file's) decides which of them are in."""
    ranked = sorted(outcomes, key=lambda o: -o.confidence)
    order = np.array([-o.confidence for o in ranked])  # ascending, for searchsorted
    hits = np.concatenate([[0.0], np.cumsum([o.correct for o in ranked])])
    start = np.searchsorted(order, order, side="left")  # each ticket's tie group: [start, end)
    end = np.searchsorted(order, order, side="right")
    group_accuracy = (hits[end] - hits[start]) / (end - start)
    taken = np.arange(1, len(ranked) + 1) - start  # of its group, within the top k
    return ranked, hits[start] + taken * group_accuracy


def accuracy_coverage_curve(
    outcomes: Sequence[Outcome], points: int = CURVE_POINTS
) -> list[dict[str, float]]:
    """Accuracy of the most confident share of tickets, for shares 1/points .. 1."""
    if not outcomes:
        return []
    ranked, hits = _top_hits(outcomes)
    curve = []
    for step in range(1, points + 1):
        k = max(1, round(len(ranked) * step / points))
        curve.append(
            {
                "coverage": k / len(ranked),
                "accuracy": float(hits[k - 1] / k),
                "threshold": ranked[k - 1].confidence,
            }
        )
    return curve


def accuracy_at_coverage(outcomes: Sequence[Outcome]) -> dict[str, float | None]:
    """Accuracy of the most confident 50/70/90% of tickets (ties as in ``_top_hits``)."""
    out: dict[str, float | None] = {}
    ranked, hits = _top_hits(outcomes) if outcomes else ([], np.array([]))
    for mark in COVERAGE_MARKS:
        k = round(len(ranked) * mark)
        out[f"{mark:.2f}"] = float(hits[k - 1] / k) if k else None
    return out


def per_team(outcomes: Sequence[Outcome]) -> dict[str, dict[str, float | int]]:
    """Precision, recall, F1, support (true count) and predicted count of each team."""
    if not outcomes:
        return {}
    truth, pred = [o.truth for o in outcomes], [o.predicted for o in outcomes]
    teams = sorted(set(truth) | set(pred))
    p, r, f, s = precision_recall_fscore_support(truth, pred, labels=teams, zero_division=0)
    predicted = Counter(pred)
    return {
        team: {
            "precision": float(p[i]),
            "recall": float(r[i]),
            "f1": float(f[i]),
            "support": int(s[i]),
            "predicted": predicted[team],
        }
        for i, team in enumerate(teams)
    }


def by_language(outcomes: Sequence[Outcome]) -> dict[str, dict[str, float | int | None]]:
    """Headline figures per ticket language ("unknown" where the source gives none)."""
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        # a code's case varies between sources ('EN', 'en'): one language, one row
        groups[(o.language or "").strip().lower() or "unknown"].append(o)
    return {
        lang: {
            "n": len(group),
            "accuracy": accuracy(group),
            "macro_f1": macro_f1(group),
            "coverage": coverage(group),
            "auto_accuracy": auto_accuracy(group),
        }
        for lang, group in sorted(groups.items(), key=lambda kv: -len(kv[1]))
    }


def review_reasons(outcomes: Sequence[Outcome]) -> dict[str, dict[str, float | int | None]]:
    """Per kind of review reason (its words before the first figure or colon), the tickets it
    held and how often their best guess was right; a ticket held for two reasons counts twice."""
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        for kind in dict.fromkeys(_reason_kind(r) for r in o.review_reasons):
            groups[kind].append(o)
    return {
        kind: {"n": len(group), "share": len(group) / len(outcomes), "accuracy": accuracy(group)}
        for kind, group in sorted(groups.items(), key=lambda kv: -len(kv[1]))
    }


def _reason_kind(reason: str) -> str:
    return re.split(r"[\d:]", reason, maxsplit=1)[0].strip() or reason


def latency(outcomes: Sequence[Outcome]) -> dict[str, float | None]:
    """Median, 99th percentile and mean decision time in milliseconds."""
    values = np.array([o.latency_ms for o in outcomes])
    if not len(values):
        return {"p50": None, "p99": None, "mean": None}
    return {
        "p50": float(np.percentile(values, 50)),
        "p99": float(np.percentile(values, 99)),
        "mean": float(values.mean()),
    }


def compute_metrics(
    outcomes: Sequence[Outcome], first_line: str | None, scored_priority: bool
) -> dict[str, Any]:
    """Every figure of metrics.json that follows from the outcomes alone."""
    return {
        "n": len(outcomes),
        "accuracy": accuracy(outcomes),
        "macro_f1": macro_f1(outcomes),
        "coverage": coverage(outcomes),
        "auto_accuracy": auto_accuracy(outcomes),
        "escalation_accuracy": escalation_accuracy(outcomes) if first_line else None,
        "escalate_decision_accuracy": (
            escalate_decision_accuracy(outcomes, first_line) if first_line else None
        ),
        "ece": ece(outcomes),
        "priority_accuracy": priority_accuracy(outcomes) if scored_priority else None,
        "accuracy_at_coverage": accuracy_at_coverage(outcomes),
        "intervals": intervals(outcomes, first_line, scored_priority),
        "by_language": by_language(outcomes),
        "review_reasons": review_reasons(outcomes),
        "latency_ms": latency(outcomes),
        "llm_calls": sum(o.llm_calls for o in outcomes),
        "prompt_tokens": sum(o.prompt_tokens for o in outcomes),
        "completion_tokens": sum(o.completion_tokens for o in outcomes),
        "llm_cost_usd": round(sum(o.cost_usd for o in outcomes), 6),
        "decided_by": dict(Counter(o.decided_by for o in outcomes).most_common()),
        "accuracy_coverage_curve": accuracy_coverage_curve(outcomes),
        "reliability": reliability(outcomes)["bins"],
        "per_team": per_team(outcomes),
    }
