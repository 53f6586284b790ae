"""What the LLM is asked and may answer: the policy-bound answer schema and the budgeted prompt.

Everything that goes into the prompt is injection-cleaned and redacted here; the subject, the
product, the account tier and each precedent are capped (the first three end in CUT_MARK when
cut), and precedents are trimmed (least similar dropped first, then the ticket body truncated,
ending in CUT_MARK too) to fit the token budget.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from agent.injection import scan, visible
from agent.models import Account, TeamScore, Ticket, escape_delimiters
from agent.policy import Policy
from agent.prompts import PromptMessage, load_prompt
from agent.redact import Redactor
from agent.redact_names import ticket_names, ticket_words
from agent.tokens import count_tokens, truncate_to_tokens
from knowledge.cases import SimilarCase

PRECEDENT_TOKENS = 160  # per past case: enough for the gist, cheap enough for several
SUBJECT_TOKENS = 128  # a subject is one line: ~500 characters of English, a few hundred CJK
FIELD_TOKENS = 32  # a product or an account tier is a name: ~120 characters of English
CUT_MARK = "…"  # ends a subject or name that was cut: the model does not take the stub for it
MIN_BODY_TOKENS = 64
MESSAGE_OVERHEAD_TOKENS = 4  # role and separators per chat message
MAX_CANDIDATES = 5  # router scores shown
JOIN_TOKENS = 8  # text against its tags can take a few tokens more than the parts counted alone
MAX_RATIONALE_CHARS = 400
MAX_STEP_CHARS = 200
QUOTE_WORDS = 8  # so many words in a row from the instructions are a quote, not a coincidence
WORD = re.compile(r"\w+")


class LLMChoice(BaseModel):
    """The LLM's answer; ``choice_model`` narrows team and priority to the policy's names."""

    model_config = ConfigDict(extra="forbid")

    team: str
    priority: str
    escalate: bool
    confidence: float = Field(ge=0.0, le=1.0)
    rationale: str
    next_steps: list[str] = Field(default_factory=list, max_length=3)

    # Length is style, not safety: trim it rather than throw a usable answer away.
    @field_validator("rationale", mode="before")
    @classmethod
    def _short(cls, value: Any) -> Any:
        return value.strip()[:MAX_RATIONALE_CHARS] if isinstance(value, str) else value

    @field_validator("next_steps", mode="before")
    @classmethod
    def _few(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        steps = [s.strip()[:MAX_STEP_CHARS] if isinstance(s, str) else s for s in value]
        return [s for s in steps if s != ""][:3]


def choice_model(policy: Policy) -> type[LLMChoice]:
    """An LLMChoice whose team and priority are Literals of this policy: no invented team passes."""
    teams: Any = Literal[tuple(policy.team_names)]
    scale: Any = Literal[tuple(policy.priorities.scale)]
    return create_model(
        "LLMChoice",
        __base__=LLMChoice,
        team=(teams, ...),
        priority=(scale, ...),
    )


def response_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema sent as the response format: every field required, nothing extra."""
    schema = model.model_json_schema()
    schema["required"] = list(schema["properties"])
    schema["additionalProperties"] = False
    return schema


ResponseFormatKind = Literal["json_schema", "json_object"]


def response_format(schema: dict[str, Any], kind: ResponseFormatKind) -> dict[str, Any]:
    """The request's response_format: a strict JSON schema, or (llama-cpp-python) a JSON object
    with the schema beside it."""
    if kind == "json_object":
        return {"type": "json_object", "schema": schema}
    return {
        "type": "json_schema",
        "json_schema": {"name": "triage_choice", "strict": True, "schema": schema},
    }


def format_tokens(response_format: dict[str, Any], encoding: str) -> int:
    """Tokens of the response format as the request carries it: its key and its JSON, written
    as the SDK writes the request body (no spaces, non-ASCII as is)."""
    sent = json.dumps(response_format, ensure_ascii=False, separators=(",", ":"))
    return count_tokens(f'"response_format":{sent}', encoding)


