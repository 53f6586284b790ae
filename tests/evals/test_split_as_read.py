"""Split files hold the rows exactly as read; TEST tickets carry the account's tier and region."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evals.datasets import read_rows, to_ticket
from evals.split import main

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "agent" / "examples" / "demo_tickets.jsonl"


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


def test_a_ticket_carries_the_account_objects_tier_and_region(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "subject": "s", "account": {"id": "ACC-1", "tier": "vip", "region": "emea"}},
        {"id": "b", "subject": "s", "account": {"id": "ACC-2", "tier": 2}},
        {"id": "c", "subject": "s", "account": "ACC-3"},
        {"id": "d", "subject": "s"},
    ]
    path = tmp_path / "a.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    accounts = [to_ticket(row).account for row in read_rows(path)]
    assert [(a.id, a.tier, a.region) for a in accounts] == [
        ("ACC-1", "vip", "emea"),
        ("ACC-2", "2", None),
        ("ACC-3", "standard", None),  # the Account's default, as the intake gives it
        (None, "standard", None),
    ]


def test_an_out_that_is_a_file_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # it was FileExistsError's traceback
    out = tmp_path / "out"
    out.write_text("a file", encoding="utf-8")
    assert main([str(DEMO), "--label", "team", "--out", str(out)]) == 1
    assert capsys.readouterr().err.strip() == f"split: error: --out {out}: File exists"
    assert out.read_text(encoding="utf-8") == "a file"


@pytest.mark.parametrize(
    ("share", "empty", "hint"), [("0.2", "TEST", "larger"), ("0.9", "TRAIN", "smaller")]
)
def test_a_split_that_leaves_a_side_empty_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], share: str, empty: str, hint: str
) -> None:
    # one row per label rounds to no TEST row (or no TRAIN row) for every label: an empty file
    # was written with exit status 0, and triage eval then said 'no tickets'
    source = tmp_path / "in.jsonl"
    rows = [{"id": f"r{i}", "subject": "s", "labels": {"team": f"t{i}"}} for i in range(3)]
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out"
    argv = [str(source), "--label", "team", "--out", str(out), "--test-share", share]
    assert main(argv) == 1
    assert capsys.readouterr().err.strip() == (
        f"split: error: the split leaves {empty} empty (3 rows, 3 labels, --test-share {share}); "
        f"give a {hint} one"
    )
    assert not out.exists()


def test_help_shows_the_example_commands_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ended:
        main(["--help"])
    assert ended.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    # each command on its own line, not reflowed into one paragraph with the next
    assert any(line.strip().startswith("python -m evals.split ../shared/") for line in lines)
    assert any(line.strip().startswith("triage eval --train") for line in lines)


SPLIT_WITH_A_FILE_SIZE_LIMIT = """
import resource, signal, sys
from evals.split import main

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
sys.exit(main(sys.argv[2:]))
"""


def test_a_split_that_fails_to_be_written_leaves_the_last_split_as_it_was(
    tmp_path: Path,
) -> None:
    # A full disk (here: a file size limit train.jsonl is over) cut train.jsonl short beside
    # the last split's test.jsonl; a new train.jsonl beside an old test.jsonl shares tickets
    source = tmp_path / "in.jsonl"
    source.write_text(DEMO.read_text(encoding="utf-8"), encoding="utf-8")
    out = tmp_path / "out"
    assert main([str(source), "--label", "team", "--out", str(out), "--seed", "0"]) == 0
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    limit = (len(before["train.jsonl"]) + len(before["test.jsonl"])) // 2
    assert len(before["test.jsonl"]) < limit < len(before["train.jsonl"])
    argv = [str(source), "--label", "team", "--out", str(out), "--seed", "1"]
    run = subprocess.run(
        [sys.executable, "-c", SPLIT_WITH_A_FILE_SIZE_LIMIT, str(limit), *argv],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(REPO)},
    )
    assert run.returncode == 1, run.stderr
    assert run.stderr.startswith("split: error: ") and "File too large" in run.stderr
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before
