"""HMAC-SHA256 signatures of helpdesk webhooks (the fixed contract in INTEGRATION.md).

    X-Triage-Timestamp: <unix seconds>
    X-Triage-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>

A missing, malformed or wrong signature, or a timestamp more than the tolerance away from now,
raises AuthError (401). The comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from agent.errors import AuthError

TIMESTAMP_HEADER = "X-Triage-Timestamp"
SIGNATURE_HEADER = "X-Triage-Signature"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value for a body (what the helpdesk sends)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """Both headers for a body, stamped now (clients, tests, the benchmark)."""
    timestamp = str(int(time.time() if now is None else now))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, body)}


def verify(
    secret: str | None,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    tolerance_s: float = 300.0,
    now: float | None = None,
) -> None:
    """Raise AuthError unless the body carries a fresh, valid signature."""
    if not secret:
        raise AuthError("webhook intake is closed: no webhook secret is configured")
    if not timestamp or not signature:
        raise AuthError(f"unsigned webhook: send {TIMESTAMP_HEADER} and {SIGNATURE_HEADER}")
    try:
        stamp = int(timestamp.strip())
    except ValueError:
        raise AuthError(f"{TIMESTAMP_HEADER} must be unix seconds") from None
    current = time.time() if now is None else now
    # Compared, not subtracted: an int past a float's range would raise OverflowError (a 500).
    if not current - tolerance_s <= stamp <= current + tolerance_s:
        raise AuthError(f"stale webhook: timestamp is more than {int(tolerance_s)} s from now")
    expected = sign(secret, timestamp.strip(), body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise AuthError("bad webhook signature")
