"""``triage eval``: route labelled tickets, write metrics and reports, gate against a baseline.

Exit status: 0 done, 1 error (one line), 2 usage, 3 a headline figure regressed beyond the
tolerance (or a scenario failed).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.settings import Settings
from evals.gate import (
    DEFAULT_TOLERANCE,
    HEADLINE_FIGURES,
    REGRESSION_EXIT,
    compare,
    load_metrics,
    tolerance_argument,
)

if TYPE_CHECKING:
    from evals.datasets import Row
    from evals.runner import EvalConfig, EvalResult

DEFAULT_CURVE = (0.0, 0.05, 0.10, 0.25, 0.50, 1.0)  # 0% is the cold start

SUMMARY = ("n", *HEADLINE_FIGURES)
CURVE_SHOWN = ("accuracy", "coverage", "ece")  # per point of a learning curve


def add_eval_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``eval`` on the ``triage`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "eval",
        help="measure routing on labelled tickets (JSONL), write reports, gate on a baseline",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--train", type=Path, help="TRAIN JSONL: the knowledge base's past cases")
    parser.add_argument("--test", type=Path, help="TEST JSONL: tickets routed as new")
    parser.add_argument("--label", help="key in `labels` holding the true team")
    parser.add_argument("--first-line", help="label value meaning 'stays with first line'")
    parser.add_argument("--priority-label", help="key in `labels` holding the true priority")
    parser.add_argument(
        "--limit", type=_positive, help="route at most N TEST tickets (seeded sample)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of every sample (default 0)")
    parser.add_argument("--policy", type=Path, help="policy YAML (default: neutral, TRAIN's teams)")
    parser.add_argument("--baseline", type=Path, help="metrics.json to gate against (exit 3)")
    parser.add_argument(
        "--tolerance",
        type=tolerance_argument,
        default=DEFAULT_TOLERANCE,
        help=f"allowed absolute drop of a headline figure (default {DEFAULT_TOLERANCE})",
    )
    parser.add_argument("--out", type=Path, help="output directory")
    parser.add_argument(
        "--feedback",
        action="store_true",
        help="resolve each TEST ticket after its decision: its true team joins the knowledge base "
        "before the next ticket and the router refits when due, as in service (routing with use)",
    )
    parser.add_argument(
        "--learning-curve",
        nargs="?",
        const=DEFAULT_CURVE,
        type=_percentages,
        metavar="PCTS",
        help="route with growing shares of TRAIN, in percent (default 0,5,10,25,50,100); "
        "plot into DIR/learning_curve.png. metrics.json, the reports and --baseline take the "
        "largest share's run (with --repeats: its shuffle of seed --seed)",
    )
    parser.add_argument(
        "--repeats",
        type=_positive,
        default=1,
        metavar="N",
        help="with --learning-curve: draw each share between 0 and 100 %% from N shuffles of TRAIN "
        "(seeds --seed, --seed + 1, ...) and report the mean and range (default 1)",
    )
    parser.add_argument(
        "--scenarios",
        type=Path,
        metavar="FILE",
        help="run a scenario suite (YAML) against --policy (default: example policy)",
    )
    parser.set_defaults(handler=cmd_eval, eval_parser=parser)
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _percentages(text: str) -> tuple[float, ...]:
    """``"40,60,100"`` as shares (0.4, 0.6, 1.0): ascending, each in 0..100."""
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        message = f"expected percentages like 25,50,100, got {text!r}"
        raise argparse.ArgumentTypeError(message) from None
    if any(not 0 <= v <= 100 for v in values):
        raise argparse.ArgumentTypeError(f"percentages must be within 0..100, got {text!r}")
    if values != sorted(set(values)):
        raise argparse.ArgumentTypeError(f"percentages must ascend without repeats: {text!r}")
    return tuple(v / 100 for v in values)


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    """Run the eval the arguments describe."""
    parser: argparse.ArgumentParser = args.eval_parser
    if args.scenarios is not None:
        from evals.scenarios import cmd_scenarios

        ignored = [
            f"--{name.replace('_', '-')}" for name in _NOT_FOR_SCENARIOS if _given(args, name)
        ]
        if ignored:
            parser.error(f"--scenarios takes only --policy and --out, not {', '.join(ignored)}")
        if args.out is not None:
            from evals.report import check_out_dir

            check_out_dir(args.out)  # before the suite, which would end in a traceback
        return cmd_scenarios(args, settings)
    missing = [
        f"--{name}" for name in ("train", "test", "label", "out") if getattr(args, name) is None
    ]
    if missing:
        parser.error(f"the following arguments are required: {', '.join(missing)}")
    if args.repeats > 1 and not args.learning_curve:
        parser.error("--repeats draws the shares of a --learning-curve; give one")
    return run_from_args(args, settings)


# What a labelled run takes and a scenario suite would ignore.
_NOT_FOR_SCENARIOS = (
    "train",
    "test",
    "label",
    "first_line",
    "priority_label",
    "limit",
    "seed",
    "baseline",
    "tolerance",
    "feedback",
    "learning_curve",
    "repeats",
)
_DEFAULTS = {"seed": 0, "tolerance": DEFAULT_TOLERANCE, "feedback": False, "repeats": 1}


def _given(args: argparse.Namespace, name: str) -> bool:
    return getattr(args, name) != _DEFAULTS.get(name)


def run_from_args(args: argparse.Namespace, settings: Settings) -> int:
    """Read the files, run (and the curve if asked), write the reports, apply the gate."""
    from evals.datasets import read_rows
    from evals.report import check_out_dir, write_reports
    from evals.report_rows import feedback_summary, unseen_note
    from evals.runner import EvalConfig, run_eval
    from evals.sandbox import eval_embedder

    check_out_dir(args.out)  # fail before a long run
    baseline = load_metrics(args.baseline) if args.baseline else None
    if args.baseline and args.baseline.resolve() == (args.out / "metrics.json").resolve():
        # each run then gates only against the last: a drop within the tolerance per run never fails
        print(
            f"warning: --baseline {args.baseline} is this run's metrics.json: it is replaced by "
            "this run's, so the next run is gated against this one, not the baseline",
            file=sys.stderr,
        )
    train, test = read_rows(args.train), read_rows(args.test)
    overlap = {r.id for r in train} & {r.id for r in test}
    if overlap:
        print(
            f"warning: {len(overlap)} TEST ids also in TRAIN (e.g. {min(overlap)!r})",
            file=sys.stderr,
        )
    config = EvalConfig(
        label=args.label,
        first_line=args.first_line,
        priority_label=args.priority_label,
        policy_path=args.policy,
        seed=args.seed,
        limit=args.limit,
        feedback=args.feedback,
        train_source=str(args.train),
        test_source=str(args.test),
    )
    progress = True  # a bar on a terminal, plain lines on stderr otherwise
    if args.learning_curve:
        result = _run_curve(args, train, test, config, settings)
    else:
        result = run_eval(
            train, test, config, settings, progress=progress, embedder=eval_embedder(settings)
        )
    verdict = compare(result.metrics, baseline, args.tolerance) if baseline is not None else None
    gate_lines = verdict.lines() if verdict is not None else []
    write_reports(result, args.out, gate_lines)
    print(" ".join(f"{k}={_f(result.metrics.get(k))}" for k in SUMMARY))
    spans = [
        f"{k} {span[0]:.4f}-{span[1]:.4f}"
        for k, span in (result.metrics.get("intervals") or {}).items()
        if span is not None
    ]
    if spans:
        print("95% intervals: " + ", ".join(spans))
    learned = feedback_summary(result.metrics)
    if learned:
        print(f"feedback: {learned}")
    print(f"reports in {args.out}/ (metrics.json, predictions.jsonl, report.md, report.html)")
    for path in _curve_files(args.out) if not args.learning_curve else ():
        if path.exists():  # kept, as another run's result, but it does not describe this one
            print(f"warning: {path} is an earlier run's; this run drew no curve", file=sys.stderr)
    unseen = unseen_note(result)
    if unseen:
        print(f"warning: {unseen}", file=sys.stderr)
    for line in gate_lines:
        print(line)
    return REGRESSION_EXIT if verdict is not None and not verdict.passed else 0


def _curve_files(out: Path) -> tuple[Path, Path]:
    return out / "learning_curve.json", out / "learning_curve.png"


def _run_curve(
    args: argparse.Namespace,
    train: Sequence[Row],
    test: Sequence[Row],
    config: EvalConfig,
    settings: Settings,
) -> EvalResult:
    """Run and print the learning curve; returns the largest share's run, for reports and gate."""
    from evals.learning_curve import learning_curve, percent, write_curve

    done: list[dict[str, Any]] = []

    def keep(points: list[dict[str, Any]]) -> None:
        write_curve(points, args.out)  # each share as it ends: a long curve cut short keeps them
        done[:] = points

    try:
        points, result = learning_curve(
            train, test, config, settings, args.learning_curve, repeats=args.repeats, on_point=keep
        )
    except KeyboardInterrupt:
        if done:
            print(
                f"learning curve: interrupted after {len(done)} of {len(args.learning_curve)} "
                f"shares; their points are in {args.out}/learning_curve.json and .png",
                file=sys.stderr,
            )
        raise
    for p in points:
        print(
            f"curve {percent(p['share']):>5} n_train={p['n_train']}: "
            + " ".join(f"{k} {_f(p[k])}{_span(p.get(f'{k}_range'))}" for k in CURVE_SHOWN)
        )
    run = result.metrics["run"]
    print(
        f"reports{' and gate' if args.baseline else ''}: the "
        f"{percent(run['learning_curve']['share'])} share's run (n_train={run['n_train']}, "
        f"seed {run['seed']})"
    )
    return result


def _span(values: list[float] | None) -> str:
    return f" ({values[0]:.4f}-{values[1]:.4f})" if values else ""


def _f(value: Any) -> str:
    if value is None:
        return "null"
    return f"{value:.4f}" if isinstance(value, float) else str(value)
