"""Where `.ci/rt` keeps its state and what it wrote there (RT_URL, RT_TOKEN, RT_HOOK_FILE)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def state_dir() -> Path:
    """TRIAGE_RT_DIR, else $TMPDIR/triage-rt (the script's default)."""
    default = Path(os.environ.get("TMPDIR", tempfile.gettempdir())) / "triage-rt"
    return Path(os.environ.get("TRIAGE_RT_DIR", default))


def read_env(directory: Path | None = None) -> dict[str, str]:
    """The key=value lines of rt.env."""
    path = (directory or state_dir()) / "rt.env"
    lines = path.read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)
