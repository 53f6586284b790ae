"""The Request Tracker 5 adapter over REST2 (token auth, bounded timeouts, checked updates).

RT answers a PUT with 200 even when part of it failed ("Queue nope does not exist"): every update
is read back and each field compared, so a refused field is reported, never assumed applied.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from api.helpdesk.base import (
    HelpdeskRejected,
    HelpdeskTicket,
    HelpdeskTransaction,
    HelpdeskUnavailable,
    Requester,
    TicketUpdate,
    UpdateResult,
)
from api.helpdesk.names import BOT_USER
from api.intake.html_text import html_to_text

UNSET = "1970-01-01T00:00:00Z"  # RT's "no date"
PAGE = 100
HISTORY_FIELDS = "Type,Field,OldValue,NewValue,Creator,Created,ObjectId"
LIST_FIELDS = "Subject,Status,Queue,Owner,Priority,Created,Resolved,Requestor"


def _when(value: Any) -> datetime | None:
    if not value or value == UNSET:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def message_text(attachments: list[dict[str, Any]]) -> str | None:
    """A message's text from its attachments: the first text/plain part, else the first
    text/html one as text (RT's web editor stores messages as HTML only)."""
    html = None
    for att in attachments:
        kind = str(att.get("ContentType", ""))
        if kind.startswith("text/plain"):
            return str(att.get("Content") or "")
        if kind.startswith("text/html") and html is None:
            html = html_to_text(str(att.get("Content") or ""))
    return html


def _ref(value: Any) -> str:
    """The id (or Name when expanded) of an RT object reference."""
    if isinstance(value, dict):
        return str(value.get("Name") or value.get("id") or "")
    return "" if value is None else str(value)


class RTHelpdesk:
    """Request Tracker 5 through /REST/2.0 with an auth token."""

    name = "rt"

    def __init__(
        self,
        base_url: str,
        token: str,
        timeout_s: float = 5.0,
        bot_user: str = BOT_USER,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.bot_user = bot_user
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=f"{self.base_url}/REST/2.0",
            headers={"Authorization": f"token {token}", "Accept": "application/json"},
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 3.0)),
            transport=transport,
        )
        self._names: dict[tuple[str, str], str] = {}

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def call(self, method: str, path: str, created: bool = False, **kwargs: Any) -> Any:
        """One REST2 request; its JSON answer. Unreachable, 429/5xx or the token refused (401)
        raise HelpdeskUnavailable, a refusal HelpdeskRejected. ``created``: only "201 Created"
        is success, and the answer is not read (None)."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise HelpdeskUnavailable(f"RT {method} {path}: {type(exc).__name__}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise HelpdeskUnavailable(f"RT {method} {path}: HTTP {response.status_code}")
        if response.status_code == 401:
            # Our token, not this request: revoked or mistyped, it is fixed and the work waits.
            raise HelpdeskUnavailable(f"RT {method} {path}: HTTP 401, the token was refused")
        if response.status_code >= 400:
            detail = response.text[:200].replace("\n", " ")
            raise HelpdeskRejected(f"RT {method} {path}: HTTP {response.status_code} {detail}")
        if created:
            if response.status_code != 201:  # not RT's answer (a proxy's page): try again
                raise HelpdeskUnavailable(f"RT {method} {path}: HTTP {response.status_code}")
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise HelpdeskUnavailable(f"RT {method} {path}: answer is not JSON") from exc

    def name_of(self, kind: str, ident: str) -> str:
        """Queue/user/custom field name from its numeric id (cached: ids never change)."""
        if not ident.isdigit():
            return ident
        key = (kind, ident)
        if key not in self._names:
            data = self.call("GET", f"/{kind}/{ident}")
            self._names[key] = str(data.get("Name") or ident)
        return self._names[key]

    def ping(self) -> str:
        """RT's version; raises when RT is down or refuses the token."""
        return f"RT {self.call('GET', '/rt').get('Version', '?')}"

    def ticket(self, ticket_id: str) -> HelpdeskTicket:
        """The ticket with queue and owner by name and custom fields as value lists."""
        data = self.call("GET", f"/ticket/{quote(ticket_id)}")
        return self._ticket(data)

    def _ticket(self, data: dict[str, Any]) -> HelpdeskTicket:
        owner = _ref(data.get("Owner"))
        fields = {
            str(cf.get("name")): [str(v) for v in cf.get("values") or []]
            for cf in data.get("CustomFields") or []
        }
        return HelpdeskTicket(
            id=str(data.get("id")),
            subject=str(data.get("Subject") or ""),
            queue=self.name_of("queue", _ref(data.get("Queue"))),
            status=str(data.get("Status") or ""),
            owner=None if owner in ("", "Nobody") else owner,
            priority=int(data.get("Priority") or 0),
            requestors=[_ref(r) for r in data.get("Requestor") or []],
            created=_when(data.get("Created")),
            resolved=_when(data.get("Resolved")),
            custom_fields=fields,
        )

    def pages(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Every item of a paged REST2 collection."""
        # RT hides transactions the user may not see after paging, so a short page is not
        # the last one: read until a page comes back empty.
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            data = self.call("GET", path, params={**params, "per_page": PAGE, "page": page})
            batch = data.get("items") or []
            if not batch:
                return items
            items.extend(batch)
            page += 1

    def history(self, ticket_id: str) -> list[HelpdeskTransaction]:
        """All transactions, oldest first, with message text (text/plain, else HTML as text)."""
        path = f"/ticket/{quote(ticket_id)}"
        rows = self.pages(f"{path}/history", {"fields": HISTORY_FIELDS})
        parts: dict[str, list[dict[str, Any]]] = {}
        for att in self.pages(
            f"{path}/attachments", {"fields": "TransactionId,ContentType,Content"}
        ):
            parts.setdefault(_ref(att.get("TransactionId")), []).append(att)
        texts = {
            txn: text for txn, atts in parts.items() if (text := message_text(atts)) is not None
        }
        return [self.transaction(row, texts) for row in rows]

    def transaction(self, row: dict[str, Any], texts: dict[str, str]) -> HelpdeskTransaction:
        """A REST2 transaction row (with its texts by transaction id) in the helpdesk's terms."""
        field = str(row.get("Field") or "") or None
        old, new = str(row.get("OldValue") or "") or None, str(row.get("NewValue") or "") or None
        kind = {"Queue": "queue", "Owner": "user"}.get(field or "")
        if kind:
            old = self.name_of(kind, old) if old else None
            new = self.name_of(kind, new) if new else None
        if row.get("Type") == "CustomField" and field:
            field = self.name_of("customfield", field)
        ident = str(row.get("id"))
        return HelpdeskTransaction(
            id=ident,
            type=str(row.get("Type") or ""),
            field=field,
            old_value=old,
            new_value=new,
            creator=_ref(row.get("Creator")),
            created=_when(row.get("Created")),
            content=texts.get(ident),
            ticket_id=_ref(row.get("ObjectId")) or None,
        )

    def requester_tickets(self, requester: str, limit: int = 10) -> list[HelpdeskTicket]:
        """The requester's tickets, newest first."""
        address = requester.replace("\\", "").replace("'", "")
        params = {
            "query": f"Requestor.EmailAddress = '{address}'",
            "fields": LIST_FIELDS,
            "fields[Queue]": "Name",
            "fields[Owner]": "Name",
            "orderby": "Created",
            "order": "DESC",
            "per_page": max(1, min(limit, PAGE)),
        }
        data = self.call("GET", "/tickets", params=params)
        return [self._ticket(item) for item in data.get("items") or []]

    def requester(self, requester: str) -> Requester | None:
        """The RT user: organisation, language and user custom fields (tier, region)."""
        try:
            data = self.call("GET", f"/user/{quote(requester, safe='@')}")
        except HelpdeskRejected:
            return None
        fields = {
            str(cf.get("name")): [str(v) for v in cf.get("values") or []]
            for cf in data.get("CustomFields") or []
        }
        return Requester(
            name=str(data.get("Name") or requester),
            email=data.get("EmailAddress") or None,
            organization=data.get("Organization") or None,
            language=data.get("Lang") or None,
            custom_fields=fields,
        )

    def update(self, ticket_id: str, update: TicketUpdate) -> UpdateResult:
        """PUT the fields, then read the ticket back: a field RT did not take is reported."""
        body: dict[str, Any] = {}
        if update.queue is not None:
            body["Queue"] = update.queue
        if update.owner is not None:
            body["Owner"] = update.owner
        if update.priority is not None:
            body["Priority"] = update.priority
        if update.custom_fields:
            body["CustomFields"] = update.custom_fields
        if not body:
            return UpdateResult()
        # RT sets a PUT's Owner before its Queue; people may own tickets only in their team's
        # queue (RT's usual rights), so a new owner is refused in the queue being left. The
        # owner goes in a second PUT, once the ticket is in its queue.
        puts = [body]
        if "Queue" in body and "Owner" in body:
            puts = [{k: v for k, v in body.items() if k != "Owner"}, {"Owner": body["Owner"]}]
        messages: list[str] = []
        for put in puts:
            answer = self.call("PUT", f"/ticket/{quote(ticket_id)}", json=put)
            messages += [str(m) for m in answer] if isinstance(answer, list) else [str(answer)]
        return check_update(update, self.ticket(ticket_id), messages)

    def comment(self, ticket_id: str, text: str) -> None:
        """An internal comment, as plain text (RT shows Markdown as written).

        RT answers 201 when it added the comment and 400 (with why) when it did not. Its
        message is in the bot user's language and not read: "Comments added" only in English,
        and RT 5 sends some languages' (German "hinzugefügt") in Latin-1 under a UTF-8 header.
        """
        self.call(
            "POST",
            f"/ticket/{quote(ticket_id)}/comment",
            created=True,
            json={"Content": text, "ContentType": "text/plain"},
        )


def check_update(update: TicketUpdate, now: HelpdeskTicket, messages: list[str]) -> UpdateResult:
    """Compare what was asked with the ticket read back after the update."""
    said = "; ".join(messages)[:300]
    result = UpdateResult(messages=messages)
    checks: list[tuple[str, bool]] = []
    if update.queue is not None:
        checks.append(("queue", now.queue.lower() == update.queue.lower()))  # RT: any case
    if update.owner is not None:
        checks.append(("owner", (now.owner or "").lower() == update.owner.lower()))
    if update.priority is not None:
        checks.append(("priority", now.priority == update.priority))
    for name, values in update.custom_fields.items():
        checks.append((f"cf:{name}", sorted(now.custom_fields.get(name, [])) == sorted(values)))
    for field, ok in checks:
        if ok:
            result.applied.append(field)
        else:
            result.failed[field] = said or "not applied"
    return result
