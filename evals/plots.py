"""The report's figures, drawn with matplotlib (Agg: no display) and returned as PNG bytes."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from evals.metrics import Outcome

CONFUSION_TEAMS = 12
# predicted among the smaller teams: the true team (right), or another (wrong)
OTHER_COLUMNS = ("other: right", "other: wrong")
BAR_TEAMS = 25


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def coverage_curve(curve: Sequence[dict[str, float]], coverage: float | None) -> bytes:
    """Accuracy of the most confident share of tickets, with the product's own coverage marked."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([p["coverage"] for p in curve], [p["accuracy"] for p in curve], marker="o", ms=3)
    if coverage is not None:
        ax.axvline(coverage, color="grey", ls="--", label=f"routed without review ({coverage:.0%})")
        ax.legend(loc="lower left")
    ax.set(
        xlabel="coverage (most confident share)", ylabel="accuracy", xlim=(0, 1.02), ylim=(0, 1.02)
    )
    ax.set_title("Accuracy vs coverage")
    ax.grid(alpha=0.3)
    return _png(fig)


def reliability_diagram(bins: Sequence[dict[str, float]], ece: float | None) -> bytes:
    """Accuracy per confidence bin against the diagonal of perfect calibration."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1)
    if bins:
        centres = [(b["lo"] + b["hi"]) / 2 for b in bins]
        width = bins[0]["hi"] - bins[0]["lo"]
        ax.bar(
            centres, [b["accuracy"] for b in bins], width=width * 0.9, alpha=0.7, label="accuracy"
        )
        ax.plot(
            [b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o", ms=3, color="C1"
        )
    ax.set(xlabel="confidence", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1.02))
    ax.set_title(f"Reliability (ECE {ece:.3f})" if ece is not None else "Reliability")
    return _png(fig)


def confusion_counts(
    outcomes: Sequence[Outcome], teams: int = CONFUSION_TEAMS
) -> tuple[list[str], list[str], np.ndarray]:
    """True (rows) by predicted (columns) team counts of the largest true teams, the rest pooled
    as 'other'. A prediction among the rest is right or wrong in two columns, so that pooled
    true-other, predicted-other tickets are not read as the diagonal."""
    largest = [t for t, _ in Counter(o.truth for o in outcomes).most_common(teams)]
    index = {t: i for i, t in enumerate(largest)}
    rows, columns = [*largest, "other"], [*largest, *OTHER_COLUMNS]
    matrix = np.zeros((len(rows), len(columns)))
    for o in outcomes:
        column = index.get(o.predicted, len(largest) + int(not o.correct))
        matrix[index.get(o.truth, len(largest)), column] += 1
    return rows, columns, matrix


def confusion(outcomes: Sequence[Outcome], teams: int = CONFUSION_TEAMS) -> bytes:
    """Row-normalised confusion matrix of the largest true teams (see ``confusion_counts``)."""
    names, columns, matrix = confusion_counts(outcomes, teams)
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    size = 2.5 + 0.45 * len(names)
    fig, ax = plt.subplots(figsize=(size + 1.45, size))
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(
        range(len(columns)), [_short(n) for n in columns], rotation=60, ha="right", fontsize=8
    )
    ax.set_yticks(range(len(names)), [_short(n) for n in names], fontsize=8)
    for (i, j), value in np.ndenumerate(matrix):
        if value:
            colour = "white" if share[i, j] > 0.5 else "black"
            ax.text(j, i, str(int(value)), ha="center", va="center", fontsize=6, color=colour)
    ax.set(xlabel="predicted", ylabel="true")
    ax.set_title("Confusion (largest teams, row share)")
    fig.colorbar(image, ax=ax, fraction=0.04)
    return _png(fig)


def team_bars(per_team: dict[str, dict[str, Any]], teams: int = BAR_TEAMS) -> bytes:
    """Precision, recall and F1 of the teams with the most TEST tickets."""
    ranked = sorted(per_team.items(), key=lambda kv: -int(kv[1]["support"]))[:teams]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(ranked) + 2), 4))
    x = np.arange(len(ranked))
    for offset, key in ((-0.27, "precision"), (0.0, "recall"), (0.27, "f1")):
        ax.bar(x + offset, [float(v[key]) for _, v in ranked], width=0.27, label=key)
    labels = [f"{_short(t)} ({v['support']})" for t, v in ranked]
    ax.set_xticks(x, labels, rotation=60, ha="right", fontsize=8)
    ax.set(ylim=(0, 1.05), ylabel="score")
    ax.set_title("Per team (TEST support in brackets)")
    ax.legend(fontsize=8)
    return _png(fig)


def latency_histogram(outcomes: Sequence[Outcome]) -> bytes:
    """Distribution of decision times."""
    values = [o.latency_ms for o in outcomes]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(values, bins=40, color="C2")
    if values:
        p50, p99 = np.percentile(values, [50, 99])
        ax.axvline(p50, color="black", ls="--", label=f"p50 {p50:.0f} ms")
        ax.axvline(p99, color="red", ls="--", label=f"p99 {p99:.0f} ms")
        ax.legend()
    ax.set(xlabel="latency (ms)", ylabel="tickets")
    ax.set_title("Decision latency")
    return _png(fig)


def learning_curve(points: Sequence[dict[str, Any]]) -> bytes:
    """Accuracy and coverage against the share of TRAIN in the knowledge base; where a share was
    drawn several times, the mean with bars over the range of the draws."""
    fig, ax = plt.subplots(figsize=(6, 4))
    shares = [p["share"] * 100 for p in points]
    for key in ("accuracy", "coverage", "auto_accuracy"):
        means = np.array([p[key] if p[key] is not None else np.nan for p in points], dtype=float)
        spans = np.array(
            [p.get(f"{key}_range") or [m, m] for p, m in zip(points, means, strict=True)],
            dtype=float,
        )
        ax.errorbar(
            shares,
            means,
            yerr=np.abs(np.stack([means - spans[:, 0], spans[:, 1] - means])),
            marker="o",
            capsize=3,
            label=key,
        )
    ax.set(xlabel="% of TRAIN in the knowledge base", ylabel="share", ylim=(0, 1.02))
    draws = max((len(p.get("runs", [])) for p in points), default=0)
    ax.set_title("Learning curve" + (f" (mean and range of {draws} shuffles)" if draws else ""))
    ax.grid(alpha=0.3)
    ax.legend()
    return _png(fig)


def _short(name: str, width: int = 18) -> str:
    short = name if len(name) <= width else name[: width - 1] + "…"
    # a team name is text: between two '$' matplotlib would draw (or fail on) math
    return short.replace("$", r"\$")
