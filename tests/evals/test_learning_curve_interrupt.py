"""A learning curve cut short by Ctrl-C keeps the shares it finished: their points are written as
each ends, and the command says where. All of them were lost with the run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WORDS = ["printer", "vpn", "invoice", "laptop", "password", "backup", "email", "wifi"]


def write(path: Path, n: int, offset: int) -> Path:
    rows = [
        {
            "id": f"r{offset + i}",
            "subject": f"{WORDS[i % 8]} issue {offset + i}",
            "body": f"the {WORDS[i % 8]} fails again, case {offset + i}, {WORDS[(i * 7) % 8]} too",
            "labels": {"team": WORDS[i % 8]},
        }
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_an_interrupted_curve_keeps_the_shares_it_finished(tmp_path: Path) -> None:
    train, test = write(tmp_path / "train.jsonl", 3000, 0), write(tmp_path / "test.jsonl", 40, 9000)
    out = tmp_path / "out"
    argv = ["eval", "--train", str(train), "--test", str(test), "--label", "team"]
    code = "import sys; from agent.cli import main; sys.exit(main(sys.argv[1:]))"
    process = subprocess.Popen(
        [sys.executable, "-c", code, *argv, "--learning-curve", "0,1,100", "--out", str(out)],
        cwd=tmp_path,
        env=os.environ | {"PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    for line in process.stderr:
        if line.startswith("learning curve: 100% of TRAIN"):  # ingesting 3,000 cases
            break
    process.send_signal(signal.SIGINT)
    err = process.stderr.read()
    assert process.wait(timeout=120) == 130
    assert err.strip().splitlines()[-2:] == [
        f"learning curve: interrupted after 2 of 3 shares; their points are in {out}/"
        "learning_curve.json and .png",
        "triage: interrupted",
    ]
    points = json.loads((out / "learning_curve.json").read_text(encoding="utf-8"))
    assert [(p["share"], p["n_train"]) for p in points] == [(0.0, 0), (0.01, 30)]
    assert (out / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
