"""Waking the intake workers of other processes at once when a ticket is queued.

A process whose workers wait on the embedded queue binds a Unix datagram socket in a directory
beside the database; a process that queues a ticket sends one byte to every socket there
("u" for an urgent ticket, "r" for a routine one). Without it a worker in another process
finds a new ticket only at its next poll (20-250 ms later). A datagram that cannot be sent
(a full buffer, a process gone) costs nothing: polling still finds the ticket, and the
socket of a dead process is removed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

MAX_PATH = 100  # a Unix socket path holds at most 104-108 bytes
LIST_EVERY_S = 1.0  # how long a listing of the listening processes is reused
URGENT, ROUTINE = b"u", b"r"


class WakeChannel:
    """One process's end: notify the others on a put; listen when this process has workers."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._own: Path | None = None
        self._listener: socket.socket | None = None
        self._sender: socket.socket | None = None
        self._peers: list[Path] = []
        self._listed_at = float("-inf")
        self._lock = threading.Lock()

    def listen(self, on_wake: Callable[[bool], None]) -> bool:
        """Bind this process's socket and call on_wake(urgent) for every datagram; False when
        the path is too long for a socket (the workers then poll)."""
        with self._lock:
            if self._listener is not None:
                return True
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / f"{os.getpid()}-{uuid.uuid4().hex[:8]}.sock"
            if len(str(path)) > MAX_PATH:
                log.info("intake wake-up socket path too long (%s); workers poll instead", path)
                return False
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            listener.bind(str(path))
            self._listener, self._own = listener, path
        threading.Thread(
            target=self._receive, args=(listener, on_wake), name="intake-wake", daemon=True
        ).start()
        return True

    def notify(self, urgent: bool) -> None:
        """Tell every other listening process that a ticket was queued."""
        peers = self._list()
        if not peers:
            return
        if self._sender is None:
            sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sender.setblocking(False)
            self._sender = sender
        for peer in peers:
            try:
                self._sender.sendto(URGENT if urgent else ROUTINE, str(peer))
            except BlockingIOError:
                continue  # its buffer is full: it is awake and busy
            except (ConnectionRefusedError, FileNotFoundError):
                with contextlib.suppress(OSError):
                    peer.unlink()  # left behind by a process that died
                self._listed_at = float("-inf")
            except OSError as exc:
                log.debug("intake wake-up to %s failed: %s", peer, exc)

    def close(self) -> None:
        """Stop listening and remove this process's socket."""
        with self._lock:
            listener, self._listener = self._listener, None
            own, self._own = self._own, None
        if listener is not None:
            listener.close()
        if own is not None:
            with contextlib.suppress(OSError):
                own.unlink()
        if self._sender is not None:
            self._sender.close()
            self._sender = None

    def _list(self) -> list[Path]:
        now = time.monotonic()
        if now - self._listed_at >= LIST_EVERY_S:
            try:
                found = sorted(self.directory.glob("*.sock"))
            except OSError:
                found = []
            self._peers = [p for p in found if p != self._own]
            self._listed_at = now
        return self._peers

    @staticmethod
    def _receive(listener: socket.socket, on_wake: Callable[[bool], None]) -> None:
        while True:
            try:
                data = listener.recv(16)
            except OSError:
                return  # closed
            on_wake(URGENT in data)
