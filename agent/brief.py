"""The brief a specialist reads first, as JSON (the Brief model) and Markdown.

The brief goes back to whoever submitted the ticket, so what it quotes from other tickets (similar
past cases, and earlier tickets found by a requester name anyone can type) has its personal data
redacted like an LLM prompt: the submitter sees how such cases went, not whose they were.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime

from agent.injection import normalise_whitespace, scan, visible
from agent.models import (
    Brief,
    HistoryItem,
    NextStep,
    SimilarEscalation,
    Ticket,
    TriageDecision,
    as_utc,
)
from agent.redact import Redactor
from agent.redact_names import ticket_names, ticket_words
from agent.state import TriageState
from knowledge.cases import Case

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
# Characters that make Markdown of text: emphasis, code, links, HTML, and the escape itself.
_MARKUP = re.compile(r"([\\`*_\[\]<>])")
# What makes a line a heading, quote, list item, table row, fence or rule when it starts one.
_BLOCK_MARKER = re.compile(r"^(\d+(?=[.)])|)([#>+=|~-]|(?<=\d)[.)])")
MAX_SIMILAR = 3
LEFT_OUT = "[instruction-like text left out]"
NOT_RECORDED = "not recorded"  # a similar case's resolution, when it has none


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _quotable(text: str, redactor: Redactor) -> str:
    """Another ticket's text as the brief may quote it: no instruction-like passages (they are
    untrusted data, and a brief may be read by tools as well as people), no personal data, and
    nothing drawn as nothing (it hid text from a reader and addresses from redaction)."""
    return redactor.redact(visible(normalise_whitespace(scan(text).clean_text)))


def _said(role: str, text: str, limit: int) -> str:
    """A message of the ticket's own thread as the brief shows it, within limit characters:
    untrusted like its body, so without instruction-like passages, saying when one was left out
    (after the text cut to make room, not cut off with it)."""
    found = scan(text)
    said = f"{role}: {visible(found.clean_text)}"
    if not found.passages:
        return _shorten(said, limit)
    return f"{_shorten(said, limit - len(LEFT_OUT) - 1)} {LEFT_OUT}"


def _first_sentences(text: str, n: int = 2, limit: int = 240) -> str:
    """The first n sentences within limit characters, ending in "…" when anything was left out."""
    sentences = _SENTENCE.split(" ".join(text.split()))
    kept = " ".join(sentences[:n]) + (" …" if len(sentences) > n else "")
    return _shorten(kept, limit)


def _customer(ticket: Ticket, account_cases: list[Case]) -> str:
    account = ticket.account
    bits = [f"requester {ticket.requester or 'unknown'}", f"account {account.id or 'unknown'}"]
    bits.append(f"tier {account.tier}")
    if account.region:
        bits.append(f"region {account.region}")
    language = ticket.language or account.language
    if language:
        bits.append(f"language {language}")
    bits.append(f"via {ticket.channel}")
    teams = Counter(c.team for c in account_cases if c.team and c.id != ticket.id)
    if teams:
        top = ", ".join(f"{team} {n}" for team, n in teams.most_common(3))
        bits.append(f"the account's latest cases went to {top}")
    return ", ".join(bits)


def _history(state: TriageState, redactor: Redactor) -> list[HistoryItem]:
    ticket = state["ticket"]

    def quoted(text: str | None, limit: int | None = None) -> str | None:
        # Redact the whole text, then cut it: a cut first would leave half an address or card
        # number that no pattern matches any more.
        if not text:
            return None
        clean = _quotable(text, redactor)
        return _shorten(clean, limit) if limit else clean

    items = [
        HistoryItem(
            when=prior.created_at,
            kind="ticket",
            ref=prior.id,
            summary=quoted(f"{prior.subject} {prior.body}".strip(), 200) or "",
            outcome=quoted(
                " / ".join(x for x in (prior.status, prior.team, prior.resolution) if x), 300
            ),
        )
        for prior in ticket.history
    ]
    # The helpdesk names an earlier ticket by its own id, the knowledge base by ours: the same
    # ticket from both is told apart by neither id, but by its text. One of the helpdesk's stands
    # for one case only: a requester's five "Password reset" tickets are five interactions.
    by_id = {p.id: _shorten(f"{p.subject} {p.body}".strip(), 200) for p in ticket.history}
    texts = Counter(by_id.values())
    for case in state.get("requester_cases", []):
        text = by_id.get(case.id) or _shorten(case.text, 200)
        if case.id == ticket.id:
            continue
        if case.id in by_id or texts[text] > 0:
            texts[text] -= 1
            continue
        items.append(
            HistoryItem(
                when=case.created_at,
                kind="ticket",
                ref=case.id,
                summary=quoted(case.text, 200) or "",
                outcome=quoted(" / ".join(x for x in (case.team, case.resolution) if x), 300),
            )
        )
    # The helpdesk and the knowledge base each list newest first: together, so are they.
    items.sort(key=lambda item: _newest_first(item.when))
    messages = [
        HistoryItem(
            when=m.sent_at,
            kind="message",
            ref=f"{ticket.id}#{i + 1}",
            summary=_said(m.role, m.body, 300),
        )
        for i, m in enumerate(ticket.messages)
    ]
    # A thread reads oldest first; exports do not always list it so. Without every time, the
    # order given is the only one known.
    if all(m.when is not None for m in messages):
        messages.sort(key=lambda m: as_utc(m.when))  # type: ignore[arg-type]
    return items + messages


def _newest_first(when: datetime | None) -> tuple[bool, float]:
    """Sort key: dated items newest first, then the undated ones in the order given."""
    return (when is None, -as_utc(when).timestamp() if when is not None else 0.0)


def _resolution(text: str | None, redactor: Redactor) -> str | None:
    """A past case's resolution as the brief quotes it; None when none was recorded, LEFT_OUT
    when all of it was instruction-like (so the reader knows one was there)."""
    if not text or not text.strip():
        return None
    return _quotable(text, redactor) or LEFT_OUT


def _precedent_steps(similar: list[SimilarEscalation], team: str) -> list[NextStep]:
    """How the team's own similar cases were resolved, as steps citing them."""
    return [
        NextStep(text=_first_sentences(s.resolution), source=s.case_id)
        for s in similar
        if s.resolution and s.resolution != LEFT_OUT and s.team == team
    ]