class BuiltPrompt(BaseModel):
    """The messages to send and what went into them."""

    messages: list[PromptMessage]
    tokens: int
    precedents_sent: list[str] = Field(description="Case ids kept after trimming")
    redactor_counts: dict[str, int]
    placeholders: dict[str, str] = Field(
        description="placeholder -> original of the ticket's own values, to restore answers"
    )
    fits: bool
    body_tokens: int = Field(description="The ticket body's tokens as the prompt shows it")
    body_tokens_sent: int = Field(description="As many of them sent: fewer when it was cut")


def build_prompt(
    *,
    ticket: Ticket,
    clean_text: str,
    policy: Policy,
    precedents: list[SimilarCase],
    candidates: list[TeamScore],
    budget: int,
    encoding: str,
    reserved: int = 0,
) -> BuiltPrompt:
    """Render the classify prompt within the token budget, of which ``reserved`` tokens go to the
    rest of the request (its response format); all customer text is redacted, the names of
    the people the ticket's fields give included."""
    redactor = Redactor(ticket_names(ticket), keep=ticket_words(ticket), context=[ticket.text])
    subject = scan(ticket.subject).clean_text if ticket.subject else ""
    body = (
        clean_text[len(subject) :].strip()
        if subject and clean_text.startswith(subject)
        else clean_text
    )
    # Nothing drawn as nothing is sent: tag characters spell text no reader of the ticket sees,
    # and a direction mark inside an address hides it from redaction.
    subject, body = redactor.redact(visible(subject)), redactor.redact(visible(body))
    # Only the body is cut to the budget below: a subject as long as a body (2,000 CJK characters
    # are over 1,200 tokens) would leave no room for it and the ticket would never be sent.
    subject = _cap(subject, SUBJECT_TOKENS, encoding)
    # Every other customer-supplied field the ticket shows the model is cleaned and redacted too,
    # and capped: neither has a length limit, and only the body is cut to the budget.
    product = (
        _cap(redactor.redact(_shown(ticket.product)), FIELD_TOKENS, encoding)
        if ticket.product
        else None
    )
    tier = _cap(redactor.redact(_shown(ticket.account.tier)), FIELD_TOKENS, encoding)
    account = ticket.account.model_copy(update={"tier": tier})
    # Answers get back only this ticket's own values: a past case's are other people's data.
    own_values = dict(redactor.mapping)
    cases = [
        _case_prompt(p, redactor, encoding) for p in sorted(precedents, key=lambda p: -p.similarity)
    ]

    def render(kept: list[tuple[str, str]], text: str) -> tuple[list[PromptMessage], int]:
        shown = ticket.model_copy(
            update={"subject": subject, "body": text, "product": product, "account": account}
        )
        messages, tokens = _render(policy, [c for _, c in kept], candidates, shown, encoding)
        return messages, tokens + reserved

    whole = room = count_tokens(escape_delimiters(body), encoding)  # as the prompt shows it
    if whole > budget:
        # No more of it than the whole budget is ever sent: cut to that before the trial renders
        # below, each of which counts the body it holds again (a 200,000-character body was
        # counted once per precedent dropped: 1.4 s with ten precedents, before any request).
        body = _cut_shown(body, budget, encoding)
        room = count_tokens(escape_delimiters(body), encoding)
    messages, tokens = render(cases, body)
    while tokens > budget and cases:
        cases = cases[:-1]
        messages, tokens = render(cases, body)
    mark = count_tokens(CUT_MARK, encoding)
    # Re-tokenising at the cut can add a token or two, hence the loop (it ends in two or three).
    while tokens > budget and room - (tokens - budget) >= MIN_BODY_TOKENS:
        room -= tokens - budget
        # Marked as cut, like the subject: the model does not take the stub for the whole.
        messages, tokens = render(cases, _cut_shown(body, room - mark, encoding) + CUT_MARK)
    return BuiltPrompt(
        messages=messages,
        tokens=tokens,
        precedents_sent=[case_id for case_id, _ in cases],
        redactor_counts=dict(redactor.counts),
        placeholders=own_values,
        fits=tokens <= budget,
        body_tokens=whole,
        body_tokens_sent=min(room, whole),
    )


