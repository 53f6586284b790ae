"""`triage keys ...` and `triage policy ...` need no server; the app then sees what they wrote."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from api_support import AppFactory

from agent.cli import main
from agent.errors import PolicyError
from agent.settings import EXAMPLES_DIR, get_settings
from api.db import Database
from api.policies import PolicyStore
from api.tables import PolicyRow, utcnow

REPO = Path(__file__).resolve().parents[2]


def test_keys_create_list_revoke(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    make_api: AppFactory,
) -> None:
    url = f"sqlite:///{tmp_path / 'keys.sqlite'}"
    monkeypatch.setenv("TRIAGE_DATABASE_URL", url)
    assert main(["keys", "list"]) == 0
    none = capsys.readouterr()  # no key yet: said on stderr, stdout stays a (empty) table
    assert none.out == "" and "no API keys" in none.err and "triage keys create" in none.err
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


def test_policy_activate_replaces_a_stored_policy_that_no_longer_validates(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    make_api: AppFactory,
) -> None:
    url = f"sqlite:///{tmp_path / 'policy.sqlite'}"
    monkeypatch.setenv("TRIAGE_DATABASE_URL", url)
    example = (EXAMPLES_DIR / "policy.yaml").read_text(encoding="utf-8")
    # stored by an older release that did not refuse a member listed twice
    twice = example.replace("    members:\n", "    members:\n      - {name: Lena Fischer}\n", 1)
    db = Database(url)
    db.migrate()
    with db.session() as session:
        session.add(
            PolicyRow(
                version=1,
                yaml_text=twice,
                fingerprint="old",
                active=True,
                created_by="file:policy.yaml",
                created_at=utcnow(),
            )
        )
    with pytest.raises(PolicyError, match="active policy, version 1 in the database, does not"):
        PolicyStore(db).active()
    assert main(["policy", "versions"]) == 0
    assert capsys.readouterr().out.startswith("1\tactive\told\tfile:policy.yaml\t")
    broken = tmp_path / "broken.yaml"
    broken.write_text(twice, encoding="utf-8")
    assert main(["policy", "activate", str(broken)]) == 1
    assert "lists 'Lena Fischer' again (members[0])" in capsys.readouterr().err
    fixed = tmp_path / "fixed.yaml"
    fixed.write_text(example, encoding="utf-8")
    assert main(["policy", "activate", str(fixed), "--author", "ana"]) == 0
    said = capsys.readouterr().err
    assert "activated policy version 2" in said
    # a running service takes it up without a restart, and the message says so
    assert "take it up within 5 s" in said and "when restarted" not in said
    view, _ = PolicyStore(db).active() or (None, None)
    assert view is not None and (view.version, view.created_by) == (2, "cli:ana")
    db.close()
    api = make_api(url, policy_check_s=0)
    body = api.client.get("/v1/policy", headers=api.auth("admin")).json()
    assert (body["version"], body["live"]) == (2, True)
    # activated while the service runs: the service takes it up (within policy_check_s)
    strict = example.replace("review_threshold: ", "review_threshold: 0.99 #", 1)
    (tmp_path / "strict.yaml").write_text(strict, encoding="utf-8")
    assert main(["policy", "activate", str(tmp_path / "strict.yaml")]) == 0
    said = capsys.readouterr().err
    assert "take it up within 5 s" in said and "restart" not in said
    body = api.client.get("/v1/policy", headers=api.auth("admin")).json()
    assert (body["version"], body["active"], body["live"]) == (3, True, True)
    listed = api.client.get("/v1/policy/versions", headers=api.auth("admin")).json()
    assert [(v["version"], v["live"]) for v in listed] == [(3, True), (2, False), (1, False)]
    assert api.services.engine.policy.review_threshold == 0.99


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql+psycopg://postgres@127.0.0.1:1/triage", "cannot reach the database"),
        ("postgres://postgres@127.0.0.1/triage", "TRIAGE_DATABASE_URL"),
        ("not a url", "TRIAGE_DATABASE_URL"),
    ],
)
def test_a_wrong_database_url_is_one_line_naming_it(
    url: str,
    expected: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRIAGE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TRIAGE_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        assert main(["keys", "list"]) == 1
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert err.startswith("triage: error: ") and err.count("\n") == 1, err
    assert expected in err


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("TRIAGE_INTAKE_QUEUE", "redis", "TRIAGE_INTAKE_QUEUE: Input should be 'embedded' or"),
        ("TRIAGE_CHROMA_PORT", "eighty", "TRIAGE_CHROMA_PORT: Input should be a valid integer"),
    ],
)
def test_a_setting_that_does_not_validate_is_one_line_naming_its_variable(
    name: str,
    value: str,
    expected: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRIAGE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        assert main(["keys", "list"]) == 1
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert err.startswith("triage: error: ") and err.count("\n") == 1, err
    assert expected in err and repr(value) in err
