"""A proxy in front of the test broker, to make it act as a broker in trouble (imported by module
name by the RabbitMQ tests)."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

METHOD, FRAME_END = 1, b"\xce"
OPEN_OK, PUBLISH = (10, 41), (60, 40)


def _frame(sock: socket.socket) -> bytes | None:
    """One whole AMQP frame read off the socket (the protocol header as it is); None at EOF."""
    head = _exactly(sock, 7)
    if head is None or head.startswith(b"AMQP"):
        return head if head is None else head + (_exactly(sock, 1) or b"")
    size = struct.unpack(">I", head[3:7])[0]
    rest = _exactly(sock, size + 1)
    return None if rest is None else head + rest


def _exactly(sock: socket.socket, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        try:
            chunk = sock.recv(n - len(data))
        except OSError:
            return None
        if not chunk:
            return None
        data += chunk
    return data


def _method(frame: bytes) -> tuple[int, int] | None:
    if frame[0] != METHOD or len(frame) < 11:
        return None
    class_id, method_id = struct.unpack(">HH", frame[7:11])
    return class_id, method_id


def _blocked_frame(reason: bytes = b"low on memory") -> bytes:
    payload = struct.pack(">HHB", 10, 60, len(reason)) + reason
    return struct.pack(">BHI", METHOD, 0, len(payload)) + payload + FRAME_END


class _Link:
    """One client connection through the proxy."""

    def __init__(self, proxy: BrokerProxy, client: socket.socket) -> None:
        self.proxy, self.client = proxy, client
        self.broker = socket.create_connection(("127.0.0.1", 5672))
        self.write = threading.Lock()
        self.open = False
        self.told = False
        for pump in (self._down, self._up):
            threading.Thread(target=pump, daemon=True).start()

    def tell_blocked(self) -> None:
        with self.write:
            if self.open and not self.told:
                self.told = True
                self.client.sendall(_blocked_frame())

    def _down(self) -> None:
        while (frame := _frame(self.broker)) is not None:
            with self.write:
                self.client.sendall(frame)
            if _method(frame) == OPEN_OK:
                self.open = True
            if self.open and self.proxy.blocking.is_set():
                self.tell_blocked()
        self.close()

    def _up(self) -> None:
        while (frame := _frame(self.client)) is not None:
            if self.proxy.blocking.is_set() and _method(frame) == PUBLISH:
                # As the broker: a blocked connection's socket is not read any more.
                self.proxy.closing.wait()
                break
            self.broker.sendall(frame)
        self.close()

    def close(self) -> None:
        for sock in (self.client, self.broker):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class BrokerProxy:
    """A proxy in front of the broker on 127.0.0.1:5672 that can act as a broker in a memory
    alarm (``block``: it tells every connection it is blocked and reads nothing more from one
    once it publishes) or as one restarting (``cut``: every connection so far is closed)."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.blocking = threading.Event()
        self.closing = threading.Event()
        self.links: list[_Link] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closing.is_set():
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            self.links.append(_Link(self, client))

    def block(self) -> None:
        self.blocking.set()
        for link in list(self.links):
            link.tell_blocked()

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def cut(self) -> None:
        for link in list(self.links):
            link.close()

    def close(self) -> None:
        self.closing.set()
        self.server.close()
        for link in list(self.links):
            link.close()
