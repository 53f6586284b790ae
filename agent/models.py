"""The canonical models every channel, node and endpoint speaks: ticket, decision, brief."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from agent.json_input import MAX_DEPTH, MAX_ITEMS, bounded

Channel = Literal["email", "chat", "web", "api", "helpdesk", "phone", "other"]
Role = Literal["customer", "agent", "system"]
EvidenceKind = Literal[
    "rule",  # a policy rule matched (keyword, phrase, error code)
    "complexity",  # the complexity score and its parts
    "precedent",  # a similar past case voted
    "model",  # the learned text model's scores
    "history",  # the requester's or account's own past tickets
    "llm",  # the LLM's structured answer and rationale
    "policy",  # cold-start routing from team descriptions and skills
    "tree",  # a decision-tree branch fired
    "assignee",  # how the individual was chosen, who was skipped and why
    "priority",  # how the priority was set
    "sla",  # SLA targets and the protocol actions triggered
    "injection",  # an instruction-like passage was found and neutralised
    "redaction",  # personal data was redacted before leaving the process
    "fallback",  # a step failed or was skipped and the cheaper path decided
    "review",  # why the ticket waits for a human, or what the human decided
]


# Bounded so that storing, hashing or checkpointing a ticket never meets a nesting limit.
CustomFields = Annotated[
    dict[str, Any],
    AfterValidator(bounded),
    Field(
        description=(
            f"The source's own fields, any JSON: at most {MAX_DEPTH} levels deep (this object is"
            f" the first) and {MAX_ITEMS:,} keys and list items in all; more is refused"
        )
    ),
]


def _now() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return uuid.uuid4().hex


class Account(BaseModel):
    """The customer organisation a ticket belongs to."""

    id: str | None = None
    name: str | None = None
    tier: str = Field(default="standard", description="e.g. standard, premium, enterprise, vip")
    region: str | None = None
    language: str | None = None


class Attachment(BaseModel):
    """Metadata of an attachment; the content itself is never stored here."""

    filename: str
    content_type: str | None = None
    size_bytes: int | None = Field(default=None, ge=0)


class Message(BaseModel):
    """One message of a conversation (e-mail thread, chat transcript, helpdesk comment)."""

    role: Role = "customer"
    author: str | None = None
    body: str
    sent_at: datetime | None = None


class PriorTicket(BaseModel):
    """An earlier ticket of the same requester or account, as history for this one."""

    id: str
    subject: str = ""
    body: str = ""
    created_at: datetime | None = None
    status: str | None = None
    team: str | None = None
    resolution: str | None = None


CLOCK_SKEW = timedelta(hours=1)
"""How far ahead of this machine's clock a sender's arrival time may be."""


def as_utc(when: datetime) -> datetime:
    """The time with its zone: a naive one is UTC, the product's convention."""
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _not_ahead(when: datetime) -> datetime:
    """An arrival time in the future would start the SLA clock late: its due times would never
    come, so the ticket would never be at risk. A sender's clock may be a little ahead."""
    now = datetime.now(UTC)
    if as_utc(when) > now + CLOCK_SKEW:
        raise ValueError(
            f"received_at {when.isoformat()} is more than an hour ahead of this service's "
            f"clock ({now:%Y-%m-%dT%H:%M}Z)"
        )
    return when


