"""The KPI counts of a period summed by the database, per final team, in one query.

Each ticket's record is the one api.ledger builds in Python (Ledger.outcomes, _record), stated in
SQL that SQLite and PostgreSQL both run:

- its decisions: the latest (the team and escalation without feedback) and the one it was sent
  with (the first that needed no review, else the latest), read from the covering index
  ix_decisions_kpi; needed review when any did;
- its feedback merged in the order stored: each field is the one the latest record giving it
  (not null) gave, and the first record's time is when the ticket was resolved;
- handling hours as given, else from the decision it was sent with to its resolution, counted
  to the microsecond as Python's timedelta does, and not when the feedback came first.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    Integer,
    Select,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from agent.kpis import KPICounts
from api.tables import DecisionRow, FeedbackRow, TicketRow


class micros_between(FunctionElement[int]):
    """Whole microseconds from the first time to the second (both columns of UTCDateTime)."""

    type = BigInteger()
    inherit_cache = True


@compiles(micros_between, "sqlite")
def _micros_sqlite(element: micros_between, compiler: SQLCompiler, **kw: Any) -> str:
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC). Seconds from the text before the fraction:
    # SQLite rounds a fraction to milliseconds, and .9996 would count one second too many.
    first, second = (compiler.process(arg, **kw) for arg in element.clauses)

    def micros(value: str) -> str:
        return (
            f"(CAST(strftime('%s', substr({value}, 1, 19)) AS INTEGER) * 1000000"
            f" + CAST(substr({value}, 21, 6) AS INTEGER))"
        )

    return f"({micros(second)} - {micros(first)})"


@compiles(micros_between)
def _micros_default(element: micros_between, compiler: SQLCompiler, **kw: Any) -> str:
    first, second = (compiler.process(arg, **kw) for arg in element.clauses)
    # EXTRACT(EPOCH ...) of a timestamp is an exact numeric of seconds and microseconds
    return (
        f"CAST(ROUND((EXTRACT(EPOCH FROM {second}) - EXTRACT(EPOCH FROM {first})) * 1000000)"
        " AS BIGINT)"
    )


def _flag(condition: ColumnElement[Any]) -> ColumnElement[int]:
    """1 where the condition holds, 0 where it does not, NULL where it is unknown."""
    return case({True: 1, False: 0}, value=condition)


def _latest_flag(id_: ColumnElement[int], flag: ColumnElement[Any]) -> ColumnElement[int]:
    """Of the rows where the flag (0 or 1) is known, the flag of the one with the highest id:
    that row's id * 2 + flag is the highest of all (an aggregate: no window, no join)."""
    return func.max(cast(id_, BigInteger) * 2 + flag) % 2


DECISION, FEEDBACK = 0, 1


def _events(window: list[ColumnElement[bool]]) -> Any:
    """The decisions and feedback of the period's tickets, as rows of one shape.

    team: the decision's, or the one feedback gives; escalated: the decision's, or the
    feedback's; at: when decided, or when the feedback was stored.
    """
    answer = FeedbackRow.feedback
    decisions = (
        select(
            DecisionRow.ticket_id,
            literal(DECISION).label("kind"),
            DecisionRow.id,
            DecisionRow.team,
            case((DecisionRow.escalate, 1), else_=0).label("escalated"),
            case((DecisionRow.needs_review, 1), else_=0).label("needs_review"),
            cast(null(), Integer).label("first_contact"),
            cast(null(), Float).label("hours"),
            DecisionRow.decided_at.label("at"),
        )
        .join(TicketRow, TicketRow.id == DecisionRow.ticket_id)
        .where(*window)
    )
    feedback = (
        select(
            FeedbackRow.ticket_id,
            literal(FEEDBACK).label("kind"),
            FeedbackRow.id,
            answer["final_team"].as_string().label("team"),
            _flag(answer["escalated"].as_boolean()).label("escalated"),
            cast(null(), Integer).label("needs_review"),
            _flag(answer["first_contact_resolved"].as_boolean()).label("first_contact"),
            answer["handling_hours"].as_float().label("hours"),
            FeedbackRow.created_at.label("at"),
        )
        .join(TicketRow, TicketRow.id == FeedbackRow.ticket_id)
        .where(*window)
    )
    return union_all(decisions, feedback).subquery("event")


