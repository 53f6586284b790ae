"""report.md's tables hold data as cells: a team named 'IT | Network' or with a line break in it
split its row into extra columns (or two rows) of the Markdown table."""

from __future__ import annotations

import re

from evals.metrics import Outcome, compute_metrics
from evals.report import render_markdown
from evals.runner import EvalResult

TEAMS = ["IT | Network", "Data\nbase"]


def test_a_team_name_with_a_pipe_or_line_break_stays_in_its_cell() -> None:
    outcomes = [
        Outcome(
            ticket_id=str(i),
            truth=TEAMS[i % 2],
            predicted=TEAMS[0],
            confidence=0.7,
            needs_review=False,
            escalate=True,
            decided_by="learned",
        )
        for i in range(4)
    ]
    page = render_markdown(
        EvalResult(metrics=compute_metrics(outcomes, None, False), outcomes=outcomes)
    )
    rows = page.split("## Largest teams", 1)[1].strip().splitlines()[:4]
    # header, rule and one row per team, each with six cells: seven unescaped '|'
    assert [len(re.findall(r"(?<!\\)\|", line)) for line in rows] == [7, 7, 7, 7]
    assert sorted(row.split(" | 0.")[0] for row in rows[2:]) == [
        "| Data base | 2 | 0",
        r"| IT \| Network | 2 | 4",
    ]
