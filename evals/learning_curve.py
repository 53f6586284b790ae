"""The learning curve: the same TEST set routed with growing shares of TRAIN in the knowledge base.

0% is the cold start (an empty knowledge base: the policy's team descriptions alone).
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent.settings import Settings
from evals import plots
from evals.datasets import Row
from evals.runner import EvalConfig, EvalResult, build_policy, run_eval
from evals.sandbox import eval_embedder

CURVE_KEYS = ("accuracy", "macro_f1", "coverage", "auto_accuracy", "ece", "escalation_accuracy")


def learning_curve(
    train: Sequence[Row],
    test: Sequence[Row],
    config: EvalConfig,
    settings: Settings,
    shares: Sequence[float],
    progress: bool = True,
) -> tuple[list[dict[str, Any]], EvalResult]:
    """Figures per share of TRAIN (nested prefixes of one seeded shuffle); also the last run."""
    # Teams and priority scale come from the whole TRAIN: every point routes among the same teams.
    policy = build_policy(config, train)
    shuffled = list(train)
    random.Random(config.seed).shuffle(shuffled)
    points: list[dict[str, Any]] = []
    last: EvalResult | None = None
    embedder = eval_embedder(settings)  # each text is embedded once across the curve
    for share in shares:
        part = shuffled[: round(len(shuffled) * share)]
        if progress:
            print(f"learning curve: {share:.0%} of TRAIN ({len(part)} cases)", file=sys.stderr)
        last = run_eval(part, test, config, settings, progress, embedder=embedder, policy=policy)
        point: dict[str, Any] = {"share": share, "n_train": len(part)}
        point |= {key: last.metrics.get(key) for key in CURVE_KEYS}
        points.append(point)
    if last is None:
        raise ValueError("no shares given")
    return points, last


def write_curve(points: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """DIR/learning_curve.json and DIR/learning_curve.png."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = out_dir / "learning_curve.json"
    data.write_text(json.dumps(points, indent=2) + "\n", encoding="utf-8")
    png = out_dir / "learning_curve.png"
    png.write_bytes(plots.learning_curve(points))
    return [data, png]
