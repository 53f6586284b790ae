"""The process's SQLite write lock: handed over at once, urgent writers first."""

from __future__ import annotations

import threading
from contextlib import nullcontext

from api.db import WriteLock, urgent_writes


def _queued(lock: WriteLock, count: int) -> bool:
    for _ in range(200):
        if lock.queued == count:
            return True
        threading.Event().wait(0.01)
    return False


def test_a_released_write_lock_goes_to_the_urgent_writer_first() -> None:
    lock = WriteLock()
    assert lock.acquire()
    order: list[str] = []

    def writer(name: str, urgent: bool) -> None:
        with urgent_writes() if urgent else nullcontext():
            took = lock.acquire()
        order.append(name if took else f"{name} without the lock")
        lock.release()

    routine = threading.Thread(target=writer, args=("routine", False))
    routine.start()
    assert _queued(lock, 1)
    urgent = threading.Thread(target=writer, args=("urgent", True))
    urgent.start()
    assert _queued(lock, 2)
    lock.release()
    routine.join(5)
    urgent.join(5)
    assert order == ["urgent", "routine"]


def test_a_writer_that_gives_up_waiting_leaves_the_queue() -> None:
    lock = WriteLock(wait_s=0.05)
    assert lock.acquire()
    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(lock.acquire()))
    waiter.start()
    waiter.join(5)
    assert result == [False] and lock.queued == 0
    lock.release()
    assert lock.acquire()  # free again, not handed to the writer that left


def test_writers_of_two_processes_take_turns_at_the_file_lock(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys
    import time

    from api.db import ProcessLock

    path = tmp_path / "db.sqlite.writelock"
    here = WriteLock(across=ProcessLock(path))
    assert here.acquire()
    code = (
        "import time; from pathlib import Path; from api.db import ProcessLock, WriteLock\n"
        f"lock = WriteLock(across=ProcessLock(Path({str(path)!r})))\n"
        "print('waiting', flush=True); lock.acquire(); print(time.monotonic()); lock.release()"
    )
    other = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert other.stdout is not None
    # a slow machine may take a while to start Python and import: wait for the child, not a clock
    assert other.stdout.readline() == "waiting\n"
    time.sleep(0.5)
    assert other.poll() is None  # still waiting: this process holds the lock
    released_at = time.monotonic()  # one clock for every process on Linux
    here.release()
    out, _ = other.communicate(timeout=20)
    assert float(out) >= released_at  # it got the lock only once this process let go
