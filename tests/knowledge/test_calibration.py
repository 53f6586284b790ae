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


def test_prior_rows_hold_the_weights_near_the_start_until_the_rows_outweigh_them() -> None:
    start = np.array([0.0, 1.0])  # the prior believes the noise and ignores the signal
    few = ConditionalLogit(prior_rows=5.0).fit(*evidence(20, seed=1), init=start)
    free = ConditionalLogit().fit(*evidence(20, seed=1), init=start)
    assert np.linalg.norm(few.weights - start) < 0.5 * np.linalg.norm(free.weights - start)
    many = ConditionalLogit(prior_rows=5.0).fit(*evidence(2000), init=start)
    assert many.weights[0] > 1.5 and abs(many.weights[1]) < 0.2  # as without the prior


def test_prior_rows_per_weight_leave_the_unheld_ones_free() -> None:
    x, y = evidence(40, seed=2)
    start = np.array([0.0, 1.0])
    held = ConditionalLogit(prior_rows=np.array([1000.0, 1000.0])).fit(x, y, init=start)
    assert np.allclose(held.weights, start, atol=0.05)
    first_free = ConditionalLogit(prior_rows=np.array([0.0, 1000.0])).fit(x, y, init=start)
    assert first_free.weights[0] > 1.0  # learned from the rows
    assert abs(first_free.weights[1] - 1.0) < 0.05  # still held
