"""The meta-learner and its calibration: a shared-weight softmax over per-class evidence.

Every base model and vote gives one number per (ticket, class): the text model's score, the
embedding model's log-probability, the precedents' weighted vote, the requester's history, ...
The stacker learns one weight per kind of evidence, shared by all classes, plus a small
per-class bias. Sharing the weights is what lets a class with five cases profit from what was
learned on the large ones; a full multinomial meta-learner would need many cases per class.
Temperature scaling on cross-fitted meta outputs then makes the top probability honest.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax, softmax


class ConditionalLogit:
    """softmax_c(X[n, c, :] @ w + b[c]) fitted by L2-penalised cross-entropy (L-BFGS)."""

    def __init__(self, l2_weights: float = 1e-4, l2_bias: float = 1.0) -> None:
        self.l2_weights = l2_weights
        self.l2_bias = l2_bias
        self.weights: np.ndarray = np.zeros(0)
        self.bias: np.ndarray = np.zeros(0)

    def fit(self, x: np.ndarray, y: np.ndarray, init: np.ndarray | None = None) -> ConditionalLogit:
        """Fit on features of shape (n, classes, features) and class indices y of shape (n,)."""
        n, c, f = x.shape
        onehot = np.zeros((n, c), dtype=np.float64)
        onehot[np.arange(n), y] = 1.0

        def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
            w, b = theta[:f], theta[f:]
            logp = log_softmax(x @ w + b, axis=1)
            diff = np.exp(logp) - onehot
            value = -float(np.mean(logp[np.arange(n), y]))
            value += self.l2_weights * float(w @ w) + self.l2_bias * float(b @ b)
            grad_w = np.einsum("nc,ncf->f", diff, x) / n + 2 * self.l2_weights * w
            grad_b = diff.mean(axis=0) + 2 * self.l2_bias * b
            return value, np.concatenate([grad_w, grad_b])

        start = np.concatenate([init if init is not None else np.ones(f), np.zeros(c)])
        result = minimize(loss, start, jac=True, method="L-BFGS-B", options={"maxiter": 300})
        self.weights, self.bias = result.x[:f], result.x[f:]
        return self

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Unnormalised class scores for features of shape (n, classes, features)."""
        return np.asarray(x @ self.weights + self.bias)


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature T minimising the negative log-likelihood of softmax(logits / T)."""
    rows = np.arange(len(y))

    def nll(log_t: np.ndarray) -> float:
        logp = log_softmax(logits / np.exp(log_t[0]), axis=1)
        return -float(np.mean(logp[rows, y]))

    result = minimize(nll, np.zeros(1), method="L-BFGS-B", bounds=[(-3.0, 3.0)])
    return float(np.exp(result.x[0]))


def calibrated(logits: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities from logits at a temperature."""
    return np.asarray(softmax(logits / temperature, axis=1))


def expected_calibration_error(
    confidence: np.ndarray, correct: np.ndarray, bins: int = 10
) -> float:
    """Mean |share right - mean confidence| over equal-width confidence bins, weighted by size."""
    if len(confidence) == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            error += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(error)
