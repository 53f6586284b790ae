"""The confusion matrix pools the smaller teams as 'other' without passing their misroutes off as
the diagonal."""

from __future__ import annotations

from evals.metrics import Outcome
from evals.plots import confusion, confusion_counts


def _outcome(truth: str, predicted: str) -> Outcome:
    return Outcome(
        ticket_id=f"{truth}-{predicted}",
        truth=truth,
        predicted=predicted,
        confidence=0.9,
        needs_review=False,
        escalate=False,
        decided_by="learned",
    )


def test_predictions_among_the_pooled_teams_are_split_into_right_and_wrong() -> None:
    pairs = [("a", "a"), ("a", "a"), ("a", "small1"), ("b", "b"), ("b", "a")]
    pairs += [("small1", "small1"), ("small2", "small1"), ("small2", "b")]
    rows, columns, matrix = confusion_counts([_outcome(t, p) for t, p in pairs], teams=2)
    assert rows == ["a", "b", "other"]
    assert columns == ["a", "b", "other: right", "other: wrong"]
    assert matrix.tolist() == [
        [2, 0, 0, 1],  # a sent to a smaller team: wrong
        [1, 1, 0, 0],
        [0, 1, 1, 1],  # small1 -> small1 right, small2 -> small1 wrong
    ]
    assert confusion([_outcome(t, p) for t, p in pairs], teams=2)[:4] == b"\x89PNG"
