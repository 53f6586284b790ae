"""One process at a time writes an embedded knowledge base.

Embedded Chroma keeps each collection's search index (HNSW) in the memory of every process that
opens it and writes it back to the same files. Measured on chromadb 1.5.9 through ChromaCaseStore
(2,000 cases stored by a long-running process, then 1,500 added beside it by a second one): the
first process found none of the new cases by search, and its read of every case with its
embedding (what a refit reads) failed with InternalError 'Error finding id'; once it had stored
1,500 cases of its own it wrote back its index without the second one's: after a restart none of
10 sampled was found by search, though all were still counted.

So a process that opens the embedded store to write holds an exclusive lock on the knowledge base
directory until it closes it (the operating system lets go when the process ends, however it
ends), and another process that wants to write is refused with who holds it. Within one process
the claims are counted: its stores share one Chroma client and one index.
"""

from __future__ import annotations

import os
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from agent.errors import ConflictError, InputError

try:
    import fcntl
except ImportError:  # not POSIX: claims are counted in this process only, as api.db's lock
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = "owner.lock"

_guard = threading.Lock()
_held: dict[Path, list[int]] = {}  # directory -> [file descriptor, claims in this process]


class Claim:
    """This process's hold on a knowledge base directory; ``release`` once when done with it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._released = False

    def release(self) -> None:
        """Give the claim back; the lock goes with this process's last claim."""
        with _guard:
            if self._released:
                return
            self._released = True
            held = _held[self.directory]
            held[1] -= 1
            if held[1] == 0:
                del _held[self.directory]
                os.close(held[0])  # closing the descriptor releases the lock


def claim(directory: Path) -> Claim:
    """Hold the knowledge base in ``directory`` for this process; ConflictError naming the
    process that holds it when another one does, InputError when its lock file cannot be
    written."""
    key = directory.resolve()
    with _guard:
        if key in _held:
            _held[key][1] += 1
            return Claim(key)
        try:
            fd = os.open(key / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:  # a read-only disk, no permission, a file in the way
            raise InputError(_unwritable(key, exc)) from None
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise ConflictError(_refusal(key, holder)) from None
        except OSError as exc:  # a file system without locks (some network mounts)
            os.close(fd)
            raise InputError(_unwritable(key, exc)) from None
        try:
            os.ftruncate(fd, 0)
            os.write(fd, _describe_self().encode("utf-8"))
        except OSError as exc:  # a full disk: the next refused process could not be told who
            os.close(fd)
            raise InputError(_unwritable(key, exc)) from None
        _held[key] = [fd, 1]
        return Claim(key)


def _describe_self() -> str:
    command = " ".join(Path(sys.argv[0]).name if i == 0 else a for i, a in enumerate(sys.argv))
    since = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"pid {os.getpid()} ({command[:120]}) since {since}"


def _holder(fd: int) -> str:
    text = os.pread(fd, 512, 0).decode("utf-8", errors="replace").strip()
    return text or "another process"


def _unwritable(directory: Path, exc: OSError) -> str:
    return (
        f"cannot lock the knowledge base {directory}: {directory / LOCK_FILE}: "
        f"{exc.strerror or exc}; a process that writes the knowledge base needs its directory "
        "writable (set TRIAGE_DATA_DIR to a writable directory on a local disk)"
    )


def _refusal(directory: Path, holder: str) -> str:
    return (
        f"the knowledge base {directory} is in use by {holder}: embedded Chroma takes one "
        "writing process at a time (a second one's cases go missing from the first one's search "
        "index). Let that process finish or stop it, then run this again; to add cases to a "
        "running service's knowledge base, stop the service, ingest, and start it again, or run "
        "a Chroma server that both use (TRIAGE_CHROMA_MODE=http)"
    )
