"""Team names are drawn as written: a '$' pair in a label is no matplotlib math, which misdrew
'US$ / CA$ billing' in italics without its dollars and stopped the report on 'x$^$' with
ValueError after the whole run."""

from __future__ import annotations

import pytest

from evals.metrics import Outcome, per_team
from evals.plots import confusion, team_bars

NAMES = ["US$ / CA$ billing", "x$^$", "plain"]


def outcomes() -> list[Outcome]:
    return [
        Outcome(
            ticket_id=str(i),
            truth=NAMES[i % 3],
            predicted=NAMES[(i + i // 3) % 3],
            confidence=0.6,
            needs_review=False,
            escalate=True,
            decided_by="learned",
        )
        for i in range(9)
    ]


@pytest.mark.parametrize("draw", [lambda o: confusion(o), lambda o: team_bars(per_team(o))])
def test_team_names_with_dollar_signs_are_drawn(draw: object) -> None:
    assert callable(draw)
    assert draw(outcomes())[:4] == b"\x89PNG"
