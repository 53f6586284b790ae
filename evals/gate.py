"""The regression gate: headline figures of a run against a baseline metrics.json."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from agent.errors import InputError

# The headline figures, in report order: what the gate compares and the reports lead with.
HEADLINE_FIGURES = (
    "accuracy",
    "macro_f1",
    "coverage",
    "auto_accuracy",
    "escalation_accuracy",
    "escalate_decision_accuracy",
    "priority_accuracy",
    "ece",
)
DEFAULT_TOLERANCE = 0.02  # absolute: a drop of more than two points fails
LOWER_IS_BETTER = ("ece",)
HIGHER_IS_BETTER = tuple(f for f in HEADLINE_FIGURES if f not in LOWER_IS_BETTER)
REGRESSION_EXIT = 3
# What makes two runs comparable; a baseline that differs in any is compared, with a note.
RUN_KEYS = (
    "label",
    "first_line",
    "priority_label",
    "n_train",
    "n_test",
    "seed",
    "limit",
    "feedback",
)


class Verdict(BaseModel):
    """The gate's answer: every compared figure, and which regressed."""

    tolerance: float
    compared: dict[str, tuple[float, float]]
    regressed: list[str]
    unlike: list[str] = []  # how the baseline's run differs from this one

    @property
    def passed(self) -> bool:
        return not self.regressed

    def lines(self) -> list[str]:
        """One line per regressed figure, or one line saying the gate passed; first a note when
        the baseline ran on other data or settings."""
        note = (
            [f"note: the baseline is another kind of run ({', '.join(self.unlike)})"]
            if self.unlike
            else []
        )
        if self.passed:
            n, tol = len(self.compared), self.tolerance
            line = (
                f"gate passed: none of {n} figures is worse than the baseline by more than {tol:g}"
            )
            better = [
                f"{name} {base:.4f} to {now:.4f}"
                for name, (base, now) in self.compared.items()
                if _gain(name, base, now) > tol + 1e-12
            ]
            if better:
                line += f"; better by more than that: {', '.join(better)}"
            return [*note, line]
        out = note
        for name in self.regressed:
            base, now = self.compared[name]
            if math.isnan(now):
                out.append(
                    f"regression: {name} was {base:.4f} in the baseline and is not measured in "
                    "this run (its option was not given, or no ticket to measure it on)"
                )
                continue
            direction = "rose" if name in LOWER_IS_BETTER else "dropped"
            out.append(
                f"regression: {name} {direction} from {base:.4f} to {now:.4f} "
                f"(tolerance {self.tolerance:g})"
            )
        return out


def _gain(name: str, base: float, now: float) -> float:
    """How much better the figure is now than in the baseline (negative: worse)."""
    return (now - base) if name in HIGHER_IS_BETTER else (base - now)


def load_metrics(path: Path | str) -> dict[str, Any]:
    """Read a metrics.json whose headline figures are numbers or null; errors name the file."""
    path = Path(path)
    try:
        # utf-8-sig: a BOM (Notepad, PowerShell) is no part of the JSON
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read baseline: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: cannot read baseline: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a metrics object")
    for name in HEADLINE_FIGURES:
        value = data.get(name)
        if value is not None and not _is_figure(value):
            raise InputError(f"{path}: {name} must be a finite number or null, got {value!r}")
    if all(data.get(name) is None for name in HEADLINE_FIGURES):
        # nothing to compare: said now, not after the run, when compare() would refuse it
        raise InputError(
            f"{path}: none of the headline figures ({', '.join(HEADLINE_FIGURES)}) is a number; "
            "is it a metrics.json?"
        )
    return data


def _is_figure(value: Any) -> bool:
    # bool is an int to Python, and NaN compares false with anything: neither can be gated
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_tolerance(tolerance: float) -> float:
    """The tolerance if it is a finite number of at least 0 (NaN would let every figure pass)."""
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise InputError(f"tolerance must be a finite number of at least 0, got {tolerance}")
    return tolerance


def tolerance_argument(text: str) -> float:
    """``--tolerance`` as argparse reads it: a usage error unless a finite number of at least 0."""
    try:
        return check_tolerance(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def compare(
    metrics: dict[str, Any], baseline: dict[str, Any], tolerance: float = DEFAULT_TOLERANCE
) -> Verdict:
    """Compare the figures the baseline has; worse by more than the tolerance is a regression."""
    check_tolerance(tolerance)
    compared: dict[str, tuple[float, float]] = {}
    regressed: list[str] = []
    for name in (*HIGHER_IS_BETTER, *LOWER_IS_BETTER):
        base, now = baseline.get(name), metrics.get(name)
        if base is None:
            continue
        if now is None or not _is_figure(now):
            # The baseline measured it and this run cannot: treat as a regression, not a pass
            # (NaN, too: compared with anything it is never worse, and would pass).
            compared[name] = (float(base), float("nan"))
            regressed.append(name)
            continue
        compared[name] = (float(base), float(now))
        if -_gain(name, base, now) > tolerance + 1e-12:
            regressed.append(name)
    if not compared:
        raise InputError("baseline has none of the headline figures; is it a metrics.json?")
    ours, theirs = metrics.get("run") or {}, baseline.get("run") or {}
    unlike = [
        f"{key} {theirs.get(key)} vs {ours.get(key)}"
        for key in RUN_KEYS
        if theirs and ours and theirs.get(key) != ours.get(key)
    ]
    return Verdict(tolerance=tolerance, compared=compared, regressed=regressed, unlike=unlike)