def _tickets(window: list[ColumnElement[bool]]) -> Any:
    """One row per ticket with a decision: what its record is made of."""
    e = _events(window)
    of_ticket = {"partition_by": e.c.ticket_id}
    decision, feedback = e.c.kind == DECISION, e.c.kind == FEEDBACK

    def first_id(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.min(case((condition, e.c.id))).over(**of_ticket)

    def last_id(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.max(case((condition, e.c.id))).over(**of_ticket)

    marked = select(
        e,
        last_id(decision).label("latest_id"),
        first_id(and_(decision, e.c.needs_review == 0)).label("sent_id"),
        first_id(feedback).label("first_answer_id"),
        last_id(and_(feedback, e.c.team.is_not(None))).label("team_id"),
        last_id(and_(feedback, e.c.hours.is_not(None))).label("hours_id"),
    ).subquery("marked")
    m = marked.c
    decision, feedback = m.kind == DECISION, m.kind == FEEDBACK
    sent_id = func.coalesce(m.sent_id, m.latest_id)

    def pick(condition: ColumnElement[bool], value: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.max(case((condition, value)))

    def latest_flag(condition: ColumnElement[bool], flag: ColumnElement[int]) -> Any:
        return _latest_flag(m.id, case((and_(condition, flag.is_not(None)), flag)))

    return (
        select(
            pick(and_(decision, m.id == m.latest_id), m.team).label("latest_team"),
            latest_flag(decision, m.escalated).label("latest_escalated"),
            pick(and_(decision, m.id == sent_id), m.team).label("sent_team"),
            pick(and_(decision, m.id == sent_id), m.at).label("sent_at"),
            func.max(m.needs_review).label("reviewed"),
            func.max(m.kind).label("answered"),
            pick(and_(feedback, m.id == m.first_answer_id), m.at).label("resolved_at"),
            pick(and_(feedback, m.id == m.team_id), m.team).label("answer_team"),
            latest_flag(feedback, m.escalated).label("answer_escalated"),
            latest_flag(feedback, m.first_contact).label("answer_first_contact"),
            pick(and_(feedback, m.id == m.hours_id), m.hours).label("answer_hours"),
        )
        .group_by(m.ticket_id)
        .having(func.min(m.kind) == DECISION)
        .subquery("ticket")
    )


def kpi_counts_query(first_line: str, window: list[ColumnElement[bool]]) -> Select[Any]:
    """One row per final team: the KPICounts fields (sums NULL where nothing counts)."""
    ticket = _tickets(window)
    t = (
        select(ticket, micros_between(ticket.c.sent_at, ticket.c.resolved_at).label("micros"))
        .subquery("timed")
        .c
    )
    answered = t.answered == FEEDBACK
    team = func.coalesce(func.nullif(t.answer_team, ""), t.latest_team)
    escalated = case(
        (~answered, t.latest_escalated),
        (t.answer_escalated.is_not(None), t.answer_escalated),
        (team != first_line, 1),
        else_=0,
    )
    micros = t.micros
    # seconds, then hours, as timedelta.total_seconds() / 3600: the same double
    derived = cast(micros, Float) / literal(1e6, Float) / literal(3600.0, Float)
    record = select(
        team.label("team"),
        escalated.label("escalated"),
        case((answered, 1), else_=0).label("routed"),
        case((and_(answered, t.sent_team == team), 1), else_=0).label("routed_right"),
        t.answer_first_contact.label("first_contact"),
        func.coalesce(t.answer_hours, case((micros >= 0, derived))).label("hours"),
        t.reviewed,
    ).subquery("record")
    r = record.c
    counted = r.escalated == 1

    def among_escalated(value: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.sum(case((counted, value)))

    return select(
        r.team,
        func.count().label("n"),
        func.sum(r.escalated).label("escalated"),
        among_escalated(r.routed).label("routed"),
        among_escalated(r.routed_right).label("routed_right"),
        among_escalated(case((r.first_contact.is_not(None), 1), else_=0)).label("outcomes"),
        among_escalated(r.first_contact).label("first_contact"),
        among_escalated(case((r.hours.is_not(None), 1), else_=0)).label("timed"),
        among_escalated(r.hours).label("hours"),
        func.sum(r.reviewed).label("reviewed"),
    ).group_by(r.team)


def counts_of(row: Any) -> KPICounts:
    """KPICounts of one row of kpi_counts_query."""
    return KPICounts(
        n=int(row.n),
        escalated=int(row.escalated or 0),
        routed=int(row.routed or 0),
        routed_right=int(row.routed_right or 0),
        outcomes=int(row.outcomes or 0),
        first_contact=int(row.first_contact or 0),
        timed=int(row.timed or 0),
        hours=float(row.hours or 0.0),
        reviewed=int(row.reviewed or 0),
    )
