"""RT transactions read back over REST2 as the scrip's webhook payloads (api/helpdesk README).

The catch-up replays what the webhook missed through the webhook's own path, so each
transaction becomes exactly the body ``rt_setup/scrip_action.pl`` posts. One difference RT
imposes: the ticket part is the ticket as it is now, not as it was when the transaction happened.
Dates are written as the scrip writes them (UTC, ``YYYY-MM-DDTHH:MM:SSZ``), whatever form REST2
used, so the webhook's adapter never refuses a date the reader could read. Each body is checked
against the webhook's own model (``RtEvent``: RT's ids are whole numbers, dates say their zone)
before it is returned. A row that cannot be made into that body (a date that does not parse, a
field of the wrong shape, an id that is not RT's, its ticket's) is returned as ``Unreadable`` with
the reason instead: RT will answer the same next time, so the caller skips it rather than posting
a body the webhook refuses on every pass.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any, NamedTuple
from urllib.parse import quote

from pydantic import ValidationError

from agent.errors import first_problem
from api.helpdesk.rt import RTHelpdesk, _ref, _when, message_text
from api.intake.webhooks import RT_EVENT_PREFIX, RT_ID, RtEvent

TXN_FIELDS = "Type,Field,OldValue,NewValue,Creator,Created,ObjectId,ObjectType"
MESSAGE_TYPES = {"Create", "Correspond", "Comment"}  # the scrip sends content for these only
# Records of outgoing mail fire no scrip and are hidden from the bot (ShowOutgoingEmail): left out,
# or the newest visible transaction could sit behind a page RT returns empty.
TICKET_TXNS = "ObjectType = 'RT::Ticket' AND Type != 'EmailRecord' AND Type != 'CommentEmailRecord'"
NEWEST_PAGES = 5
# What a row or ticket of an unexpected shape raises while read: data errors, not RT's failures
# (HelpdeskError is none of these: RT unreachable or refusing still stops the caller).
DATA_ERRORS = (ValueError, TypeError, LookupError, AttributeError, ArithmeticError)


class Unreadable(NamedTuple):
    """A transaction row that cannot be made into the scrip's payload, and why."""

    txn_id: str
    reason: str


def _stamp(value: Any) -> str | None:
    """RT's date as the scrip writes it (UTC, "YYYY-MM-DDTHH:MM:SSZ"), None when unset; a date
    that does not parse raises ValueError (unreadable), as the webhook would refuse it."""
    when = _when(value)
    if when is None:
        return None
    if when.tzinfo is not None:  # REST2 answers in UTC; a date without a zone is taken as UTC
        when = when.astimezone(UTC).replace(tzinfo=None)
    return f"{when.replace(microsecond=0).isoformat()}Z"


