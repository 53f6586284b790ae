"""The CI eval: a small fixed sample of each shared dataset, gated against committed baselines.

    python -m evals.ci_sample --out DIR [--baselines evals/baselines] [--write-baselines]

Per dataset at most 2,000 TRAIN and 300 TEST tickets, disjoint, drawn with a fixed seed from
``<repo>/../shared/datasets/<name>/dev.jsonl`` (or ``$TRIAGE_DATASETS_DIR``). Outputs go to
``DIR/<name>/``; each run is gated against ``<baselines>/ci-<name>.json``, which must exist
(``--write-baselines`` measures it). Exit status: 0 passed, 1 error, 2 usage, 3 a figure regressed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from agent.errors import InputError, TriageError
from agent.settings import Settings
from evals.datasets import disjoint_sample, read_rows
from evals.gate import (
    DEFAULT_TOLERANCE,
    HEADLINE_FIGURES,
    REGRESSION_EXIT,
    compare,
    load_metrics,
    tolerance_argument,
)
from evals.report import check_out_dir, write_reports
from evals.runner import EvalConfig, run_eval
from evals.sandbox import eval_embedder

REPO = Path(__file__).resolve().parent.parent
BASELINES = REPO / "evals" / "baselines"
N_TRAIN, N_TEST, SEED = 2_000, 300, 7


class Suite(BaseModel):
    """How one dataset is evaluated: the same arguments `triage eval` would get."""

    name: str
    label: str
    first_line: str | None = None
    priority_label: str | None = None


SUITES = (
    Suite(name="it_incidents", label="assignment_group", first_line="GRP_0"),
    Suite(name="support_multilang", label="queue", priority_label="priority"),
    Suite(name="helpdesk_topics", label="topic_group"),
)
FIGURES = HEADLINE_FIGURES


def datasets_dir() -> Path:
    """The shared datasets folder beside the checkout, unless the environment names another."""
    return Path(os.environ.get("TRIAGE_DATASETS_DIR") or REPO.parent / "shared" / "datasets")


def load_baseline(suite: Suite, baselines: Path, write: bool) -> dict[str, Any] | None:
    """The suite's baseline metrics (None when this run writes them); InputError when it has
    none: run ungated, its figures could not fail the gate and the command would pass."""
    path = baselines / f"ci-{suite.name}.json"
    if write:
        return None
    if not path.exists():
        raise InputError(
            f"no baseline for {suite.name} ({path} not found); measure one with --write-baselines"
        )
    return load_metrics(path)


def dataset_file(suite: Suite) -> Path:
    """The suite's dataset file; InputError when it is not there."""
    source = datasets_dir() / suite.name / "dev.jsonl"
    if not source.exists():
        raise InputError(f"{source}: dataset not found (set TRIAGE_DATASETS_DIR)")
    return source


def run_suite(
    suite: Suite,
    out: Path,
    baselines: Path,
    tolerance: float,
    write: bool,
    base: dict[str, Any] | None,
) -> list[str]:
    """Sample, run, report and gate one dataset against ``base`` (read by ``load_baseline``
    before the first suite runs); returns the gate's lines."""
    baseline = baselines / f"ci-{suite.name}.json"
    source = dataset_file(suite)
    train, test = disjoint_sample(read_rows(source), suite.label, N_TRAIN, N_TEST, SEED)
    config = EvalConfig(
        label=suite.label,
        first_line=suite.first_line,
        priority_label=suite.priority_label,
        seed=SEED,
        train_source=f"{suite.name}/dev.jsonl (train sample)",
        test_source=f"{suite.name}/dev.jsonl (test sample)",
    )
    settings = Settings(llm_when="never")  # CI runs without a key; the LLM is measured elsewhere
    # Vectors only (keyed by text hash) under the data directory: reruns skip the embedding.
    embedder = eval_embedder(settings)
    result = run_eval(train, test, config, settings, progress=True, embedder=embedder)
    lines: list[str] = []
    if base is not None:
        verdict = compare(result.metrics, base, tolerance)
        lines = [f"{suite.name}: {line}" for line in verdict.lines()]
    write_reports(result, out / suite.name, lines)
    if write:
        baselines.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / suite.name / "metrics.json", baseline)
        lines = [f"{suite.name}: baseline written to {baseline}"]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Run every suite; exit 3 when any headline figure regressed."""
    parser = argparse.ArgumentParser(
        prog="python -m evals.ci_sample",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument(
        "--baselines", type=Path, default=BASELINES, help="folder of ci-<name>.json"
    )
    parser.add_argument("--tolerance", type=tolerance_argument, default=DEFAULT_TOLERANCE)
    parser.add_argument("--write-baselines", action="store_true", help="store this run as baseline")
    parser.add_argument(
        "--only", action="append", choices=[s.name for s in SUITES], help="a subset"
    )
    args = parser.parse_args(argv)
    started, lines, table = time.perf_counter(), [], []
    done: list[str] = []
    try:
        check_out_dir(args.out)
        suites = [s for s in SUITES if not args.only or s.name in args.only]
        # every suite's inputs before the first runs: each takes minutes
        bases = {s.name: load_baseline(s, args.baselines, args.write_baselines) for s in suites}
        for suite in suites:
            dataset_file(suite)
        for suite in suites:
            t0 = time.perf_counter()
            print(f"== {suite.name}", file=sys.stderr, flush=True)
            lines += run_suite(
                suite,
                args.out,
                args.baselines,
                args.tolerance,
                args.write_baselines,
                bases[suite.name],
            )
            metrics = load_metrics(args.out / suite.name / "metrics.json")
            table.append(_row(suite.name, metrics, time.perf_counter() - t0))
            done.append(suite.name)
    except TriageError as exc:
        print(f"ci_sample: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # the suites done so far have their reports in --out; the rest, none
        finished = f"; reports of {', '.join(done)} in {args.out}" if done else ""
        print(f"ci_sample: interrupted{finished}", file=sys.stderr)
        return 130
    summary = _summary(table, time.perf_counter() - started)
    (args.out / "summary.md").write_text(summary + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    print(summary)
    print("\n".join(lines))
    return REGRESSION_EXIT if any(": regression:" in line for line in lines) else 0


def _row(name: str, metrics: dict[str, object], seconds: float) -> list[str]:
    cells = [name]
    for key in FIGURES:
        value = metrics.get(key)
        cells.append(f"{value:.3f}" if isinstance(value, float) else "n/a")
    return [*cells, f"{seconds:.0f}"]


def _summary(table: list[list[str]], seconds: float) -> str:
    head = ["dataset", *FIGURES, "seconds"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in table]
    return "\n".join([*lines, "", f"total {seconds:.0f} s"])


if __name__ == "__main__":
    raise SystemExit(main())
