"""The worker process (api.intake.worker_main) reads the API's settings; its options override."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agent.policy import load_policy
from api.intake.standin import CheapStandInEngine
from api.intake.worker_main import (
    build_worker,
    parse,
    service_options,
    worker_options,
    worker_settings,
)


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """TRIAGE_* settings as an operator exports them for the API (no .env file around)."""
    monkeypatch.chdir(tmp_path)
    profiles = tmp_path / "profiles.yaml"
    values = {
        "TRIAGE_DATA_DIR": str(tmp_path / "env-data"),
        "TRIAGE_DATABASE_URL": "postgresql+psycopg://triage@db.example/triage",
        "TRIAGE_INTAKE_QUEUE": "rabbitmq",
        "TRIAGE_BROKER_URL": "amqp://triage:secret@broker.example:5672/%2F",
        "TRIAGE_BROKER_QUEUE": "prod.intake",
        "TRIAGE_INTAKE_MAX_ATTEMPTS": "2",
        "TRIAGE_INTAKE_BACKOFF_BASE_S": "7",
        "TRIAGE_INTAKE_BACKOFF_CAP_S": "60",
        "TRIAGE_INTAKE_LEASE_S": "30",
        "TRIAGE_INTAKE_QUEUE_SIZE": "50",
        "TRIAGE_INTAKE_PROFILES_PATH": str(profiles),
        "TRIAGE_INTAKE_WORKERS": "4",
        "TRIAGE_ADOPT_AFTER_S": "20",
        "TRIAGE_REPLAY_WAIT_S": "5",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return profiles


def test_the_worker_takes_the_settings_the_api_takes(environment: Path, tmp_path: Path) -> None:
    args = parse(["--data-dir", str(tmp_path / "data")])
    settings = worker_settings(args)
    options = worker_options(args, settings)
    assert settings.data_dir == tmp_path / "data"
    assert settings.sqlalchemy_url == "postgresql+psycopg://triage@db.example/triage"
    assert options.intake_max_attempts == 2
    assert (options.intake_backoff_base_s, options.intake_backoff_cap_s) == (7.0, 60.0)
    assert (options.intake_lease_s, options.intake_queue_size) == (30.0, 50)
    assert options.intake_profiles_path == environment
    assert (options.intake_queue, options.broker_queue) == ("rabbitmq", "prod.intake")
    assert options.broker_url == "amqp://triage:secret@broker.example:5672/%2F"
    assert options.intake_workers == 4


def test_command_line_options_override_the_settings(environment: Path, tmp_path: Path) -> None:
    argv = ["--database-url", f"sqlite:///{tmp_path / 'w.sqlite'}", "--queue", "embedded"]
    argv += ["--broker-queue", "bench.q", "--threads", "2", "--lease-s", "2"]
    args = parse([*argv, "--queue-size", "9"])
    settings = worker_settings(args)
    options = worker_options(args, settings)
    assert settings.data_dir == tmp_path / "env-data"
    assert settings.sqlalchemy_url == f"sqlite:///{tmp_path / 'w.sqlite'}"
    assert (options.intake_queue, options.broker_queue) == ("embedded", "bench.q")
    assert (options.intake_workers, options.intake_lease_s, options.intake_queue_size) == (2, 2, 9)
    assert options.intake_max_attempts == 2  # not given: still the setting


def test_a_worker_process_runs_workers_when_the_api_runs_none(
    environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIAGE_INTAKE_WORKERS", "0")  # the API process leaves them to this one
    args = parse([])
    assert worker_options(args, worker_settings(args)).intake_workers == 1


def test_the_worker_takes_the_service_settings_the_api_takes(
    environment: Path, tmp_path: Path
) -> None:
    environment.write_text("channels: {}\n", "utf-8")
    args = parse(["--database-url", f"sqlite:///{tmp_path / 'w.sqlite'}", "--queue", "embedded"])
    settings = worker_settings(args)
    engine = CheapStandInEngine(load_policy(settings.policy_path))
    services, _intake = build_worker(settings, engine, worker_options(args, settings))
    try:
        assert (services.options.adopt_after_s, services.options.replay_wait_s) == (20.0, 5.0)
        # Its runs show they are alive as often as the API processes' adoption expects.
        assert services.service.alive_every_s == 5.0
        assert not services.options.start_background
    finally:
        services.db.close()
    # Serving the API too (--serve), it adopts after the same bound and runs the background jobs.
    serving = service_options(settings, serving=True)
    assert (serving.adopt_after_s, serving.start_background) == (20.0, True)


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("TRIAGE_BROKER_URL", "amqp://guest:guest@127.0.0.1:1/%2F", "Connection refused"),
        ("TRIAGE_DATABASE_URL", "postgresql+psycopg://u@127.0.0.1:1/x", "Connection refused"),
    ],
)
def test_a_worker_process_with_a_wrong_url_stops_with_one_line(
    setting: str, value: str, expected: str, tmp_path: Path
) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(Path(__file__).resolve().parents[3]),
        "TRIAGE_DATA_DIR": str(tmp_path),
        "TRIAGE_INTAKE_QUEUE": "rabbitmq",
        setting: value,
    }
    done = subprocess.run(
        [sys.executable, "-m", "api.intake.worker_main", "--stand-in-delay-ms", "1"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("worker: error: ") and done.stderr.count("\n") == 1, done.stderr
    assert expected in done.stderr
    assert ":1" in done.stderr  # names where it looked
