"""The wheel ships every file the product reads at run time, so a plain `pip install` works too.

The policy, the demo tickets, the prompt templates, the scenario suite, the tokenizer and the RT
setup files are read from beside the code; a wheel that drops one starts and then fails on first use
(the example policy once lived outside the packages and `triage route` could not find it).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("agent", "knowledge", "api", "evals", "prompts")


def _tracked() -> list[str]:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs a git checkout to know which files are the project's")
    out = subprocess.run(
        ["git", "ls-files", *PACKAGES], cwd=REPO, capture_output=True, text=True, check=True
    )
    return [line for line in out.stdout.splitlines() if line]


def test_the_wheel_holds_every_file_of_the_packages(tmp_path: Path) -> None:
    tracked = _tracked()
    source = tmp_path / "src"  # a clean copy: no build/ or egg-info of the checkout leaks in
    for name in [*tracked, "pyproject.toml", "README.md"]:
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / name, target)
    dist = tmp_path / "dist"
    build = [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--quiet"]
    subprocess.run(
        [*build, "--no-build-isolation", "--wheel-dir", str(dist)],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    missing = [name for name in tracked if name not in shipped]
    assert not missing, f"not in the wheel: {missing}"
    for needed in (
        "agent/examples/policy.yaml",
        "agent/examples/demo_tickets.jsonl",
        "prompts/classify.v1.md",
        "evals/scenarios/example.yaml",
    ):
        assert needed in shipped
