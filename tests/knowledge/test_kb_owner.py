"""One process at a time writes an embedded knowledge base: a `triage kb ingest` beside a running
service is refused, naming the service, and stores nothing; reading beside it works; a service
that ends, however it ends, leaves the knowledge base free."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from kb_cli_support import run_kb

from agent.errors import ConflictError, InputError
from agent.settings import Settings
from knowledge.kb import KnowledgeBase
from knowledge.owner import LOCK_FILE, claim
from knowledge.store import ChromaCaseStore

REPO = Path(__file__).resolve().parents[2]


def _export(path: Path, prefix: str, n: int = 3) -> Path:
    records = [
        {"id": f"{prefix}{i}", "body": f"vpn tunnel drops {prefix} {i}", "labels": {"g": "net"}}
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _triage(data_dir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRIAGE_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _count(settings: Settings) -> int:
    kb = KnowledgeBase.open(settings, with_router=False)
    try:
        return kb.store.count()
    finally:
        kb.close()


def _claim_elsewhere(directory: Path) -> subprocess.CompletedProcess[str]:
    """Another process claims the directory and ends."""
    script = "from pathlib import Path; from knowledge.owner import claim; claim(Path(r'%s'))"
    return subprocess.run(
        [sys.executable, "-c", script % directory],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_claims_in_one_process_are_counted_and_another_process_is_refused(tmp_path: Path) -> None:
    first, second = claim(tmp_path), claim(tmp_path)
    refused = _claim_elsewhere(tmp_path)
    assert refused.returncode == 1 and "ConflictError" in refused.stderr
    assert f"in use by pid {os.getpid()}" in refused.stderr
    first.release()
    first.release()  # a second release of one claim gives back nothing more
    assert _claim_elsewhere(tmp_path).returncode == 1, "this process's other claim holds it"
    second.release()
    free = _claim_elsewhere(tmp_path)
    assert free.returncode == 0, free.stderr


def test_a_store_that_does_not_open_leaves_the_knowledge_base_free(tmp_path: Path) -> None:
    ChromaCaseStore.open(Settings(data_dir=tmp_path)).close()
    with pytest.raises(ConflictError, match="holds minilm-int8 embeddings"):
        ChromaCaseStore.open(Settings(data_dir=tmp_path, embedding_model="e5-small-multilingual"))
    free = _claim_elsewhere(tmp_path / "kb")
    assert free.returncode == 0, free.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_ingest_beside_a_running_service_is_refused_and_stores_nothing(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    settings = Settings(data_dir=data)
    assert (
        run_kb(["kb", "ingest", str(_export(tmp_path / "a.jsonl", "A")), "--label", "g"], settings)
        == 0
    )
    port = _free_port()
    env = {**os.environ, "TRIAGE_DATA_DIR": str(data), "PYTHONPATH": str(REPO)}
    server = subprocess.Popen(
        [sys.executable, "-m", "agent.cli", "serve", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, "the service stopped at start"
            assert time.monotonic() < deadline, "the service did not come up"
            time.sleep(0.3)

        more = _export(tmp_path / "b.jsonl", "B")
        refused = _triage(data, "kb", "ingest", str(more), "--label", "g")
        assert refused.returncode == 1 and refused.stdout == ""
        assert f"in use by pid {server.pid} (" in refused.stderr
        assert "stop the service, ingest, and start it again" in refused.stderr
        # reading beside the service works
        stats = _triage(data, "kb", "stats")
        assert stats.returncode == 0 and "cases: 3" in stats.stdout, stats.stderr
        search = _triage(data, "kb", "search", "vpn tunnel drops")
        assert search.returncode == 0 and "A0" in search.stdout, search.stderr
        # as does routing one ticket, as the README shows it beside `triage serve --demo`
        ticket = tmp_path / "ticket.json"
        ticket.write_text(json.dumps({"subject": "vpn tunnel drops A 1"}), encoding="utf-8")
        routed = _triage(data, "route", str(ticket))
        assert routed.returncode == 0, routed.stderr
        assert "A1" in {case["case_id"] for case in json.loads(routed.stdout)["brief"]["similar"]}

        server.send_signal(signal.SIGKILL)  # a crash: the lock goes with the process
        server.wait(timeout=30)
        done = _triage(data, "kb", "ingest", str(more), "--label", "g")
        assert done.returncode == 0 and "added 3" in done.stdout, done.stderr
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=30)
    assert _count(settings) == 6


def test_a_service_does_not_start_while_an_ingest_holds_the_knowledge_base(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path)
    settings.ensure_dirs()
    held = claim(settings.kb_dir)  # as a `triage kb ingest` running in this process would
    try:
        refused = _triage(tmp_path, "serve", "--port", str(_free_port()))
    finally:
        held.release()
    assert refused.returncode == 1
    assert "triage: error: the knowledge base " in refused.stderr
    assert f"in use by pid {os.getpid()}" in refused.stderr


def test_without_posix_locks_the_knowledge_base_still_opens(tmp_path: Path) -> None:
    # Windows has no fcntl: the store opens and claims are counted in the process, as the
    # database's own cross-process lock degrades there (api.db).
    script = (
        "import sys; sys.modules['fcntl'] = None\n"
        "from pathlib import Path\n"
        "from knowledge.owner import claim\n"
        f"first = claim(Path(r'{tmp_path}')); second = claim(Path(r'{tmp_path}'))\n"
        "first.release(); second.release(); print('claimed')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout == "claimed\n", done.stderr


def test_a_lock_file_that_cannot_be_created_or_written_is_one_line_naming_it(
    tmp_path: Path,
) -> None:
    # these fail for root too: a regular file where a directory should be, a device that is full
    in_the_way = tmp_path / "data"
    in_the_way.write_text("not a directory\n", encoding="utf-8")
    with pytest.raises(InputError) as not_a_dir:
        claim(in_the_way / "kb")
    assert str(not_a_dir.value).startswith(
        f"cannot lock the knowledge base {in_the_way / 'kb'}: {in_the_way / 'kb' / LOCK_FILE}: "
        "Not a directory; a process that writes the knowledge base needs its directory writable"
    )
    full = tmp_path / "full"
    full.mkdir()
    (full / LOCK_FILE).symlink_to("/dev/full")
    with pytest.raises(InputError, match=f"cannot lock the knowledge base {full}: "):
        claim(full)
    (full / LOCK_FILE).unlink()
    claim(full).release()  # the failed claim kept nothing: the directory can be claimed


def test_an_ingest_whose_lock_file_cannot_be_created_says_so_on_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "kb" / LOCK_FILE).mkdir(parents=True)  # a directory where the lock file goes
    refused = _triage(data, "kb", "ingest", str(_export(tmp_path / "a.jsonl", "A")), "--label", "g")
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr == (
        f"triage: error: cannot lock the knowledge base {data / 'kb'}: "
        f"{data / 'kb' / LOCK_FILE}: Is a directory; a process that writes the knowledge base "
        "needs its directory writable (set TRIAGE_DATA_DIR to a writable directory on a local "
        "disk)\n"
    )
