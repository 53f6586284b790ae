"""Per-class evidence from the nearest precedents and from the requester's own earlier cases.

The same functions build these features at fit time (neighbours found inside the knowledge base,
leaving the case itself out) and at predict time (neighbours passed in from the store), so the
meta-learner sees the same kind of numbers in both places.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

KNN_FEATURES = ("share", "top1", "near_duplicate", "max_sim")
HISTORY_FEATURES = ("history_share", "history_log")
ACCOUNT_FEATURES = ("account_share", "account_log")  # the same two over the account's cases
NEAR_DUPLICATE_AT = 0.97  # cosine of the same template with another id or date in it
HISTORY_LIMIT = 20  # the store returns at most this many earlier cases of a requester


def knn_features(labels: Sequence[int], sims: Sequence[float], n_classes: int) -> np.ndarray:
    """Precedent votes of shape (n_classes, len(KNN_FEATURES)); labels are indices, -1 unknown."""
    out = np.zeros((n_classes, len(KNN_FEATURES)), dtype=np.float32)
    lab = np.asarray(labels, dtype=np.int64)
    sim = np.clip(np.asarray(sims, dtype=np.float32), 0.0, 1.0)
    known = lab >= 0
    if not known.any():
        return out
    lab, sim = lab[known], sim[known]
    weights = sim**3  # close precedents count much more than loosely related ones
    out[:, 0] = np.bincount(lab, weights=weights, minlength=n_classes) / max(weights.sum(), 1e-6)
    top = int(np.argmax(sim))
    out[lab[top], 1] = sim[top]
    if sim[top] >= NEAR_DUPLICATE_AT:
        out[lab[top], 2] = 1.0
    np.maximum.at(out[:, 3], lab, sim)
    return out


def history_features(labels: Sequence[int], n_classes: int) -> np.ndarray:
    """The requester's earlier labels, shape (n_classes, len(HISTORY_FEATURES))."""
    out = np.zeros((n_classes, len(HISTORY_FEATURES)), dtype=np.float32)
    history = np.asarray(labels, dtype=np.int64)
    history = history[history >= 0][:HISTORY_LIMIT]
    if len(history):
        counts = np.bincount(history, minlength=n_classes).astype(np.float32)
        out[:, 0] = counts / len(history)
        out[:, 1] = np.log1p(counts)
    return out


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the k largest scores of every row, best first."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    values = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-values, axis=1)
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(values, order, axis=1)


def leave_one_out_neighbours(
    vectors: np.ndarray | sp.csr_matrix, k: int, rows: np.ndarray | None = None, block: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``rows`` (default all), the k most similar other rows and their dot products."""
    n = vectors.shape[0]
    queries = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
    k = min(k, n - 1)
    idx = np.zeros((len(queries), max(k, 0)), dtype=np.int64)
    sim = np.zeros((len(queries), max(k, 0)), dtype=np.float32)
    if k <= 0:
        return idx, sim
    data: Any = vectors
    other: Any = data.T.tocsr() if sp.issparse(data) else np.asarray(data, np.float32).T
    for start in range(0, len(queries), block):
        own = queries[start : start + block]
        chunk: Any = data[own] @ other
        scores = np.asarray(chunk.toarray() if sp.issparse(chunk) else chunk, dtype=np.float32)
        scores[np.arange(len(own)), own] = -np.inf  # a case is not its own precedent
        idx[start : start + block], sim[start : start + block] = top_k(scores, k)
    return idx, sim


def requester_history(requesters: Sequence[str | None], seed: int = 13) -> list[np.ndarray]:
    """For every row, up to HISTORY_LIMIT other rows of the same requester (none when unknown)."""
    groups: dict[str, list[int]] = {}
    for i, who in enumerate(requesters):
        if who:
            groups.setdefault(who, []).append(i)
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    for i, who in enumerate(requesters):
        others = [j for j in groups.get(who, []) if j != i] if who else []
        if len(others) > HISTORY_LIMIT:
            others = list(rng.choice(others, HISTORY_LIMIT, replace=False))
        out.append(np.asarray(others, dtype=np.int64))
    return out
