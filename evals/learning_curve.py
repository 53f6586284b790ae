"""The learning curve: the same TEST set routed with growing shares of TRAIN in the knowledge base.

0% is the cold start (an empty knowledge base: the policy's team descriptions alone). At small
shares which cases happen to be drawn decides a lot, so a share can be drawn several times from
differently seeded shuffles (``repeats``): the point then holds the mean of each figure, its range,
and every run's figures.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agent.settings import Settings
from evals import plots
from evals.atomic import write_together
from evals.datasets import Row
from evals.eval_policy import build_policy
from evals.runner import EvalConfig, EvalResult, run_eval
from evals.sandbox import eval_embedder

CURVE_KEYS = ("accuracy", "macro_f1", "coverage", "auto_accuracy", "ece", "escalation_accuracy")


def learning_curve(
    train: Sequence[Row],
    test: Sequence[Row],
    config: EvalConfig,
    settings: Settings,
    shares: Sequence[float],
    progress: bool = True,
    repeats: int = 1,
    on_point: Callable[[list[dict[str, Any]]], None] | None = None,
) -> tuple[list[dict[str, Any]], EvalResult]:
    """Figures per share of TRAIN (nested prefixes of a seeded shuffle); also the headline run.

    Shares strictly between 0 and 1 are drawn from ``repeats`` shuffles (seeds ``config.seed``,
    ``config.seed + 1``, ...); 0 and 1 hold the same cases whatever the shuffle and run once.
    The headline run is the largest share's from the first shuffle (seed ``config.seed``): the
    one a report and a gate describe, its ``run`` saying which share it is. ``on_point`` gets
    the points so far after each share, e.g. to keep them should the curve be cut short.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    # Teams and priority scale come from the whole TRAIN: every point routes among the same teams.
    policy = build_policy(config, train)
    shuffles = []
    for r in range(repeats):
        shuffled = list(train)
        random.Random(config.seed + r).shuffle(shuffled)
        shuffles.append(shuffled)
    points: list[dict[str, Any]] = []
    headline: EvalResult | None = None
    top = max(shares, default=None)
    embedder = eval_embedder(settings)  # each text is embedded once across the curve
    for share in shares:
        runs: list[dict[str, Any]] = []
        drawn = shuffles if 0 < share < 1 else shuffles[:1]
        for r, shuffled in enumerate(drawn):
            part = shuffled[: round(len(shuffled) * share)]
            if progress:
                draw = f", shuffle {r + 1} of {len(drawn)}" if len(drawn) > 1 else ""
                print(
                    f"learning curve: {percent(share)} of TRAIN ({len(part)} cases{draw})",
                    file=sys.stderr,
                )
            result = run_eval(
                part, test, config, settings, progress, embedder=embedder, policy=policy
            )
            runs.append(
                {"seed": config.seed + r} | {key: result.metrics.get(key) for key in CURVE_KEYS}
            )
            if share == top and r == 0:
                headline = result
                result.metrics["run"]["learning_curve"] = {"share": share, "of_n_train": len(train)}
        points.append(_point(share, len(part), runs))
        if on_point is not None:
            on_point(points)
    if headline is None:
        raise ValueError("no shares given")
    return points, headline


def percent(share: float) -> str:
    """A share as the percentage it was given as: 0.005 is '0.5%', not a rounded '0%'."""
    return f"{share * 100:g}%"


def _point(share: float, n_train: int, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One share's figures: each key's mean over the runs, with its range and the runs."""
    point: dict[str, Any] = {"share": share, "n_train": n_train}
    for key in CURVE_KEYS:
        values = [run[key] for run in runs if run[key] is not None]
        point[key] = sum(values) / len(values) if values else None
        if len(runs) > 1:
            point[f"{key}_range"] = [min(values), max(values)] if values else None
    if len(runs) > 1:
        point["runs"] = runs
    return point


def write_curve(points: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """DIR/learning_curve.json and DIR/learning_curve.png, both of the same points: the figure is
    drawn before either is written (a Ctrl-C while drawing leaves the last pair), and they are
    written together."""
    data = (json.dumps(points, indent=2) + "\n").encode("utf-8")
    png = plots.learning_curve(points)
    return write_together(
        {out_dir / "learning_curve.json": data, out_dir / "learning_curve.png": png}
    )
