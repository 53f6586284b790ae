"""What a refit of the learned router did, as people read it (``triage kb refit``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# what each model of the router predicts, in the words of the summary
TARGET_NAMES = {"team": "team", "priority": "priority"}
SHOWN_TEAMS = 12


def refit_summary(report: Mapping[str, Any], teams: Mapping[str, int]) -> str:
    """The router fitted, on how many cases, per model its classes and validation figures, and
    the stored cases per team; the stacker's raw weights are left to the model files."""
    seconds = report.get("fit_seconds")
    took = f" in {seconds} s" if seconds is not None else ""
    version = report.get("version", "(unversioned)")
    cases = report.get("n", report.get("cases", "?"))
    lines = [f"router {version} fitted on {cases} cases{took}"]
    for target, name in TARGET_NAMES.items():
        model = report.get(target)
        if isinstance(model, Mapping):
            lines.extend(_model_lines(name, model))
    known = {"n", "cases", "version", "fit_seconds", *TARGET_NAMES}
    lines.extend(f"{key}: {value}" for key, value in report.items() if key not in known)
    labelled = {team: n for team, n in teams.items() if team != "(none)"}
    if labelled:
        shown = ", ".join(f"{team} {n}" for team, n in list(labelled.items())[:SHOWN_TEAMS])
        more = f" (+{len(labelled) - SHOWN_TEAMS} more)" if len(labelled) > SHOWN_TEAMS else ""
        lines.append(f"cases per team ({len(labelled)} teams): {shown}{more}")
    return "\n".join(lines)


def _model_lines(name: str, model: Mapping[str, Any]) -> list[str]:
    if not model.get("n"):
        return [f"{name} model: {model.get('mode', 'not learned')}"]
    classes = model.get("classes")
    kinds = f", {classes} {'teams' if name == 'team' else 'levels'}" if classes is not None else ""
    lines = [f"{name} model: {model.get('n', 0)} labelled cases{kinds}; {model.get('mode', '-')}"]
    if "validation_accuracy" in model:
        figures = [f"accuracy {model['validation_accuracy']:.1%}"]
        if "meta_rows" in model:
            figures[0] += f" on {model['meta_rows']} cross-validated cases"
        if "ece" in model:
            figures.append(f"calibration error (ECE) {model['ece']}")
        if "temperature" in model:
            figures.append(f"temperature {model['temperature']}")
        lines.append(f"  validation: {', '.join(figures)}")
    return lines