def _distinct(steps: list[NextStep]) -> list[NextStep]:
    """The same resolution cited twice is one step, from its first source."""
    kept: dict[str, NextStep] = {}
    for step in steps:
        kept.setdefault(step.text.casefold(), step)
    return list(kept.values())


def steps_after_review(brief: Brief, guessed: str, team: str) -> list[NextStep]:
    """The brief's next steps once a reviewer sent the ticket to ``team`` instead of the guess:
    the guess's steps (its precedents', the LLM's) were for another team's work."""
    if team == guessed:
        return brief.next_steps
    return _distinct(_precedent_steps(brief.similar, team))


def build_brief(state: TriageState, decision: TriageDecision) -> Brief:
    """Problem, customer, full history, rule hits, similar escalations and next steps."""
    ticket, complexity = state["ticket"], state["complexity"]
    # Earlier tickets of the same requester name the same people.
    redactor = Redactor(ticket_names(ticket), keep=ticket_words(ticket), context=[ticket.text])
    # A ticket the knowledge base already holds (learned from the helpdesk, corrected by
    # feedback) is its own nearest case when triaged again: no precedent of itself.
    earlier = [s for s in state.get("similar", []) if s.case.id != ticket.id]
    similar = [
        SimilarEscalation(
            case_id=s.case.id,
            similarity=round(s.similarity, 3),
            team=s.case.team,
            summary=_shorten(_quotable(s.case.text, redactor), 200),  # cleaned whole, then cut
            resolution=_resolution(s.case.resolution, redactor),
        )
        for s in earlier[:MAX_SIMILAR]
    ]
    candidates = _precedent_steps(similar, decision.team)
    outcome = state.get("llm")
    # The LLM's steps are for the team it chose; a rule or a tree branch may have sent the
    # ticket elsewhere.
    if outcome is not None and outcome.choice is not None and outcome.choice.team == decision.team:
        candidates += [NextStep(text=step, source="llm") for step in outcome.choice.next_steps]
    where = "stays with first line" if not decision.escalate else f"escalated to {decision.team}"
    review = " — waiting for review" if decision.needs_review else ""
    return Brief(
        ticket_id=ticket.id,
        # Cleaned as the problem is: a subject that only gives orders leaves the text's start.
        headline=_shorten(visible(state["clean_subject"] or state["clean_text"]) or LEFT_OUT, 120),
        problem=_first_sentences(visible(state["clean_text"]), n=4, limit=600) or LEFT_OUT,
        customer=_customer(ticket, state.get("account_cases", [])),
        history=_history(state, redactor),
        rule_hits=[f"{h.rule_id}: {', '.join(h.matched)}" for h in state.get("hits", [])],
        error_codes=complexity.error_codes,
        similar=similar,
        next_steps=_distinct(candidates),
        decision_summary=(
            f"{where} (tier {decision.tier}, {decision.priority}, "
            f"confidence {decision.confidence:.2f}, by {decision.decided_by}){review}"
        ),
    )


