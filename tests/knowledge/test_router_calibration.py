"""The meta-learner: shared weights, per-class deviations, and shape of the saved weights."""

from __future__ import annotations

import numpy as np

from knowledge.calibration import ConditionalLogit


def _data(n: int = 600, c: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    x = rng.normal(size=(n, c, 2))
    x[np.arange(n), y, 0] += 1.0  # feature 0 points at the true class for every class
    # feature 1 is informative for class 2 only: a shared weight cannot use it fully
    x[np.arange(n), y, 1] += np.where(y == 2, 2.0, 0.0)
    return x, y


def test_without_per_class_weights_logits_are_shared() -> None:
    x, y = _data()
    meta = ConditionalLogit().fit(x, y)
    assert meta.class_weights.shape == (3, 0)
    assert np.allclose(meta.logits(x), x @ meta.weights + meta.bias)


def test_per_class_weights_fit_better_where_a_feature_helps_one_class() -> None:
    x, y = _data()
    shared = ConditionalLogit().fit(x, y)
    per_class = ConditionalLogit(per_class=2, l2_class=1e-4).fit(x, y)
    assert per_class.class_weights.shape == (3, 2)

    def nll(m: ConditionalLogit) -> float:
        z = m.logits(x)
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return -float(logp[np.arange(len(y)), y].mean())

    assert nll(per_class) < nll(shared)
    # class 2 leans on feature 1 more than the others do
    effective = per_class.weights[1] + per_class.class_weights[:, 1]
    assert effective[2] > effective[0] and effective[2] > effective[1]


def test_strong_penalty_keeps_per_class_weights_near_zero() -> None:
    x, y = _data()
    meta = ConditionalLogit(per_class=2, l2_class=100.0).fit(x, y)
    assert np.abs(meta.class_weights).max() < 0.05