def fixed_prompt_tokens(policy: Policy, encoding: str) -> int:
    """Tokens of the prompt before any ticket text: the instructions with this policy's teams,
    five router scores (its longest team names), an empty ticket (its longest channel, a one-token
    product and tier: their tags) and JOIN_TOKENS; no precedents. Cheap: one render, well under a
    millisecond."""
    names = sorted(policy.team_names, key=lambda name: -count_tokens(name, encoding))
    scores = [TeamScore(team=name, score=1.0) for name in names[:MAX_CANDIDATES]]
    empty = Ticket(subject="-", channel="helpdesk", product="-", account=Account(tier="-"))
    shown = empty.model_copy(update={"subject": ""})
    return _render(policy, [], scores, shown, encoding)[1] + JOIN_TOKENS


def quotes_instructions(text: str) -> bool:
    """True when text repeats QUOTE_WORDS words in a row of the classify prompt's instructions."""
    said = WORD.findall(text.lower())
    grams = _instruction_grams()
    return any(
        tuple(said[i : i + QUOTE_WORDS]) in grams for i in range(len(said) - QUOTE_WORDS + 1)
    )


@lru_cache(maxsize=1)
def _instruction_grams() -> frozenset[tuple[str, ...]]:
    template = load_prompt("classify", version=1)
    words = WORD.findall(" ".join(m.content for m in template.messages if m.role == "system"))
    words = [w.lower() for w in words]
    return frozenset(tuple(words[i : i + QUOTE_WORDS]) for i in range(len(words) - QUOTE_WORDS + 1))


def _cut_shown(text: str, n: int, encoding: str) -> str:
    """The longest prefix of text that has at most n tokens as the prompt shows it.

    Escaping turns '<' and '>' into one character each but more tokens: 1,024 '<' are 128 tokens,
    their escaped form 1,024; markup pasted into a body costs about a third more."""
    shown = truncate_to_tokens(escape_delimiters(text), n, encoding)
    return text[: len(shown)]


def _cap(text: str, n: int, encoding: str) -> str:
    """The text when it has at most n tokens as the prompt shows it, else its longest prefix
    that fits with CUT_MARK after it (the mark counted within the n)."""
    if count_tokens(escape_delimiters(text), encoding) <= n:
        return text
    room = n - count_tokens(CUT_MARK, encoding)
    # The mark can tokenise with the last characters into one token more: then cut one sooner.
    while room > 0:
        capped = _cut_shown(text, room, encoding) + CUT_MARK
        if count_tokens(escape_delimiters(capped), encoding) <= n:
            return capped
        room -= 1
    return CUT_MARK


def _render(
    policy: Policy,
    cases: list[str],
    candidates: list[TeamScore],
    shown: Ticket,
    encoding: str,
) -> tuple[list[PromptMessage], int]:
    """The classify prompt's messages and their token count."""
    messages = load_prompt("classify", version=1).render(
        teams=_teams(policy),
        first_line=policy.first_line_team,
        priorities=", ".join(policy.priorities.scale),
        precedents="\n".join(cases) or "(none)",
        candidates=", ".join(f"{c.team}: {c.score:.2f}" for c in candidates[:MAX_CANDIDATES])
        or "(none)",
        ticket=shown.as_prompt(),
    )
    tokens = sum(count_tokens(m.content, encoding) + MESSAGE_OVERHEAD_TOKENS for m in messages)
    return messages, tokens


def _case_prompt(similar: SimilarCase, redactor: Redactor, encoding: str) -> tuple[str, str]:
    case = similar.case
    # Past tickets are as untrusted as the new one: clean, redact and cap each.
    text = truncate_to_tokens(redactor.redact(_shown(case.text)), PRECEDENT_TOKENS, encoding)
    resolution = truncate_to_tokens(
        redactor.redact(_shown(case.resolution or "")), PRECEDENT_TOKENS // 2, encoding
    )
    shown = case.model_copy(update={"subject": "", "body": text, "resolution": resolution})
    return case.id, shown.as_prompt()


def _shown(text: str) -> str:
    """Untrusted text as the prompt may hold it: no instruction-like passages, nothing invisible."""
    return visible(scan(text).clean_text)


def _teams(policy: Policy) -> str:
    lines = []
    for team in policy.teams:
        about = team.description.strip().replace("\n", " ")[:200]
        skills = f"; skills: {', '.join(team.skills[:8])}" if team.skills else ""
        lines.append(f"- {team.name} (tier {team.tier}): {about}{skills}")
    return "\n".join(lines)