def _md(text: str) -> str:
    """Outside text as one line of Markdown that shows as itself: no line breaks (they could start
    headings, lists or HTML blocks), no markup, HTML, code spans or links."""
    return _MARKUP.sub(r"\\\1", " ".join(text.split()))


def _md_paragraph(text: str) -> str:
    """As _md, for a line of its own: a leading list, quote or heading marker stays text."""
    return _BLOCK_MARKER.sub(r"\1\\\2", _md(text), count=1)


def _code(text: str) -> str:
    """A code span that holds the text whatever backticks it has (CommonMark's own rule)."""
    line = " ".join(text.split())
    fence = "`" * (max((len(run) for run in re.findall(r"`+", line)), default=0) + 1)
    pad = " " if line.startswith("`") or line.endswith("`") else ""
    return f"{fence}{pad}{line}{pad}{fence}"


def brief_markdown(brief: Brief, decision: TriageDecision | None = None) -> str:
    """Render the brief as Markdown for a helpdesk comment or a terminal; what came from outside
    (tickets, past cases, the LLM, a reviewer's note) is shown as text, one line each."""
    out = [f"## {_md(brief.headline)}", "", f"**Decision:** {_md(brief.decision_summary)}"]
    if decision is not None and decision.tags:
        out.append(f"**Tags:** {_md(', '.join(decision.tags))}")
    out += ["", "### Problem", _md_paragraph(brief.problem)]
    out += ["", "### Customer", _md_paragraph(brief.customer)]
    if brief.rule_hits or brief.error_codes:
        out += ["", "### Rule hits and error codes"]
        out += [f"- {_md(hit)}" for hit in brief.rule_hits]
        if brief.error_codes:
            out.append(f"- error codes: {_md(', '.join(brief.error_codes))}")
    out += ["", "### Prior interaction history"]
    if brief.history:
        for item in brief.history:
            when = item.when.date().isoformat() if item.when else "undated"
            tail = f" → {_md(item.outcome)}" if item.outcome else ""
            out.append(f"- {when} {_code(item.ref)} {_md(item.summary)}{tail}")
    else:
        out.append("- none known")
    if brief.similar:
        out += ["", "### Similar past escalations"]
        for s in brief.similar:
            team = _md(s.team or "no team")
            out.append(f"- {_code(s.case_id)} ({s.similarity:.2f}, {team}): {_md(s.summary)}")
            resolved = _md(_shorten(s.resolution, 300)) if s.resolution else NOT_RECORDED
            out.append(f"  - resolved: {resolved}")
    if brief.next_steps:
        out += ["", "### Suggested next steps"]
        out += [
            f"{i}. {_md(step.text)} _(from {_md(step.source)})_"
            for i, step in enumerate(brief.next_steps, 1)
        ]
    return "\n".join(out) + "\n"
