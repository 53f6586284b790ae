"""Refitting in the background: the old router routes until the new one takes over, and cases
stored meanwhile are not lost to it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.errors import ConflictError
from agent.settings import EXAMPLES_DIR
from knowledge.cases import Case
from knowledge.embeddings import CachedEmbedder, MiniLMEmbedder
from knowledge.ingest import read_cases
from knowledge.kb import KnowledgeBase
from knowledge.memory_store import InMemoryCaseStore
from knowledge.router import LearnedRouter

LATE = Case(
    id="late-1",
    subject="Badge reader at the north gate rejects every card",
    body="Since this morning the badge reader at the north gate blinks red for all staff cards.",
    team="security",
    label_source="specialist",
)


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    root = tmp_path_factory.mktemp("refit")
    embedder = CachedEmbedder(MiniLMEmbedder(), root / "cache.sqlite")
    base = KnowledgeBase(InMemoryCaseStore(), embedder, LearnedRouter(model_dir=root / "models"))
    base.ingest(read_cases(EXAMPLES_DIR / "demo_tickets.jsonl", label="team"))
    base.refit()
    return base


def _top_team(kb: KnowledgeBase, text: str) -> str:
    assert kb.router is not None
    vector = kb.embedder.embed([text])[0]
    prediction = kb.router.predict(
        text=text, embedding=vector, neighbours=kb.store.search(vector, 10), requester_cases=[]
    )
    return prediction.teams[0].team


def test_new_router_takes_over_with_the_cases_stored_during_the_fit(kb: KnowledgeBase) -> None:
    old = kb.router
    assert old is not None
    calls: list[str] = []

    def swap(action: Callable[[], None]) -> None:
        if calls:  # the fit is done: a specialist's case lands just before the swap
            kb.ingest([LATE])
            assert kb.router is old, "the old router routes until the swap"
        calls.append(action.__name__)
        action()

    report = kb.refit_in_background(swap)
    assert len(calls) == 2
    assert kb.router is not old and kb.router is not None
    assert report["version"] == kb.router.version != old.version
    assert report["n"] == 360, "fitted on the snapshot, without the late case"
    # The late case was not in the snapshot, yet the new router knows it at once.
    assert _top_team(kb, f"{LATE.subject}\n{LATE.body}") == "security"
    assert (Path(kb.router.model_dir or ".") / "router.joblib").exists()


def test_only_one_refit_runs_at_a_time(kb: KnowledgeBase) -> None:
    def swap(action: Callable[[], None]) -> None:
        action()
        with pytest.raises(ConflictError, match="already running"):
            kb.refit_in_background(lambda a: a())

    kb.refit_in_background(swap)


def test_the_new_router_is_written_before_routing_is_held_for_the_swap(kb: KnowledgeBase) -> None:
    """Writing the models takes seconds on a large knowledge base: tickets must not wait for it."""
    assert kb.router is not None and kb.router.model_dir is not None
    saved = kb.router.model_dir / "router.joblib"
    written_while_held: list[bool] = []

    def swap(action: Callable[[], None]) -> None:
        if written_while_held:  # a case learned during the fit, just before the swap
            kb.ingest([LATE.model_copy(update={"id": "late-2"})])
        before = (saved.stat().st_ino, saved.stat().st_mtime_ns)
        action()
        written_while_held.append((saved.stat().st_ino, saved.stat().st_mtime_ns) != before)

    kb.refit_in_background(swap)
    assert written_while_held == [False, False]
    restarted = LearnedRouter(model_dir=kb.router.model_dir)
    assert restarted.load()
    assert restarted.version == kb.router.version
    assert restarted.new_since_fit == 1, "the late case is journalled beside the new models"


# A process that saves the router saved in a model directory again, at a given time.
SAVE_AGAIN = """
import sys, time
from pathlib import Path
from knowledge.kb import KnowledgeBase
from knowledge.memory_store import InMemoryCaseStore
from knowledge.router import LearnedRouter

class Named:
    name = sys.argv[3]

router = LearnedRouter(model_dir=Path(sys.argv[1]))
assert router.load()
kb = KnowledgeBase(InMemoryCaseStore(), Named(), router)
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
kb._save_router(router)
"""


def test_two_processes_saving_the_router_at_once_both_succeed(kb: KnowledgeBase) -> None:
    """The service and `triage kb refit` (or a second service process) on one data directory."""
    assert kb.router is not None and kb.router.model_dir is not None
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    for _ in range(2):
        start_at = time.time() + 8.0  # both loaded by then: their saves start together
        savers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    SAVE_AGAIN,
                    str(kb.router.model_dir),
                    str(start_at),
                    kb.embedder.name,
                ],
                env=env,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        errors = [saver.communicate(timeout=120)[1] for saver in savers]
        assert [saver.returncode for saver in savers] == [0, 0], errors
        saved = LearnedRouter(model_dir=kb.router.model_dir)
        assert saved.load() and saved.version == kb.router.version
