"""The seams of the knowledge base: the case store and the learned router's answer.

Implementations: ``knowledge.store.ChromaCaseStore`` (embedded on disk, or a Chroma server) and
``knowledge.memory_store.InMemoryCaseStore`` (the fake for unit tests, same behaviour).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

import numpy as np
from pydantic import BaseModel, Field

from agent.models import Evidence, TeamScore
from knowledge.cases import Case, SimilarCase


class CaseStore(Protocol):
    """Past cases with their embeddings, searchable by meaning."""

    def upsert(self, cases: Sequence[Case], embeddings: np.ndarray) -> None:
        """Insert or replace cases by id, with one embedding row per case."""
        ...

    def get(self, case_id: str) -> Case | None:
        """The case with that id, or None."""
        ...

    def get_many(self, case_ids: Sequence[str]) -> dict[str, Case]:
        """The cases among those ids that exist."""
        ...

    def get_embedded(self, case_ids: Sequence[str]) -> tuple[list[Case], np.ndarray]:
        """The cases among those ids that exist, with their stored embeddings (one row each)."""
        ...

    def search(self, embedding: np.ndarray, k: int) -> list[SimilarCase]:
        """The k nearest cases by cosine similarity, most similar first."""
        ...

    def by_requester(self, requester: str, limit: int = 20) -> list[Case]:
        """Earlier cases of the same requester, newest first where dates exist."""
        ...

    def by_account(self, account_id: str, limit: int = 20) -> list[Case]:
        """Earlier cases of the same account (any of its requesters), newest first."""
        ...

    def count(self) -> int:
        """Number of cases stored."""
        ...

    def iter_all(self, batch_size: int = 1000) -> Iterator[tuple[list[Case], np.ndarray]]:
        """Every case with its embedding, in batches (to fit the learned models)."""
        ...

    def iter_labels(self, batch_size: int = 1000) -> Iterator[list[Case]]:
        """Every case without its body and embedding, in batches (to count teams and sources)."""
        ...

    def delete(self, case_ids: Sequence[str]) -> None:
        """Remove cases by id."""
        ...


class RoutePrediction(BaseModel):
    """The learned router's answer for one ticket."""

    teams: list[TeamScore] = Field(description="Calibrated probabilities, best first")
    priorities: list[TeamScore] = Field(
        default_factory=list, description="Learned priority label scores, best first, if learned"
    )
    confidence: float = Field(ge=0.0, le=1.0, description="Calibrated P(top team is right)")
    evidence: list[Evidence] = Field(default_factory=list)
    model_version: str
    cold_start: bool = Field(default=False, description="No cases: routed from the policy alone")
    novel: bool = Field(
        default=False,
        description="Unlike any past case: its nearest precedent by meaning is less similar than "
        "nearly every past case's own nearest other case",
    )

    @property
    def team(self) -> str | None:
        return self.teams[0].team if self.teams else None
