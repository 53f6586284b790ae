"""Chat transcripts, web forms and the generic JSON API to the canonical ticket.

Each channel's payload is a pydantic model (the documented shape of ``POST /v1/intake/{channel}``);
the original is kept as ``raw`` for audit. E-mail lives in email_adapter, helpdesk in webhooks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.errors import InputError, first_problem
from agent.language import detect_language
from agent.models import Account, Attachment, CustomFields, Message, Ticket, as_utc
from api.intake.models import Adapted

SUBJECT_CHARS = 120


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChatLine(_In):
    """One line of a transcript."""

    role: Literal["customer", "agent", "bot", "system"] = "customer"
    author: str | None = None
    text: str = Field(max_length=50_000)
    sent_at: datetime | None = None


class ChatTranscript(_In):
    """A chat conversation as the chat tool exports it."""

    conversation_id: str = Field(min_length=1, max_length=200)
    requester: str | None = None
    account: Account = Field(default_factory=Account)
    language: str | None = None
    subject: str | None = Field(default=None, max_length=2_000)
    messages: list[ChatLine] = Field(min_length=1, max_length=2_000)


class WebForm(_In):
    """A support form submission."""

    submission_id: str = Field(min_length=1, max_length=200)
    email: str | None = None
    name: str | None = None
    subject: str = Field(default="", max_length=2_000)
    description: str = Field(default="", max_length=100_000)
    category: str | None = None
    product: str | None = None
    severity: str | None = None
    language: str | None = None
    account: Account = Field(default_factory=Account)
    attachments: list[Attachment] = Field(default_factory=list)
    fields: CustomFields = Field(
        default_factory=dict, description="Any other form fields (custom_fields)"
    )


def _first_line(text: str) -> str:
    line = next((x.strip() for x in text.splitlines() if x.strip()), "")
    return line if len(line) <= SUBJECT_CHARS else line[: SUBJECT_CHARS - 1] + "…"


def _ticket(**values: Any) -> Ticket:
    try:
        ticket = Ticket(**values)
    except ValidationError as exc:
        raise InputError(f"{first_problem(exc, 'ticket')}") from None
    if ticket.language is None:
        ticket.language = detect_language(ticket.text)
    return ticket


def _parse(model: type[BaseModel], payload: Any, channel: str) -> Any:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise InputError(f"{channel}: {first_problem(exc, 'payload')}") from None


def _utc(when: datetime | None) -> datetime | None:
    """A chat time with its zone; a naive one is UTC (the product's convention)."""
    return as_utc(when) if when is not None else None


def adapt_chat(payload: Any) -> Adapted:
    """A transcript: customer lines are the body, every line (in time order) is a message."""
    chat: ChatTranscript = _parse(ChatTranscript, payload, "chat")
    ordered = list(chat.messages)
    if all(line.sent_at is not None for line in ordered):
        # Exports are not always in time order; sort() is stable for equal times.
        ordered.sort(key=lambda line: _utc(line.sent_at))  # type: ignore[arg-type,return-value]
    said = "\n".join(line.text.strip() for line in ordered if line.role == "customer")
    messages = [
        Message(
            role="agent" if line.role in ("agent", "bot") else line.role,  # type: ignore[arg-type]
            author=line.author,
            body=line.text,
            sent_at=_utc(line.sent_at),
        )
        for line in ordered
        if line.text.strip()
    ]
    ticket = _ticket(
        channel="chat",
        external_id=chat.conversation_id,
        subject=chat.subject or _first_line(said),
        body=said,
        requester=chat.requester,
        account=chat.account,
        language=chat.language,
        messages=messages,
    )
    return Adapted(ticket=ticket, raw=chat.model_dump(mode="json"))


def adapt_web(payload: Any) -> Adapted:
    """A web form: subject and description, declared severity, category and product."""
    form: WebForm = _parse(WebForm, payload, "web")
    ticket = _ticket(
        channel="web",
        external_id=form.submission_id,
        subject=form.subject or _first_line(form.description),
        body=form.description,
        requester=form.email,
        account=form.account,
        language=form.language,
        product=form.product,
        category=form.category,
        severity=form.severity,
        attachments=form.attachments,
        custom_fields={**form.fields, **({"name": form.name} if form.name else {})},
    )
    return Adapted(ticket=ticket, raw=form.model_dump(mode="json"))


def adapt_api(payload: Any) -> Adapted:
    """The generic JSON API: the canonical ticket itself (channel forced to ``api``)."""
    if not isinstance(payload, dict):
        raise InputError("api: expected a JSON object (the ticket)")
    values = {**payload, "channel": "api"}
    ticket = _ticket(**values)
    return Adapted(ticket=ticket, raw=dict(payload))
