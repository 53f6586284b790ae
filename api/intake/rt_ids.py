"""RT's ids as the scrip writes them, and the transaction number an event id names."""

from __future__ import annotations

import re

RT_ID = re.compile(r"[1-9][0-9]{0,17}")
"""An RT ticket or transaction id as the scrip writes it: a whole number (it fits a BIGINT)."""
RT_EVENT_PREFIX = "rt-txn-"
"""The scrip's event id is this and the transaction's id: the catch-up reads what was seen by it."""


def rt_txn_number(source: str, event_id: str) -> int | None:
    """The RT transaction an event id of RT's names (``rt-txn-456``: 456), None for any other
    id: another helpdesk's, one of the catch-up's own rows, one not written as the scrip does."""
    if source != "rt" or not event_id.startswith(RT_EVENT_PREFIX):
        return None
    digits = event_id[len(RT_EVENT_PREFIX) :]
    return int(digits) if RT_ID.fullmatch(digits) else None