class RTEventReader:
    """Ticket transactions after a given id, each as the payload the scrip would have posted."""

    def __init__(self, rt: RTHelpdesk) -> None:
        self.rt = rt
        self._single: dict[str, bool] = {}  # custom field id -> holds one value

    def newest(self) -> int:
        """The id of RT's newest ticket transaction (0 when there is none)."""
        for page in range(1, NEWEST_PAGES + 1):
            data = self.rt.call(
                "GET",
                "/transactions",
                params={
                    "query": TICKET_TXNS,
                    "orderby": "id",
                    "order": "DESC",
                    "per_page": 20,
                    "page": page,
                },
            )
            items = data.get("items") or []
            if items:
                return int(items[0]["id"])
        return 0

    def rows(self, txn_id: int) -> list[dict[str, Any]]:
        """Every ticket transaction with an id above txn_id, oldest first (REST rows)."""
        return self.rt.pages(
            "/transactions",
            {
                "query": f"{TICKET_TXNS} AND id > {int(txn_id)}",
                "orderby": "id",
                "order": "ASC",
                "fields": TXN_FIELDS,
            },
        )

    def payloads(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The scrip's body for each row that can be read (see ``read``)."""
        return self.read(rows)[0]

    def read(self, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Unreadable]]:
        """The scrip's body for each row (each ticket read once), and the rows that cannot be
        made into one (their ticket's part included), in order."""
        tickets: dict[str, dict[str, Any] | str] = {}  # the ticket part, or why it is unreadable
        payloads, unreadable = [], []
        for row in rows:
            ident = str(row.get("id"))
            try:
                ticket_id = _ref(row.get("ObjectId"))
                if not RT_ID.fullmatch(ticket_id):  # asked of RT, it would name no ticket
                    raise ValueError(f"its ticket id {ticket_id!r} is not RT's")
                if ticket_id not in tickets:
                    tickets[ticket_id] = self._ticket_part_or_reason(ticket_id)
                ticket = tickets[ticket_id]
                if isinstance(ticket, str):
                    unreadable.append(Unreadable(ident, ticket))
                    continue
                payloads.append(self.payload(row, ticket))
            except DATA_ERRORS as exc:
                unreadable.append(Unreadable(ident, f"{type(exc).__name__}: {exc}"))
        return payloads, unreadable

    def _ticket_part_or_reason(self, ticket_id: str) -> dict[str, Any] | str:
        try:
            return self.ticket_part(ticket_id)
        except DATA_ERRORS as exc:
            return f"ticket {ticket_id}: {type(exc).__name__}: {exc}"

    def payload(self, row: dict[str, Any], ticket: dict[str, Any]) -> dict[str, Any]:
        """One transaction row (and its ticket part) as the scrip's body."""
        ident = str(row.get("id"))
        if not RT_ID.fullmatch(ident):
            raise ValueError(f"transaction id {ident!r} is not RT's")
        kind = str(row.get("Type") or "")
        content = self._content(ident) if kind in MESSAGE_TYPES else None
        texts = {ident: content} if content is not None else {}
        txn = self.rt.transaction(row, texts)
        body = {
            "source": "rt",
            "event_id": f"{RT_EVENT_PREFIX}{ident}",
            "transaction": {
                "id": ident,
                "type": txn.type,
                "field": txn.field,
                "old_value": txn.old_value,
                "new_value": txn.new_value,
                "creator": txn.creator,
                "created": _stamp(row.get("Created")),
                "content": txn.content,
            },
            "ticket": ticket,
        }
        try:
            RtEvent.model_validate(body)
        except ValidationError as exc:  # what the webhook would refuse, pass after pass
            raise ValueError(f"the webhook would refuse it: {first_problem(exc, 'body')}") from None
        return body

    def ticket_part(self, ticket_id: str) -> dict[str, Any]:
        """The scrip's ``ticket`` object: names for queue and owner, custom fields by name."""
        data = self.rt.call("GET", f"/ticket/{quote(ticket_id)}")
        fields: dict[str, Any] = {}
        for cf in data.get("CustomFields") or []:
            values = [str(v) for v in cf.get("values") or []]
            single = self._single_valued(str(cf.get("id")))
            fields[str(cf.get("name"))] = (values[0] if values else None) if single else values
        return {
            "id": str(data.get("id")),
            "subject": str(data.get("Subject") or ""),
            "queue": self.rt.name_of("queue", _ref(data.get("Queue"))),
            "status": str(data.get("Status") or ""),
            "owner": _ref(data.get("Owner")),
            "priority": int(data.get("Priority") or 0),
            "requestors": [_ref(r) for r in data.get("Requestor") or []],
            "created": _stamp(data.get("Created")),
            "resolved": _stamp(data.get("Resolved")),
            "custom_fields": fields,
        }

    def _content(self, txn_id: str) -> str | None:
        """The transaction's text, as RT's Content(Type => 'text/plain'): its first text/plain
        part, else its HTML as text."""
        data = self.rt.call(
            "GET",
            f"/transaction/{quote(txn_id)}/attachments",
            params={"fields": "ContentType,Content", "per_page": 100},
        )
        return message_text(data.get("items") or [])

    def _single_valued(self, cf_id: str) -> bool:
        if cf_id not in self._single:
            data = self.rt.call("GET", f"/customfield/{quote(cf_id)}")
            self._single[cf_id] = str(data.get("MaxValues") or "0") == "1"
        return self._single[cf_id]
