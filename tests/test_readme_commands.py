"""README's commands run the project's modules with the project's virtualenv, as its setup
creates it and never activates it: a bare `python -m evals...` is whatever Python the shell has,
which lacks the project's dependencies and ends in a ModuleNotFoundError traceback."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("agent", "api", "evals", "knowledge")


def test_readme_runs_project_modules_with_the_venv_python() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    modules = "|".join(PACKAGES)
    runs = re.findall(rf"([\w./~-]*python3?) -m (?:{modules})\.", text)
    assert runs, "README names no project module to run"
    assert sorted(set(runs)) == [".venv/bin/python"]
