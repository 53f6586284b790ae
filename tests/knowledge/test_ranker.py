"""The boosted candidate ranker: scores only candidates, floors the rest, stays silent if unfit."""

from __future__ import annotations

import numpy as np

from knowledge.label_model import EVIDENCE, LOG_FLOOR, VOTE_FEATURES
from knowledge.ranker import CandidateRanker


def _evidence(n: int, classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    x = 0.5 * rng.normal(size=(n, classes, len(EVIDENCE))).astype(np.float32)
    x[:, :, EVIDENCE.index("text_svm")] += 3.0 * np.eye(classes)[y]  # the text model knows
    return x, y


def test_ranker_learns_the_informative_evidence() -> None:
    x, y = _evidence(600, 30)
    votes = [EVIDENCE.index(v) for v in VOTE_FEATURES]
    x[:, :, votes] = np.minimum(x[:, :, votes], 0.0)  # no vote names a class: models' tops only
    ranker = CandidateRanker(EVIDENCE, VOTE_FEATURES, LOG_FLOOR).fit(x[:400], y[:400])
    scores = ranker.scores(x[400:])
    assert scores.shape == (200, 30)
    assert (scores.argmax(axis=1) == y[400:]).mean() > 0.8
    assert (scores == LOG_FLOOR).any()  # classes outside every model's top list are floored


def test_ranker_with_nothing_to_separate_stays_silent() -> None:
    x, _ = _evidence(50, 3)
    ranker = CandidateRanker(EVIDENCE, VOTE_FEATURES, LOG_FLOOR).fit(x, np.full(50, -1))
    assert ranker.model is None
    assert (ranker.scores(x) == LOG_FLOOR).all()
