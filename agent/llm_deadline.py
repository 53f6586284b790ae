"""One deadline for an LLM call, all its attempts together, and which failures get another one.

``TRIAGE_LLM_TIMEOUT_S`` bounds the call. Each attempt is sent with the time left as its timeout,
and its response stops when that time is up: the HTTP library's timeout bounds each read, not the
response, so a server or gateway that sent a byte every few seconds (keep-alive padding) held the
ticket for as long as it kept sending. A failure that another attempt may not meet (no connection,
a timeout, HTTP 408, 409, 429 or 5xx, or the server's ``x-should-retry: true``) is tried again, at
most ``TRIAGE_LLM_MAX_RETRIES`` times, after a backoff or the server's ``Retry-After``, when that
wait ends before the deadline. The SDK's own retries are off: each of them had the whole timeout
again, and its wait for ``Retry-After`` (up to a minute) did not look at the deadline.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any

import openai

DEADLINE = "triage_deadline"  # request extension: when its response must have arrived
FIRST_WAIT_S = 0.5  # backoff before the first retry, doubled for each further one
MAX_WAIT_S = 8.0
RETRIED_STATUSES = frozenset({408, 409, 429})  # and every 5xx


def start(request: Any) -> None:
    """Request hook: the response must have arrived when the request's timeout is up."""
    timeout = request.extensions.get("timeout", {}).get("read")
    if timeout is not None:
        request.extensions[DEADLINE] = time.monotonic() + timeout


def bound(response: Any) -> None:
    """Response hook: the body raises the SDK's timeout error once its request's deadline passed."""
    stream_type: Any = type(response.stream)
    bounded = _bounded(stream_type)
    if bounded is not None:
        response.stream = bounded(response.stream, response.request)


def retry_wait(error: openai.OpenAIError, retries: int) -> float | None:
    """Seconds to wait before the next attempt after this failure and ``retries`` retries, or
    None when another attempt would meet the same answer (a bad request, a refused key)."""
    if isinstance(error, openai.APIStatusError):
        if not _transient(error.response.status_code, error.response.headers):
            return None
        asked = _retry_after(error.response.headers)
        if asked is not None:
            return asked
    elif not isinstance(error, openai.APIConnectionError):  # a timeout is one too
        return None
    backoff = min(FIRST_WAIT_S * 2.0**retries, MAX_WAIT_S)
    return backoff * (1 - 0.25 * random.random())  # apart, when many tickets failed at once


def _transient(status: int, headers: Mapping[str, str]) -> bool:
    said = headers.get("x-should-retry")
    if said in ("true", "false"):
        return said == "true"  # the server knows best
    return status in RETRIED_STATUSES or status >= 500


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """The wait the server asks for (Retry-After-Ms, or Retry-After in seconds or as a date)."""
    for name, per_second in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / per_second
        except ValueError:
            continue
        return None if math.isnan(seconds) else max(seconds, 0.0)
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


@lru_cache(maxsize=4)
def _bounded(stream_type: type) -> type | None:
    """A body stream that raises the SDK's timeout error past its deadline. It derives from the
    HTTP library's own SyncByteStream (httpx2 under SDK 3.x, httpx before), which it checks for."""
    base = next((c for c in stream_type.__mro__ if c.__name__ == "SyncByteStream"), None)
    if base is None:
        return None

    class Bounded(base):  # type: ignore[valid-type,misc]
        def __init__(self, inner: Any, request: Any) -> None:
            self.inner, self.request = inner, request
            self.deadline: float = request.extensions.get(DEADLINE, math.inf)

        def __iter__(self) -> Iterator[bytes]:
            for chunk in self.inner:
                if time.monotonic() > self.deadline:
                    raise openai.APITimeoutError(request=self.request)
                yield chunk

        def close(self) -> None:
            self.inner.close()

    return Bounded
