"""The meta-learner (a shared-weight softmax over per-class evidence) and its temperature."""

from __future__ import annotations

import numpy as np

from knowledge.calibration import ConditionalLogit, calibrated, fit_temperature


def evidence(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows of 4 classes and 2 features: the first says the class (noisily), the second is noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    x = rng.normal(0.0, 1.0, (n, 4, 2))
    x[np.arange(n), y, 0] += 2.0
    return x, y


def test_weights_are_learned_from_the_rows() -> None:
    x, y = evidence(2000)
    model = ConditionalLogit().fit(x, y, init=np.array([0.0, 1.0]))
    assert model.weights[0] > 1.5  # the informative feature
    assert abs(model.weights[1]) < 0.2  # the noise
    assert (model.logits(x).argmax(axis=1) == y).mean() > 0.6


def test_temperature_softens_overconfident_logits() -> None:
    x, y = evidence(3000, seed=3)
    logits = 4.0 * ConditionalLogit().fit(x, y).logits(x)  # four times too sharp
    temperature = fit_temperature(logits, y)
    assert 3.0 < temperature < 5.0
    probs = calibrated(logits, temperature)
    assert np.allclose(probs.sum(axis=1), 1.0)
