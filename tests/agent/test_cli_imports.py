"""The `triage` command starts without the models: only the commands that use them import them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ["sklearn", "chromadb", "onnxruntime", "langgraph", "openai"]
PROBE = f"""
import json, sys
import agent.cli
agent.cli.build_parser()  # every sub-command's parser, as `triage --help` builds them
print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))
"""


def test_building_the_command_tree_imports_no_model_library() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
