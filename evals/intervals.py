"""95% intervals of the headline figures: how far each could move on another sample."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from evals.metrics import Outcome

RESAMPLES = 1000  # bootstrap resamples behind each 95% interval
INTERVAL_SEED = 0


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
    return out
