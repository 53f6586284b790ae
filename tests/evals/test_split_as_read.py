"""Split files hold the rows exactly as read."""

from __future__ import annotations

import json
from pathlib import Path

from evals.split import main

DEMO = Path(__file__).resolve().parents[2] / "agent" / "examples" / "demo_tickets.jsonl"


def test_split_writes_every_row_as_it_was_read(tmp_path: Path) -> None:
    extra = {
        "id": "X-1",
        "subject": "Café",
        "body": "b",
        "account_id": 4711,
        "created_at": "2024-05-01T09:00:00Z",
        "labels": {"team": "billing"},
    }
    source = tmp_path / "in.jsonl"
    source.write_text(DEMO.read_text(encoding="utf-8") + json.dumps(extra) + "\n", "utf-8")
    assert main([str(source), "--label", "team", "--out", str(tmp_path / "out")]) == 0
    written = [
        line
        for name in ("train.jsonl", "test.jsonl")
        for line in (tmp_path / "out" / name).read_text(encoding="utf-8").splitlines()
    ]
    assert sorted(written) == sorted(source.read_text(encoding="utf-8").splitlines())
