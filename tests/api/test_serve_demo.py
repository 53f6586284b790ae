"""The README's run command: `triage serve --demo` on an empty data directory, used over HTTP."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from api_support import free_port


def _wait_healthy(base: str, within_s: float) -> None:
    """Poll /healthz until the service answers 200; fail after ``within_s``."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.5)
    pytest.fail(f"the service did not come up within {within_s:g} s")


@pytest.mark.slow
def test_serve_demo_seeds_data_prints_a_key_and_triages(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "TRIAGE_DATA_DIR": str(tmp_path / "data"), "TRIAGE_PORT": str(port)}
    server = subprocess.Popen(
        [sys.executable, "-m", "agent.cli", "serve", "--demo"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(base, 240)
        ticket = {"subject": "Docking station", "body": "My dock is not detected by the laptop."}
        assert httpx.post(f"{base}/v1/triage", json=ticket, timeout=30).status_code == 401
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    key = re.search(r"created admin key \S+ \(shown once\):\n\s+(\S+)", stderr)
    assert key, stderr
    # The key outlives the process: start again (no demo) and use it.
    env.pop("TRIAGE_PORT")
    server = subprocess.Popen(
        [sys.executable, "-m", "agent.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_healthy(base, 120)
        headers = {"Authorization": f"Bearer {key.group(1)}"}
        answer = httpx.post(f"{base}/v1/triage", json=ticket, headers=headers, timeout=60)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["team"] == "hardware"
        assert body["brief"]["similar"], "the demo knowledge base was seeded"
    finally:
        server.terminate()
        server.wait(timeout=30)
