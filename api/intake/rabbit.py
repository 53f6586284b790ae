"""The RabbitMQ intake queue (scale-out): same interface as the embedded one.

A durable classic queue with ``x-max-priority`` (more urgent pre-priority -> higher AMQP
priority), persistent messages, publisher confirms (``put`` returns once the broker has the
message) and manual acks (at-least-once: a worker that dies returns its message). Retries go
to per-delay-bucket queues whose messages expire back into the main queue (dead-letter
routing), so no worker sleeps on a delayed message. The bound is checked with passive
declares before publishing: the main queue's ready messages, those parked for a retry (read at
most once a second) and those workers hold; urgent tickets may use the headroom. The broker
counts no unacknowledged message for a passive declare, so a worker holding one keeps a
consumer on ``<name>.held`` (which never gets a message) until it acks or retries it: that
queue's consumer count is the number held, and a worker's consumers go with its connection, as
its unacknowledged messages go back to the queue. Readiness reads the same counts: tickets
ready with none held mean nobody works the queue (``overdue_s``).

pika's BlockingConnection is not thread-safe: each thread gets its own connection. Between two
calls it answers no heartbeats, so the broker closes a connection left idle for a heartbeat
timeout (as it does all of them when it restarts): an operation that finds its thread's
connection dead opens a new one and runs once more. A worker's connection is not left idle
while it triages the ticket it got, however long that takes (the broker would give the ticket
to another worker): a keep-alive thread answers the heartbeats meanwhile, and stops before the
worker's thread uses the connection again. A delivery is acknowledged (or retried)
only on the connection that delivered it; once that is gone the broker has put the message
back in the queue, and it comes again. A connection the broker blocks (a memory or disk alarm)
is torn down after BLOCKED_S: a put is refused then instead of hanging its request. A message
no version of the item can be read from is set aside in ``<name>.unreadable`` (kept for a
person, not held unacknowledged by a worker); one with fields a newer version added is read
without them. A queue of these an operator deleted is declared again once found missing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import (
    AMQPConnectionError,
    AMQPError,
    ChannelClosed,
    ChannelWrongStateError,
    ConnectionBlockedTimeout,
    UnroutableError,
)
from pika.spec import BasicProperties

from agent.errors import CapacityError, UpstreamError
from api.intake.queue import Delivery, QueueItem

log = logging.getLogger(__name__)

MAX_PRIORITY = 9
POLL_S = 0.05
# Delay queues .delay.0 to .delay.27: bucket b holds delays up to 2^b ms, over 2^(b-1) ms, so
# a retry waits at most twice its delay behind those ahead of it (a queue expires its messages
# from the head only); the last one holds every delay from 2^26 ms (18.6 h).
MAX_BUCKET = 27
PARKED_EVERY_S = 1.0  # how long a count of the messages parked for a retry is reused
# How long a connection the broker blocks (a memory or disk alarm) waits before it gives up,
# unless the URL's blocked_connection_timeout says: a put waits for nothing longer.
BLOCKED_S = 10.0
# A connection or channel found dead (closed by the broker meanwhile): worth one more try.
STALE = (AMQPConnectionError, ChannelClosed, ChannelWrongStateError)
KEEPALIVE_MAX_S = 1.0  # longest pause between two looks at a held delivery's connection
T = TypeVar("T")


def _reason(exc: AMQPError) -> str:
    """What pika says went wrong: its errors carry it in their arguments, whose ``str`` (a
    refused connection's) may be only a class name while their ``repr`` names the cause."""
    reasons = [arg if isinstance(arg, str) else repr(arg) for arg in exc.args]
    return "; ".join(reasons) or type(exc).__name__


def _message(item: QueueItem, expiration_ms: int | None = None) -> tuple[bytes, BasicProperties]:
    """The item as a persistent message at its AMQP priority (expiring, for a delay queue)."""
    props = BasicProperties(
        delivery_mode=2,
        priority=amqp_priority(item.priority),
        content_type="application/json",
        expiration=str(expiration_ms) if expiration_ms is not None else None,
    )
    return json.dumps(item.__dict__).encode(), props


def _item(body: bytes) -> QueueItem | None:
    """The queued item (fields it does not know are left out); None when unreadable."""
    try:
        data = json.loads(body)
        return QueueItem(**{f.name: data[f.name] for f in dataclasses.fields(QueueItem)})
    except (ValueError, TypeError, KeyError):
        return None


class _KeepAlive:
    """Answers the broker's heartbeats on a connection its thread leaves alone meanwhile.

    Meanwhile another thread may settle the delivery on the connection's channel (``lock``):
    the worker pool gives up a run hung past its time limit while its thread still holds it.
    """

    def __init__(self, channel: BlockingChannel, number: int) -> None:
        self.channel, self.number = channel, number
        self.connection = channel.connection
        self.stopping = threading.Event()
        self.lock = threading.Lock()  # held while the thread or a settling one uses the channel
        # The timeout negotiated with the broker (pika keeps it in its parameters' copy).
        params = getattr(getattr(self.connection, "_impl", None), "params", None)
        heartbeat = getattr(params, "heartbeat", None)
        every_s = KEEPALIVE_MAX_S
        if isinstance(heartbeat, int | float) and heartbeat > 0:
            every_s = min(every_s, heartbeat / 4)
        self.thread = threading.Thread(
            target=self._run, args=(every_s,), name="intake-broker-keepalive", daemon=True
        )
        self.thread.start()

    def _run(self, every_s: float) -> None:
        while not self.stopping.wait(every_s):
            try:
                with self.lock:
                    self.connection.process_data_events(time_limit=0)
            except AMQPError:
                return  # gone: the broker puts the message back, its ack finds out

    def stop(self) -> None:
        """Return once the thread, and any thread settling a delivery on the channel, left the
        connection for good."""
        self.stopping.set()
        with self.lock:
            pass
        self.thread.join()


def _never(*_: object) -> None:
    """The held queue's consumers get no message."""


def amqp_priority(order: int) -> int:
    """Queue order (0 most urgent) to AMQP priority (9 most urgent)."""
    return max(0, min(MAX_PRIORITY, MAX_PRIORITY - order // 4))


class RabbitQueue:
    """Priority-aware, bounded, durable intake queue on RabbitMQ."""

    outside_database = True  # its puts are marked in the intake records until confirmed

    def __init__(self, url: str, name: str, capacity: int, normal_capacity: int) -> None:
        self.params = pika.URLParameters(url)
        if self.params.blocked_connection_timeout is None:
            self.params.blocked_connection_timeout = BLOCKED_S
        self.name = name
        self.capacity = capacity
        self.normal_capacity = min(normal_capacity, capacity)
        self._local = threading.local()
        self._all: list[pika.BlockingConnection] = []
        self._lock = threading.Lock()
        self._opened = 0  # connections opened so far: a delivery's token names its connection
        self._parked = (0, float("-inf"))  # messages parked for a retry, and when counted
        self._unworked_since: float | None = None  # first seen ready with none held
        self._keepalives: dict[int, _KeepAlive] = {}  # by the number of their connection
        self._declare(self._channel())

    def _declare(self, channel: BlockingChannel) -> None:
        """Declare every queue this one uses (again, once one was deleted by an operator)."""
        name = self.name
        channel.queue_declare(name, durable=True, arguments={"x-max-priority": MAX_PRIORITY + 1})
        back = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": name}
        for bucket in range(MAX_BUCKET + 1):  # all of them: the bound counts what they hold
            channel.queue_declare(self._delay_queue(bucket), durable=True, arguments=back)
        channel.queue_declare(self.unreadable, durable=True)
        channel.queue_declare(self.held, durable=True)

    def _declared_again(self, exc: AMQPError) -> bool:
        """After a failure on this thread's channel: when it says a queue is missing (deleted
        by an operator), declare the queues again on a new connection and say so."""
        missing = isinstance(exc, UnroutableError) or (
            isinstance(exc, ChannelClosed) and exc.reply_code == 404
        )
        if not missing:
            return False
        log.warning("a queue of %s was missing (%s): declared again", self.name, _reason(exc))
        if isinstance(exc, ChannelClosed):
            self._drop()  # the broker closed the channel
        self._declare(self._channel())
        return True

    @property
    def unreadable(self) -> str:
        """Where messages that are no item are set aside."""
        return f"{self.name}.unreadable"

    @property
    def held(self) -> str:
        """Where each message a worker holds has a consumer (none gets a message)."""
        return f"{self.name}.held"

    @property
    def queues(self) -> list[str]:
        """Every queue this one declares (the main queue last)."""
        delays = [self._delay_queue(b) for b in range(MAX_BUCKET + 1)]
        return [*delays, self.unreadable, self.held, self.name]

    def _delay_queue(self, bucket: int) -> str:
        return f"{self.name}.delay.{bucket}"

    def _keep_alive(self) -> None:
        """Answer this thread's connection's heartbeats until the thread uses it again."""
        keepalive = _KeepAlive(self._channel(), self._local.number)
        with self._lock:
            self._keepalives[keepalive.number] = keepalive
        self._local.keepalive = keepalive

    def _quiet(self) -> None:
        """This thread's connection is its own again (no keep-alive on it)."""
        keepalive: _KeepAlive | None = getattr(self._local, "keepalive", None)
        if keepalive is None:
            return
        self._local.keepalive = None
        with self._lock:  # settled by another thread from now on only if it began before
            if self._keepalives.get(keepalive.number) is keepalive:
                del self._keepalives[keepalive.number]
        keepalive.stop()

    def _channel(self) -> BlockingChannel:
        self._quiet()
        channel: BlockingChannel | None = getattr(self._local, "channel", None)
        if channel is not None and channel.is_open:
            return channel
        self._drop()
        try:
            connection = pika.BlockingConnection(self.params)
            channel = connection.channel()
            channel.confirm_delivery()
            channel.basic_qos(prefetch_count=1)
        except AMQPError as exc:
            raise UpstreamError(f"RabbitMQ unreachable at {self.where}: {_reason(exc)}") from exc
        with self._lock:
            self._all.append(connection)
            self._opened += 1
            self._local.number = self._opened
        self._local.channel = channel
        return channel

    def _drop(self) -> None:
        """Forget this thread's connection (closing it if it is still open)."""
        channel: BlockingChannel | None = getattr(self._local, "channel", None)
        self._local.channel = None
        if channel is None:
            return
        connection = channel.connection
        with self._lock:
            self._all = [c for c in self._all if c is not connection]
        if connection.is_open:
            with contextlib.suppress(AMQPError):  # broken already: nothing left to release
                connection.close()

    def _on_channel(self, operation: Callable[[BlockingChannel], T]) -> T:
        """Run the operation on this thread's channel, once more on a new connection when the
        one it had is found dead, or once the queues are declared again when one is missing
        (AMQPError when that fails too)."""
        try:
            return operation(self._channel())
        except ConnectionBlockedTimeout:
            raise  # a new connection would be blocked as well
        except (*STALE, UnroutableError) as exc:
            if not self._declared_again(exc):
                self._drop()
        return operation(self._channel())

    def _publish(self, queue: str, item: QueueItem) -> None:
        """Publish, confirmed, on this thread's channel (reconnecting once)."""
        body, props = _message(item)
        try:
            self._on_channel(lambda ch: ch.basic_publish("", queue, body, props, True))
        except ConnectionBlockedTimeout as exc:
            self._drop()
            raise UpstreamError(
                f"RabbitMQ blocked publishing for {self.params.blocked_connection_timeout:g} s "
                "(a memory or disk alarm on the broker); retry later"
            ) from exc
        except AMQPError as exc:
            self._drop()
            raise UpstreamError(
                f"RabbitMQ did not confirm the message: {type(exc).__name__}"
            ) from exc

    def depth(self) -> int:
        """Messages ready in the main queue, held by workers and parked for a retry."""
        try:
            return self._count(self.name) + self._held_count() + self._parked_count()
        except AMQPError as exc:
            self._drop()
            raise UpstreamError(f"RabbitMQ unreachable at {self.where}: {_reason(exc)}") from exc

    def overdue_s(self) -> float | None:
        """How long tickets have been ready in the queue with no worker holding one, since the
        first call that found it so (the broker does not tell when a message came due); None
        while a worker holds one, or when none is ready."""
        try:
            ready, held = self._count(self.name), self._held_count()
        except AMQPError as exc:
            self._drop()
            raise UpstreamError(f"RabbitMQ unreachable at {self.where}: {_reason(exc)}") from exc
        now = time.monotonic()
        if not ready or held:
            self._unworked_since = None
            return None
        if self._unworked_since is None:
            self._unworked_since = now
        return now - self._unworked_since

    def _declared(self, queue: str) -> Any:
        return self._on_channel(lambda ch: ch.queue_declare(queue, passive=True).method)

    def _count(self, queue: str) -> int:
        return int(self._declared(queue).message_count)

    def _held_count(self) -> int:
        """Messages workers hold: one consumer each on the held queue."""
        return int(self._declared(self.held).consumer_count)

    def _parked_count(self) -> int:
        """Messages in the delay queues, counted at most every PARKED_EVERY_S (a declare
        each is too many for every put)."""
        count, counted_at = self._parked
        if time.monotonic() - counted_at < PARKED_EVERY_S:
            return count
        count = sum(self._count(self._delay_queue(b)) for b in range(MAX_BUCKET + 1))
        self._parked = (count, time.monotonic())
        return count

    def put(self, item: QueueItem, headroom: bool = False) -> None:
        """Publish (confirmed) unless the bound for this urgency (or headroom) is reached."""
        limit = self.capacity if item.urgent or headroom else self.normal_capacity
        if self.depth() >= limit:
            reserved = " for non-urgent tickets (headroom kept for urgent ones)"
            kind = "" if item.urgent or headroom else reserved
            raise CapacityError(f"the intake queue is full{kind}; retry later", retry_after_s=5.0)
        self._publish(self.name, item)

    def get(self, timeout_s: float) -> Delivery | None:
        """The head of the queue (highest priority), polling until timeout_s."""
        deadline = time.monotonic() + timeout_s
        while True:
            method, _props, body = self._on_channel(lambda ch: ch.basic_get(self.name, False))
            if method is not None:
                item = _item(body)
                if item is None:
                    self._set_aside(method.delivery_tag, body)
                    continue
                try:
                    self._hold(method.delivery_tag)
                except STALE as exc:
                    self._drop()  # gone with its connection: the broker puts it back
                    self._declared_again(exc)  # the held queue, if it was deleted
                    if time.monotonic() >= deadline:
                        return None  # failing again and again: not past the caller's wait
                    continue
                token = f"{self._local.number}:{method.delivery_tag}"
                self._keep_alive()  # its triage may outlast the heartbeat timeout
                return Delivery(item=item, token=token, redelivered=bool(method.redelivered))
            if time.monotonic() >= deadline:
                return None
            self._channel().connection.sleep(POLL_S)

    def _hold(self, tag: int) -> None:
        """Count the delivery as held: a consumer on the held queue, on its channel."""
        self._channel().basic_consume(self.held, _never, consumer_tag=f"held.{tag}")

    def _settled_away(
        self, delivery: Delivery, settle: Callable[[BlockingChannel, int], None]
    ) -> bool:
        """Settle a delivery another thread got and is away from (its run, hung past the time
        limit, was given up) on that thread's channel while its keep-alive holds off; False
        when no thread is away holding it. The thread takes its connection back only after."""
        number, tag = delivery.token.split(":", 1)
        with self._lock:
            keepalive = self._keepalives.get(int(number))
            if keepalive is None:
                return False
            keepalive.lock.acquire()
        try:
            settle(keepalive.channel, int(tag))
        except AMQPError as exc:
            # Closed, the connection gives the message back to the broker (its thread opens
            # another when it comes back): delivered again rather than held for nobody.
            with contextlib.suppress(AMQPError):
                keepalive.connection.close()
            log.warning("%s not settled (%s): delivered again", delivery.item.ticket_id, exc)
        finally:
            keepalive.lock.release()
        return True

    def _ack_on(self, channel: BlockingChannel, tag: int) -> None:
        channel.basic_ack(tag)
        channel.basic_cancel(f"held.{tag}")  # no longer held

    def _set_aside(self, tag: int, body: bytes) -> None:
        """Move a message that is no item to the unreadable queue (on the channel that
        delivered it, confirmed before the original is acknowledged)."""
        log.error(
            "intake queue message set aside in %s, unreadable: %r", self.unreadable, body[:200]
        )
        channel = self._channel()
        props = BasicProperties(delivery_mode=2)
        try:
            try:
                channel.basic_publish("", self.unreadable, body, props, True)
            except UnroutableError as exc:
                # Its queue was deleted (by an operator): declared again, it takes the message.
                self._declared_again(exc)
                channel.basic_publish("", self.unreadable, body, props, True)
            channel.basic_ack(tag)
        except AMQPError as exc:
            # Not set aside: closing the connection puts it back in the queue, in view, rather
            # than leave it held by this connection for as long as the worker lives.
            self._drop()
            raise UpstreamError(
                f"RabbitMQ did not take an unreadable message into {self.unreadable}: "
                f"{_reason(exc)}"
            ) from exc

    def _delivered_here(self, delivery: Delivery) -> int | None:
        """The delivery's tag while the connection that delivered it is this thread's and
        open; None once it is gone (the broker has put the message back in the queue)."""
        number, tag = delivery.token.split(":", 1)
        channel: BlockingChannel | None = getattr(self._local, "channel", None)
        mine = channel is not None and channel.is_open and self._local.number == int(number)
        if not mine:
            log.info(
                "delivery of %s outlived its connection: the broker delivers it again",
                delivery.item.ticket_id,
            )
            return None
        return int(tag)

    def ack(self, delivery: Delivery) -> None:
        """Acknowledge on the channel that delivered it (nothing to do once it is gone)."""
        self._quiet()
        if self._settled_away(delivery, self._ack_on):
            return
        tag = self._delivered_here(delivery)
        if tag is None:
            return
        try:
            self._ack_on(self._channel(), tag)
        except AMQPError as exc:
            self._drop()  # its connection died now: the message goes back to the queue
            log.warning("ack of %s lost (%s): delivered again", delivery.item.ticket_id, exc)

    def retry(self, delivery: Delivery, delay_s: float) -> None:
        """Park a copy in the delay queue of its bucket, then ack the original; on the channel
        that delivered it only (once that is gone the broker delivers the original again, and
        a copy would be a second one)."""
        delay_ms = max(1, int(delay_s * 1000))
        bucket = min(MAX_BUCKET, max(0, math.ceil(math.log2(delay_ms))))
        queue = self._delay_queue(bucket)
        body, props = _message(delivery.item, delay_ms)

        def publish(channel: BlockingChannel) -> None:
            try:
                channel.basic_publish("", queue, body, props, mandatory=True)
            except UnroutableError as exc:
                # Its delay queue was deleted (by an operator): declared again, it takes it.
                self._declared_again(exc)
                channel.basic_publish("", queue, body, props, mandatory=True)

        def park(channel: BlockingChannel, tag: int) -> None:
            publish(channel)
            self._ack_on(channel, tag)

        self._quiet()
        if self._settled_away(delivery, park):
            return
        if self._delivered_here(delivery) is None:
            return
        channel = self._channel()
        try:
            publish(channel)
        except STALE:
            self._drop()
            log.info(
                "retry of %s: its connection is gone, delivered again", delivery.item.ticket_id
            )
            return
        except AMQPError as exc:
            self._drop()
            raise UpstreamError(
                f"RabbitMQ did not confirm the message: {type(exc).__name__}"
            ) from exc
        self.ack(delivery)

    def extend(self, delivery: Delivery, lease_s: float) -> None:
        """Nothing to do: the broker keeps an unacknowledged message from other consumers until
        it is acknowledged or its channel closes (its worker died)."""

    def purge(self) -> None:
        """Empty the main queue (tests and benchmarks only)."""
        self._channel().queue_purge(self.name)

    def close(self) -> None:
        """Close every connection this queue opened."""
        with self._lock:
            connections, self._all = self._all, []
            keepalives, self._keepalives = list(self._keepalives.values()), {}
        for keepalive in keepalives:
            keepalive.stop()
        for connection in connections:
            if connection.is_open:
                try:
                    connection.close()
                except AMQPError:
                    continue  # already broken; nothing left to release
        self._local = threading.local()

    @property
    def where(self) -> str:
        """Host, port and virtual host of the broker (no credentials)."""
        return f"{self.params.host}:{self.params.port} (vhost {self.params.virtual_host!r})"

    def describe(self) -> dict[str, Any]:
        """For /readyz: where the queue lives (no credentials)."""
        return {"host": self.params.host, "port": self.params.port, "queue": self.name}