class Ticket(BaseModel):
    """One incoming ticket, whatever channel it came from."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(
        default_factory=_new_id,
        min_length=1,
        max_length=200,
        # it names the ticket in URLs (/v1/tickets/{id}, /v1/review/{id}): no space, / ? # % \
        # nor a control character (PostgreSQL cannot store a NUL)
        pattern=r"^[^\s/?#%\\\x00-\x1f\x7f]+$",
        description="Letters, digits and punctuation other than / ? # % \\; no spaces",
    )
    channel: Channel = "api"
    # as long as the database column (api.tables) and the intake adapters' source ids; no NUL,
    # which PostgreSQL cannot store
    external_id: str | None = Field(default=None, max_length=200, pattern=r"^[^\x00]*$")
    subject: str = Field(default="", max_length=2_000)
    body: str = Field(default="", max_length=200_000)
    requester: str | None = None
    account: Account = Field(default_factory=Account)
    language: str | None = None
    product: str | None = None
    category: str | None = None
    severity: str | None = Field(default=None, description="Severity declared by the source form")
    custom_fields: CustomFields = Field(default_factory=dict)
    attachments: list[Attachment] = Field(default_factory=list)
    received_at: Annotated[datetime, AfterValidator(_not_ahead)] = Field(
        default_factory=_now,
        description="When the ticket arrived; its SLA clock starts here (naive times are UTC)",
    )
    messages: list[Message] = Field(default_factory=list)
    history: list[PriorTicket] = Field(default_factory=list)
    reopen_count: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _has_text(self) -> Ticket:
        if not (self.subject.strip() or self.body.strip()):
            raise ValueError("a ticket needs a subject or a body")
        return self

    @property
    def text(self) -> str:
        """Subject and body as one text, the unit that is embedded and classified."""
        return join_text(self.subject, self.body)

    def as_prompt(self) -> str:
        """Render the ticket as delimited data for a prompt; its text is never an instruction."""
        parts = [
            "<ticket>",
            f"<subject>{escape_delimiters(self.subject)}</subject>",
            f"<body>{escape_delimiters(self.body)}</body>",
            f"<channel>{self.channel}</channel>",
            f"<account_tier>{escape_delimiters(self.account.tier)}</account_tier>",
        ]
        if self.product:
            parts.append(f"<product>{escape_delimiters(self.product)}</product>")
        parts.append("</ticket>")
        return "\n".join(parts)


def join_text(subject: str, body: str) -> str:
    """Subject and body as one text: the same for a new ticket and a past case."""
    if subject and body:
        return f"{subject}\n{body}"
    return subject or body


def escape_delimiters(text: str) -> str:
    """Neutralise delimiter look-alikes so untrusted text cannot close its own envelope."""
    return text.replace("<", "‹").replace(">", "›")


class Evidence(BaseModel):
    """One reason behind a decision."""

    kind: EvidenceKind
    source: str = Field(description="Rule id, case id, model name or node that produced it")
    detail: str
    team: str | None = Field(default=None, description="The team this piece points to, if any")
    weight: float | None = None


class TeamScore(BaseModel):
    """A candidate team with its calibrated probability."""

    team: str
    score: float = Field(ge=0.0, le=1.0)


class SLA(BaseModel):
    """Due times that follow from the priority and the policy's business hours."""

    first_response_due: datetime
    resolution_due: datetime
    business_hours: bool
    actions: list[str] = Field(default_factory=list, description="Protocol actions triggered")

    @property
    def clock_started(self) -> bool:
        """Whether the ticket is held to these due times (the level's start_sla_clock)."""
        return "start_sla_clock" in self.actions


class LLMUsage(BaseModel):
    """What the LLM cost for one decision."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    model: str | None = None


DecisionPath = Literal["rule", "tree", "learned", "llm", "policy", "human"]


class TriageDecision(BaseModel):
    """Where a ticket goes, how urgent it is, and the evidence for both."""

    ticket_id: str
    escalate: bool = Field(description="False: stays with first-line agents")
    team: str = Field(description="Best-guess team, also when needs_review is true")
    tier: int = Field(ge=1, le=5)
    assignee: str | None = None
    priority: str
    sla: SLA | None = None
    tags: list[str] = Field(default_factory=list)
    confidence: float = Field(ge=0.0, le=1.0)
    needs_review: bool = False
    review_reasons: list[str] = Field(default_factory=list)
    decided_by: DecisionPath
    alternatives: list[TeamScore] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    policy_version: str
    model_version: str | None = None
    llm: LLMUsage = Field(default_factory=LLMUsage)
    decided_at: datetime = Field(default_factory=_now)
    latency_ms: float | None = None


class HistoryItem(BaseModel):
    """One entry of the prior interaction history shown to the specialist."""

    when: datetime | None = None
    kind: Literal["ticket", "message"]
    ref: str
    summary: str
    outcome: str | None = None


class SimilarEscalation(BaseModel):
    """A past case shown in the brief, with how it was resolved."""

    case_id: str
    similarity: float
    team: str | None = None
    summary: str
    resolution: str | None = None


class NextStep(BaseModel):
    """A suggested step, always traceable to a precedent or the LLM."""

    text: str
    source: str = Field(description="The case id it comes from, or 'llm'")


class Brief(BaseModel):
    """What the specialist reads first."""

    ticket_id: str
    headline: str
    problem: str
    customer: str
    history: list[HistoryItem] = Field(default_factory=list)
    rule_hits: list[str] = Field(default_factory=list)
    error_codes: list[str] = Field(default_factory=list)
    similar: list[SimilarEscalation] = Field(default_factory=list)
    next_steps: list[NextStep] = Field(default_factory=list)
    decision_summary: str = ""
