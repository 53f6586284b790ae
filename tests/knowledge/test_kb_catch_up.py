"""Nothing stored is lost to the router: cases another process learned, stored during a refit
elsewhere, or stored just before a crash reach the router without a refit and without being
embedded again."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from agent.settings import Settings
from knowledge.cases import Case
from knowledge.feedback import Feedback
from knowledge.kb import KnowledgeBase
from knowledge.memory_store import InMemoryCaseStore
from knowledge.router import JOURNAL, LearnedRouter

TOPICS = {
    "network": "vpn tunnel drops wifi router gateway",
    "billing": "invoice charged refund payment card",
    "desk": "password reset account locked login",
}


class WordsEmbedder:
    """Bag of hashed words, L2-normalised; counts the texts it embeds."""

    name = "words-test"
    dim = 64

    def __init__(self) -> None:
        self.embedded = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded += len(texts)
        out = np.full((len(texts), self.dim), 1e-3, dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)


class SnapshotStore(InMemoryCaseStore):
    """Runs ``after_read`` once, when a read of every case (a refit's snapshot) has ended."""

    after_read: Callable[[], object] | None = None

    def iter_all(self, batch_size: int = 1000) -> Iterator[tuple[list[Case], np.ndarray]]:
        yield from super().iter_all(batch_size)
        hook, self.after_read = self.after_read, None
        if hook is not None:
            hook()


def _cases(n: int = 30) -> list[Case]:
    teams = list(TOPICS)
    return [
        Case(
            id=f"c{i}",
            subject=f"issue {i}",
            body=f"{TOPICS[teams[i % 3]]} case {i}",
            team=teams[i % 3],
            requester=f"user{i % 4}@example.com",
        )
        for i in range(n)
    ]


def _observed(kb: KnowledgeBase) -> dict[str, str | None]:
    assert kb.router is not None
    return {case.id: case.team for case in kb.router.observed_cases()}


def _run(action: Callable[[], None]) -> None:
    action()


def test_a_case_another_process_learned_is_observed_with_its_stored_embedding() -> None:
    store = InMemoryCaseStore()
    here = KnowledgeBase(store, WordsEmbedder(), LearnedRouter())
    here.ingest(_cases())
    here.feedback(Feedback(ticket_id="c1", correct_team="billing"))
    # another machine: the same knowledge base (a Chroma server), its own embedding cache
    embedder = WordsEmbedder()
    there = KnowledgeBase(store, embedder, LearnedRouter())
    assert there.observe_stored(["c1", "not-stored"]) == ["not-stored"]
    assert _observed(there) == {"c1": "billing"}
    assert embedder.embedded == 0


def test_a_case_learned_elsewhere_during_a_refit_reaches_the_new_router(tmp_path: Path) -> None:
    models = tmp_path / "models"
    store = SnapshotStore()
    api = KnowledgeBase(store, WordsEmbedder(), LearnedRouter(model_dir=models))
    api.ingest(_cases())
    api.refit()
    worker = KnowledgeBase(store, WordsEmbedder(), LearnedRouter(model_dir=models))
    assert worker.router is not None and worker.router.load()
    outgoing = worker.router.version
    # the worker process learns a correction once the API process has read its snapshot: its
    # line is journalled for the outgoing router while the new one is fitted and saved
    store.after_read = lambda: worker.feedback(Feedback(ticket_id="c4", correct_team="desk"))
    api.refit_in_background(_run)
    assert api.router is not None and api.router.version != outgoing
    assert _observed(api) == {"c4": "desk"}
    swaps: list[Callable[[], None]] = []

    def swap(action: Callable[[], None]) -> None:
        if swaps:  # the worker's own correction, learned while it loaded the new router
            worker.feedback(Feedback(ticket_id="c7", correct_team="billing"))
        swaps.append(action)
        action()

    assert worker.take_up_saved_router(swap) == api.router.version
    assert _observed(worker) == {"c4": "desk", "c7": "billing"}
    restarted = KnowledgeBase(store, WordsEmbedder(), LearnedRouter(model_dir=models))
    assert restarted.router is not None and restarted.router.load()
    assert _observed(restarted) == {"c4": "desk", "c7": "billing"}  # journalled for the new one


def test_a_case_stored_but_not_observed_before_a_crash_is_observed_at_start(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path)
    kb = KnowledgeBase.open(settings)
    kb.ingest(_cases())
    kb.refit()
    kb.close()
    kb = KnowledgeBase.open(settings)
    assert _observed(kb) == {}, "the cases of the fit are not observed again"
    # a correction stored, then the process died before its router observed it
    stored = kb.store.get("c2")
    assert stored is not None and stored.team == "desk"
    corrected = stored.model_copy(update={"team": "network", "label_source": "specialist"})
    kb.store.upsert([corrected], kb.embedder.embed([corrected.text]))
    kb.close()
    kb = KnowledgeBase.open(settings)
    assert _observed(kb) == {"c2": "network"}
    assert kb.router is not None and kb.router.new_since_fit == 1
    kb.close()
    journal = (settings.model_dir / JOURNAL).read_text(encoding="utf-8").splitlines()
    kb = KnowledgeBase.open(settings)
    assert _observed(kb) == {"c2": "network"}
    kb.close()
    # observed once: later starts find it in the journal, as stored
    assert (settings.model_dir / JOURNAL).read_text(encoding="utf-8").splitlines() == journal
