"""The in-memory case store: the fake with the Chroma store's behaviour, and the rules both share.

Brute-force cosine search over one numpy matrix; fine for tests and for an eval's throw-away
knowledge base.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

import numpy as np

from agent.errors import InputError
from knowledge.cases import Case, SimilarCase


def most_similar_first(found: list[SimilarCase]) -> list[SimilarCase]:
    """Most similar first; equally similar cases (duplicates) by id, whatever order they came in."""
    return sorted(found, key=lambda n: (-n.similarity, n.case.id))


def newest_first(cases: list[Case]) -> list[Case]:
    def key(case: Case) -> float:
        return (
            case.created_at.timestamp() if isinstance(case.created_at, datetime) else float("-inf")
        )

    return sorted(cases, key=key, reverse=True)


def last_per_id(cases: Sequence[Case], embeddings: np.ndarray) -> tuple[list[Case], np.ndarray]:
    """Validate shapes and keep the last occurrence of a repeated id (upsert semantics)."""
    vectors = np.asarray(embeddings, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != len(cases):
        raise InputError(f"need one embedding row per case: {len(cases)} cases, {vectors.shape}")
    last = {case.id: i for i, case in enumerate(cases)}
    keep = sorted(last.values())
    return [cases[i] for i in keep], vectors[keep]


class InMemoryCaseStore:
    """Brute-force cosine search over a numpy matrix: the fake for tests, also fine for evals."""

    def __init__(self, dim: int | None = None) -> None:
        self.dim = dim
        self.location = "memory"
        self._cases: dict[str, Case] = {}
        self._vectors: dict[str, np.ndarray] = {}
        self._matrix: np.ndarray | None = None
        self._ids: list[str] = []

    def upsert(self, cases: Sequence[Case], embeddings: np.ndarray) -> None:
        """Insert or replace cases by id, with one embedding row per case."""
        unique, vectors = last_per_id(cases, embeddings)
        if len(unique) and self.dim is not None and vectors.shape[1] != self.dim:
            raise InputError(f"embeddings have {vectors.shape[1]} dimensions, store has {self.dim}")
        norms = np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
        for case, vector in zip(unique, vectors / norms, strict=True):
            self._cases[case.id] = case
            self._vectors[case.id] = vector
            self.dim = vector.shape[0]
        self._matrix = None

    def get(self, case_id: str) -> Case | None:
        """The case with that id, or None."""
        return self._cases.get(case_id)

    def get_many(self, case_ids: Sequence[str]) -> dict[str, Case]:
        """The cases among those ids that exist."""
        return {i: self._cases[i] for i in case_ids if i in self._cases}

    def get_embedded(self, case_ids: Sequence[str]) -> tuple[list[Case], np.ndarray]:
        """The cases among those ids that exist, with their stored embeddings (one row each)."""
        ids = [i for i in dict.fromkeys(case_ids) if i in self._cases]
        vectors = [self._vectors[i] for i in ids]
        return [self._cases[i] for i in ids], np.stack(vectors) if vectors else np.zeros((0, 0))

    def search(self, embedding: np.ndarray, k: int) -> list[SimilarCase]:
        """The k nearest cases by cosine similarity, most similar first."""
        if k <= 0 or not self._cases:
            return []
        matrix = self._index()
        query = np.asarray(embedding, dtype=np.float32).ravel()
        # einsum, not BLAS: multi-threaded gemv stalls ~12 ms per call on a busy 2-core machine
        sims = np.einsum("ij,j->i", matrix, query / max(float(np.linalg.norm(query)), 1e-12))
        k = min(k, len(self._ids))
        top = np.argpartition(-sims, k - 1)[:k]
        return most_similar_first(
            [SimilarCase(case=self._cases[self._ids[i]], similarity=float(sims[i])) for i in top]
        )

    def by_requester(self, requester: str, limit: int = 20) -> list[Case]:
        """Earlier cases of the same requester, newest first where dates exist."""
        mine = [case for case in self._cases.values() if case.requester == requester]
        return newest_first(mine)[:limit]

    def by_account(self, account_id: str, limit: int = 20) -> list[Case]:
        """Earlier cases of the same account (any of its requesters), newest first."""
        ours = [case for case in self._cases.values() if case.account_id == account_id]
        return newest_first(ours)[:limit]

    def count(self) -> int:
        """Number of cases stored."""
        return len(self._cases)

    def iter_all(self, batch_size: int = 1000) -> Iterator[tuple[list[Case], np.ndarray]]:
        """Every case with its embedding, in batches."""
        ids, size = list(self._cases), max(1, batch_size)  # as Chroma's pages: at least one
        for start in range(0, len(ids), size):
            chunk = ids[start : start + size]
            yield [self._cases[i] for i in chunk], np.stack([self._vectors[i] for i in chunk])

    def iter_labels(self, batch_size: int = 1000) -> Iterator[list[Case]]:
        """Every case in batches (held whole in memory: the body costs nothing to leave in)."""
        cases, size = list(self._cases.values()), max(1, batch_size)
        for start in range(0, len(cases), size):
            yield cases[start : start + size]

    def delete(self, case_ids: Sequence[str]) -> None:
        """Remove cases by id."""
        for case_id in case_ids:
            self._cases.pop(case_id, None)
            self._vectors.pop(case_id, None)
        self._matrix = None

    def _index(self) -> np.ndarray:
        if self._matrix is None:  # rebuilt lazily so a burst of upserts costs one stack
            self._ids = list(self._cases)
            self._matrix = np.stack([self._vectors[i] for i in self._ids]).astype(np.float32)
        return self._matrix
