"""`triage kb stats` counts from what the store keeps beside the text: it reads no case's body or
embedding (with 40,000 cases those were most of what it read)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from knowledge.cases import Case
from knowledge.kb import KnowledgeBase
from knowledge.memory_store import InMemoryCaseStore


class NoFullReadStore(InMemoryCaseStore):
    """The in-memory store, whose read of every case with its text and embedding fails."""

    def iter_all(self, batch_size: int = 1000) -> Iterator[tuple[list[Case], np.ndarray]]:
        raise AssertionError("stats read every body and embedding")


class NameOnlyEmbedder:
    name = "name-only"
    dim = 4

    def embed(self, texts: list[str]) -> np.ndarray:
        raise AssertionError("stats embed nothing")


def test_stats_count_teams_languages_and_sources_without_reading_bodies() -> None:
    store = NoFullReadStore()
    cases = [
        Case(id="a", body="vpn", team="network", language="en"),
        Case(id="b", body="vpn again", team="network", language="de", label_source="specialist"),
        Case(id="c", body="invoice", team="billing"),
        Case(id="d", body="unlabelled"),
    ]
    store.upsert(cases, np.eye(4, dtype=np.float32))
    stats = KnowledgeBase(store, NameOnlyEmbedder()).stats()
    assert stats.count == 4
    assert stats.teams == {"network": 2, "billing": 1, "(none)": 1}
    assert stats.languages == {"(unknown)": 2, "en": 1, "de": 1}
    assert stats.label_sources == {"import": 3, "specialist": 1}
    assert (stats.embedding_model, stats.store) == ("name-only", "memory")
