"""A stand-in for the learned router: the calls the knowledge base makes, remembered."""

from __future__ import annotations

from typing import Any

import numpy as np

from knowledge.cases import Case


class RecordingRouter:
    """Implements the router calls the knowledge base makes, and remembers them."""

    def __init__(self, fitted: bool = True) -> None:
        self.is_fitted = fitted
        self.observed: list[Case] = []
        self.observed_vectors: list[np.ndarray] = []
        self.fitted_on: list[Case] = []
        self.described: dict[str, np.ndarray] | None = None
        self.saves = 0

    def fit(
        self,
        cases: list[Case],
        embeddings: np.ndarray,
        team_descriptions: dict[str, np.ndarray] | None = None,
    ) -> dict[str, Any]:
        assert len(cases) == len(embeddings)
        self.fitted_on, self.is_fitted = list(cases), True
        self.described = team_descriptions
        return {"cases": len(cases)}

    def observe(self, cases: list[Case], embeddings: np.ndarray) -> None:
        assert len(cases) == len(embeddings)
        self.observed.extend(cases)
        self.observed_vectors.extend(embeddings)

    def save(self) -> None:
        self.saves += 1
