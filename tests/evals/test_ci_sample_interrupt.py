"""Ctrl-C stops python -m evals.ci_sample with one line and status 130, as it stops `triage`;
it printed KeyboardInterrupt's traceback from deep inside the embedding or the store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_an_interrupted_ci_sample_says_so_in_one_line(tmp_path: Path) -> None:
    source = tmp_path / "datasets" / "helpdesk_topics" / "dev.jsonl"
    source.parent.mkdir(parents=True)
    words = ["printer", "vpn", "invoice", "laptop", "password", "backup", "email", "wifi"]
    rows = [
        {
            "id": f"h{i}",
            "subject": f"{words[i % 8]} issue {i}",
            "body": f"the {words[i % 8]} fails again, case {i}, {words[(i * 7) % 8]} too",
            "labels": {"topic_group": words[i % 8]},
        }
        for i in range(4000)  # long enough to be interrupted while its suite runs
    ]
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    env = os.environ | {
        "PYTHONPATH": str(REPO),
        "TRIAGE_DATASETS_DIR": str(tmp_path / "datasets"),
    }
    argv = [sys.executable, "-m", "evals.ci_sample", "--out", str(tmp_path / "o")]
    process = subprocess.Popen(
        [*argv, "--only", "helpdesk_topics"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    for line in process.stderr:  # a warning may come first
        if line.strip() == "== helpdesk_topics":
            break
    time.sleep(2)  # inside the suite: sampling, embedding, routing
    process.send_signal(signal.SIGINT)
    err = process.stderr.read()
    assert process.wait(timeout=60) == 130
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == "ci_sample: interrupted"
