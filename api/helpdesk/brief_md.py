"""The brief as Markdown, the internal comment the specialist reads in the helpdesk."""

from __future__ import annotations

from agent.brief import NOT_RECORDED
from agent.models import Brief, TriageDecision

RESOLUTION_CHARS = 300  # as the brief's own Markdown shows a similar case's resolution


def _line(text: str, limit: int | None = None) -> str:
    """One line of ticket-derived text (no line breaks that could fake headings), cut to limit
    characters with "…" when longer."""
    line = " ".join(text.split())
    return line if limit is None or len(line) <= limit else line[: limit - 1].rstrip() + "…"


def brief_markdown(decision: TriageDecision, brief: Brief, marker: str) -> str:
    """Decision, problem, customer, history, rules, similar cases, next steps, then the marker."""
    who = decision.assignee or "the team queue"
    # A held ticket is not moved: its team is only the agent's best guess until a human decides.
    routed = (
        f"**Best guess** {decision.team} (tier {decision.tier}), not applied"
        if decision.needs_review
        else f"**Routed to** {decision.team} (tier {decision.tier}), {who}"
    )
    out = [
        f"## Triage: {_line(brief.headline)}",
        "",
        f"{routed}; **priority** {decision.priority}; confidence {decision.confidence:.2f}; "
        f"decided by {decision.decided_by}.",
    ]
    if decision.needs_review:
        reasons = "; ".join(decision.review_reasons) or "low confidence"
        out += ["", f"**Waiting for human review:** {_line(reasons)}"]
    if brief.decision_summary:
        out += ["", _line(brief.decision_summary)]
    out += ["", "### Problem", _line(brief.problem), "", "### Customer", _line(brief.customer)]
    if brief.history:
        out += ["", "### History"]
        for item in brief.history:
            when = item.when.strftime("%Y-%m-%d") if item.when else "?"
            outcome = f" → {_line(item.outcome)}" if item.outcome else ""
            out.append(f"- {when} {item.kind} {item.ref}: {_line(item.summary)}{outcome}")
    if brief.rule_hits or brief.error_codes:
        out += ["", "### Signals"]
        out += [f"- rule: {_line(hit)}" for hit in brief.rule_hits]
        out += [f"- error code: `{_line(code)}`" for code in brief.error_codes]
    if brief.similar:
        out += ["", "### Similar escalations"]
        for case in brief.similar:
            fix = _line(case.resolution, RESOLUTION_CHARS) if case.resolution else NOT_RECORDED
            out.append(
                f"- {case.case_id} ({case.similarity:.2f}, {case.team}): {_line(case.summary)}"
                f" Resolution: {fix}"
            )
    if brief.next_steps:
        out += ["", "### Next steps"]
        out += [
            f"{i}. {_line(s.text)} _(from {s.source})_" for i, s in enumerate(brief.next_steps, 1)
        ]
    out += ["", f"<sub>{marker}</sub>"]
    return "\n".join(out)
