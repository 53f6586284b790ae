"""`triage keys ...` works with no server: the printed key then authenticates against the app."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from api_support import AppFactory

from agent.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_keys_create_list_revoke(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    make_api: AppFactory,
) -> None:
    url = f"sqlite:///{tmp_path / 'keys.sqlite'}"
    monkeypatch.setenv("TRIAGE_DATABASE_URL", url)
    assert main(["keys", "create", "--role", "specialist", "--name", "ana"]) == 0
    out = capsys.readouterr()
    key = out.out.strip()
    assert key.startswith("trk_") and "\n" not in key
    assert key not in out.err
    assert main(["keys", "list"]) == 0
    listed = capsys.readouterr().out
    assert "specialist\tana" in listed
    assert key not in listed
    key_id = listed.split("\t")[0]

    api = make_api(url)
    headers = {"Authorization": f"Bearer {key}"}
    assert api.client.get("/v1/kpis", headers=headers).status_code == 200
    assert main(["keys", "revoke", key_id]) == 0
    assert api.client.get("/v1/kpis", headers=headers).status_code == 401
    assert main(["keys", "revoke", "nope"]) == 1
    assert main(["keys", "create", "--role", "admin"]) == 0


def test_keys_create_as_a_process_prints_only_the_key(tmp_path: Path) -> None:
    env = {"TRIAGE_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "agent.cli", "keys", "create", "--role", "helpdesk"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=True,
    )
    assert done.stdout.count("\n") == 1
    assert done.stdout.startswith("trk_")
    assert (tmp_path / "triage.sqlite").exists()
