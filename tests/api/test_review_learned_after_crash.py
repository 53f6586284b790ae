"""A reviewer's decision, once stored, is learned by the knowledge base once, whatever stops it.

The decision is stored, then learned. A process that dies in between, or a knowledge base that
is down then, left a decision that stood and was never learned: nothing tried it again. The
decision now carries its review, to be learned, in the same transaction; the process that
stored it learns it, and any API process learns those left at start and every
TRIAGE_ADOPT_AFTER_S. Learned once: two processes finding one left learn it once between them.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from api_support import Api, AppFactory, wait_for, waiting_ticket
from sqlalchemy import func, select

from api.auth import Principal
from api.schemas import ReviewIn
from api.tables import DecisionRow, ReviewRow

REVIEWER = Principal(key_id="k-gone", name="gone reviewer", role="reviewer")
LEASE_S = 3.0


class _Died(BaseException):
    """The reviewing process stops here (nothing after it runs, no handler catches it)."""


def _url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return f"sqlite:///{tmp_path / 'shared.sqlite'}"


def _decided_then_died(api: Api) -> str:
    """A ticket whose reviewer's decision was stored by a process that died right after."""
    ticket_id = waiting_ticket(api)

    def die(*_: Any, **__: Any) -> None:
        raise _Died

    api.services.service.notify = die  # the first step after the decision is stored
    with pytest.raises(_Died):
        api.services.service.review(
            ticket_id, ReviewIn(team="hardware", note="the printer, not the database"), REVIEWER
        )
    with api.services.db.session() as session:
        human = session.scalars(
            select(DecisionRow.team).where(
                DecisionRow.ticket_id == ticket_id, DecisionRow.decided_by == "human"
            )
        ).all()
    assert list(human) == ["hardware"]  # the decision stands
    assert api.triager.kb.store.get(ticket_id) is None  # and was not learned
    return ticket_id


def _learned(api: Api, ticket_id: str) -> bool:
    case = api.triager.kb.store.get(ticket_id)
    return case is not None and (case.team, case.label_source) == ("hardware", "review")


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_decision_stored_by_a_process_that_died_is_learned_at_the_next_start_once(
    make_api: AppFactory, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    url = _url(backend, tmp_path, request)
    dying = make_api(url, start_background=False)
    ticket_id = _decided_then_died(dying)

    restarted = make_api(url)  # its start learns what was left
    assert wait_for(lambda: _learned(restarted, ticket_id), timeout=30)
    with restarted.services.db.session() as session:
        reviews = session.scalars(select(ReviewRow).where(ReviewRow.ticket_id == ticket_id)).all()
    assert [(r.reviewer_key, r.review["team"]) for r in reviews] == [(REVIEWER.key_id, "hardware")]

    # learned once: a later start, and the restarted process's later passes, leave it be
    later = make_api(url)
    assert wait_for(lambda: later.services.learning.passes >= 1, timeout=30)
    assert later.triager.kb.store.get(ticket_id) is None


def test_a_decision_not_learned_while_the_knowledge_base_was_down_is_learned_later(
    make_api: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = make_api(adopt_after_s=LEASE_S)
    ticket_id = waiting_ticket(api)
    kb = api.triager.kb

    def down(*_: Any, **__: Any) -> Any:
        raise ConnectionError("knowledge base unreachable")

    monkeypatch.setattr(kb, "feedback", down)
    answer = {"team": "hardware", "note": "the printer"}
    done = api.client.post(f"/v1/review/{ticket_id}", json=answer, headers=api.auth("reviewer"))
    assert done.status_code == 200
    assert done.json()["learned"] is False
    assert "learned later" in done.json()["learn_error"]
    assert kb.store.get(ticket_id) is None
    monkeypatch.undo()  # the knowledge base is back

    assert wait_for(lambda: _learned(api, ticket_id), timeout=10 * LEASE_S)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_two_processes_finding_a_decision_left_learn_it_once(
    make_api: AppFactory, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    url = _url(backend, tmp_path, request)
    ticket_id = _decided_then_died(make_api(url, start_background=False))
    here, there = make_api(url, start_background=False), make_api(url, start_background=False)
    for api in (here, there):
        kb = api.triager.kb
        learn = kb.feedback

        def slowly(correction: Any, learn: Any = learn) -> Any:
            time.sleep(1.0)  # long enough for the other process to find the review left too
            return learn(correction)

        kb.feedback = slowly  # type: ignore[method-assign]
    passes = [
        threading.Thread(target=api.services.service.corrections.learn_reviews_left)
        for api in (here, there)
    ]
    for thread in passes:
        thread.start()
    for thread in passes:
        thread.join(60)
    assert [_learned(here, ticket_id), _learned(there, ticket_id)].count(True) == 1
    with here.services.db.session() as session:
        left = session.scalar(
            select(func.count()).select_from(ReviewRow).where(ReviewRow.learned_at.is_(None))
        )
    assert left == 0
