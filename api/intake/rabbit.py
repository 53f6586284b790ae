"""The RabbitMQ intake queue (scale-out): same interface as the embedded one.

A durable classic queue with ``x-max-priority`` (more urgent pre-priority -> higher AMQP
priority), persistent messages, publisher confirms (``put`` returns once the broker has the
message) and manual acks (at-least-once: a worker that dies returns its message). Retries go
to per-delay-bucket queues whose messages expire back into the main queue (dead-letter
routing), so no worker sleeps on a delayed message. The bound is checked with a passive
declare before publishing; urgent tickets may use the headroom.

pika's BlockingConnection is not thread-safe: each thread gets its own connection.
"""

from __future__ import annotations

import json
import math
import threading
import time
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPError

from agent.errors import CapacityError, UpstreamError
from api.intake.queue import Delivery, QueueItem

MAX_PRIORITY = 9
POLL_S = 0.05


def _reason(exc: AMQPError) -> str:
    """What pika says went wrong: its errors carry it in their arguments, whose ``str`` (a
    refused connection's) may be only a class name while their ``repr`` names the cause."""
    reasons = [arg if isinstance(arg, str) else repr(arg) for arg in exc.args]
    return "; ".join(reasons) or type(exc).__name__


def amqp_priority(order: int) -> int:
    """Queue order (0 most urgent) to AMQP priority (9 most urgent)."""
    return max(0, min(MAX_PRIORITY, MAX_PRIORITY - order // 4))


class RabbitQueue:
    """Priority-aware, bounded, durable intake queue on RabbitMQ."""

    def __init__(self, url: str, name: str, capacity: int, normal_capacity: int) -> None:
        self.params = pika.URLParameters(url)
        self.name = name
        self.capacity = capacity
        self.normal_capacity = min(normal_capacity, capacity)
        self._local = threading.local()
        self._all: list[pika.BlockingConnection] = []
        self._lock = threading.Lock()
        self._delay_queues: set[str] = set()
        self._channel().queue_declare(
            name, durable=True, arguments={"x-max-priority": MAX_PRIORITY + 1}
        )

    def _channel(self) -> BlockingChannel:
        channel: BlockingChannel | None = getattr(self._local, "channel", None)
        if channel is not None and channel.is_open:
            return channel
        try:
            connection = pika.BlockingConnection(self.params)
            channel = connection.channel()
            channel.confirm_delivery()
            channel.basic_qos(prefetch_count=1)
        except AMQPError as exc:
            raise UpstreamError(f"RabbitMQ unreachable at {self.where}: {_reason(exc)}") from exc
        with self._lock:
            self._all.append(connection)
        self._local.channel = channel
        return channel

    def _publish(self, queue: str, item: QueueItem, expiration_ms: int | None = None) -> None:
        body = json.dumps(item.__dict__).encode()
        props = pika.BasicProperties(
            delivery_mode=2,
            priority=amqp_priority(item.priority),
            content_type="application/json",
            expiration=str(expiration_ms) if expiration_ms is not None else None,
        )
        try:
            self._channel().basic_publish("", queue, body, props, mandatory=True)
        except AMQPError as exc:
            self._local.channel = None
            raise UpstreamError(
                f"RabbitMQ did not confirm the message: {type(exc).__name__}"
            ) from exc

    def depth(self) -> int:
        """Messages ready in the main queue (unacked ones are with workers)."""
        try:
            method = self._channel().queue_declare(self.name, passive=True).method
        except AMQPError as exc:
            self._local.channel = None
            raise UpstreamError(f"RabbitMQ unreachable at {self.where}: {_reason(exc)}") from exc
        return int(method.message_count)

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
        channel = self._channel()
        while True:
            method, _props, body = channel.basic_get(self.name, auto_ack=False)
            if method is not None:
                item = QueueItem(**json.loads(body))
                return Delivery(
                    item=item, token=str(method.delivery_tag), redelivered=bool(method.redelivered)
                )
            if time.monotonic() >= deadline:
                return None
            channel.connection.sleep(POLL_S)

    def ack(self, delivery: Delivery) -> None:
        """Acknowledge on this thread's channel (the one that delivered it)."""
        self._channel().basic_ack(int(delivery.token))

    def retry(self, delivery: Delivery, delay_s: float) -> None:
        """Park a copy in the delay queue of its bucket, then ack the original."""
        delay_ms = max(1, int(delay_s * 1000))
        bucket = max(0, math.ceil(math.log2(delay_ms)))
        queue = f"{self.name}.delay.{bucket}"
        if queue not in self._delay_queues:
            self._channel().queue_declare(
                queue,
                durable=True,
                arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": self.name},
            )
            self._delay_queues.add(queue)
        self._publish(queue, delivery.item, expiration_ms=delay_ms)
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
