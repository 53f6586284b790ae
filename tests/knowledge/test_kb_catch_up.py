"""Nothing stored is lost to the router: cases another process learned, stored during a refit
elsewhere, or stored just before a crash reach the router without a refit and without being
embedded again."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from knowledge.cases import Case
from knowledge.feedback import Feedback
from knowledge.kb import KnowledgeBase
from knowledge.memory_store import InMemoryCaseStore
from knowledge.router import LearnedRouter

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
