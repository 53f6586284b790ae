"""95% intervals of the headline figures: how far each could move on another sample."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from evals.metrics import Outcome

RESAMPLES = 1000  # bootstrap resamples behind each 95% interval
INTERVAL_SEED = 0
Z95 = 1.959963984540054  # the normal quantile of a two-sided 95% interval


def intervals(
    outcomes: Sequence[Outcome],
    first_line: str | None,
    scored_priority: bool,
    resamples: int = RESAMPLES,
    seed: int = INTERVAL_SEED,
) -> dict[str, list[float] | None]:
    """95% percentile-bootstrap intervals of the headline figures, resampling tickets.

    How far a figure could move on another sample of the same size: a difference between two
    runs, or to a target, that is well inside the interval is not evidence of anything.

    Where every ticket a share counts is a hit (or every one a miss) no resample differs, and the
    bootstrap's interval would be the figure alone, as if 15 right of 15 could not be 14 of 15
    another time: such a share takes Wilson's score interval of its count instead (15 of 15:
    0.796-1). Macro F1 whose resamples do not vary (each team all right, or all wrong) has no
    interval (None): its spread cannot be told from the tickets.
    """
    names = ["accuracy", "macro_f1", "coverage", "auto_accuracy"]
    names += ["escalation_accuracy", "escalate_decision_accuracy"] if first_line else []
    names += ["priority_accuracy"] if scored_priority else []
    if not outcomes:
        return dict.fromkeys(names)
    teams = {
        t: i
        for i, t in enumerate(sorted({o.truth for o in outcomes} | {o.predicted for o in outcomes}))
    }
    truth = np.array([teams[o.truth] for o in outcomes])
    pred = np.array([teams[o.predicted] for o in outcomes])
    auto = np.array([not o.needs_review for o in outcomes])
    escalate = np.array([o.escalate for o in outcomes])
    right = truth == pred
    scored = np.array([o.truth_priority is not None for o in outcomes])
    prio_right = np.array(
        [
            o.truth_priority is not None and o.predicted_priority == o.truth_priority
            for o in outcomes
        ]
    )
    needs_specialist = truth != teams.get(first_line or "", -1)
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {name: [] for name in names}

    def share(hits: np.ndarray, where: np.ndarray, name: str) -> None:
        if where.any():
            samples[name].append(float(hits[where].mean()))

    k = len(teams)
    for _ in range(resamples):
        rows = rng.integers(0, len(outcomes), size=len(outcomes))
        everyone = np.ones(len(rows), dtype=bool)
        share(right[rows], everyone, "accuracy")
        # macro F1 as sklearn's: over the teams present in this sample's truth or predictions
        tp = np.bincount(truth[rows][right[rows]], minlength=k)
        seen = np.bincount(truth[rows], minlength=k) + np.bincount(pred[rows], minlength=k)
        samples["macro_f1"].append(float(np.mean(2 * tp[seen > 0] / seen[seen > 0])))
        share(auto[rows], everyone, "coverage")
        share(right[rows], auto[rows], "auto_accuracy")
        if first_line:
            share(right[rows], auto[rows] & escalate[rows], "escalation_accuracy")
            share(escalate[rows] == needs_specialist[rows], everyone, "escalate_decision_accuracy")
        if scored_priority:
            share(prio_right[rows], scored[rows], "priority_accuracy")
    out: dict[str, list[float] | None] = {}
    for name, values in samples.items():
        out[name] = [float(v) for v in np.percentile(values, [2.5, 97.5])] if values else None
    counted = {
        "accuracy": (right, np.ones(len(outcomes), dtype=bool)),
        "coverage": (auto, np.ones(len(outcomes), dtype=bool)),
        "auto_accuracy": (right, auto),
        "escalation_accuracy": (right, auto & escalate),
        "escalate_decision_accuracy": (escalate == needs_specialist, np.ones(len(outcomes), bool)),
        "priority_accuracy": (prio_right, scored),
    }
    for name in names:
        if name not in counted:
            continue
        hits, where = counted[name]
        n, k = int(where.sum()), int(hits[where].sum())
        if n and k in (0, n):  # all hits or all misses: nothing for the bootstrap to resample
            out[name] = wilson(k, n)
    spread = out.get("macro_f1")
    if resamples > 1 and spread is not None and spread[0] == spread[1]:
        out["macro_f1"] = None  # every resample the same: no spread to tell, not a certainty
    return out


def wilson(hits: int, n: int, z: float = Z95) -> list[float]:
    """Wilson's score interval of a share of ``hits`` in ``n`` (n > 0)."""
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [max(0.0, centre - half), min(1.0, centre + half)]
