"""Per-class evidence from the nearest precedents and from the requester's own earlier cases.

The same function builds these features at fit time (neighbours found inside the knowledge base,
leaving the case itself out) and at predict time (neighbours passed in from the store), so the
meta-learner sees the same kind of numbers in both places.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

VOTE_FEATURES = (
    "knn_share",
    "knn_top1",
    "near_duplicate",
    "knn_max_sim",
    "history_share",
    "history_log",
)
NEAR_DUPLICATE_AT = 0.97  # cosine of the same template with another id or date in it
HISTORY_LIMIT = 20  # the store returns at most this many earlier cases of a requester


def vote_features(
    neighbour_labels: Sequence[int],
    neighbour_sims: Sequence[float],
    history_labels: Sequence[int],
    n_classes: int,
) -> np.ndarray:
    """Evidence of shape (n_classes, len(VOTE_FEATURES)); labels are class indices, -1 unknown."""
    out = np.zeros((n_classes, len(VOTE_FEATURES)), dtype=np.float32)
    labels = np.asarray(neighbour_labels, dtype=np.int64)
    sims = np.clip(np.asarray(neighbour_sims, dtype=np.float32), 0.0, 1.0)
    known = labels >= 0
    if known.any():
        lab, sim = labels[known], sims[known]
        weights = sim**3  # close precedents count much more than loosely related ones
        out[:, 0] = np.bincount(lab, weights=weights, minlength=n_classes) / max(
            weights.sum(), 1e-6
        )
        top = int(np.argmax(sim))
        out[lab[top], 1] = sim[top]
        if sim[top] >= NEAR_DUPLICATE_AT:
            out[lab[top], 2] = 1.0
        np.maximum.at(out[:, 3], lab, sim)
    history = np.asarray(history_labels, dtype=np.int64)
    history = history[history >= 0][:HISTORY_LIMIT]
    if len(history):
        counts = np.bincount(history, minlength=n_classes).astype(np.float32)
        out[:, 4] = counts / len(history)
        out[:, 5] = np.log1p(counts)
    return out


def leave_one_out_neighbours(
    embeddings: np.ndarray, k: int, block: int = 2048
) -> tuple[np.ndarray, np.ndarray]:
    """For every row, the k most similar other rows (indices, cosine similarities), best first."""
    n = len(embeddings)
    k = min(k, n - 1)
    idx = np.zeros((n, max(k, 0)), dtype=np.int64)
    sim = np.zeros((n, max(k, 0)), dtype=np.float32)
    if k <= 0:
        return idx, sim
    emb = embeddings.astype(np.float32)
    for start in range(0, n, block):
        scores = emb[start : start + block] @ emb.T
        rows = np.arange(len(scores))
        scores[rows, start + rows] = -np.inf  # a case is not its own precedent
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        part_scores = np.take_along_axis(scores, part, axis=1)
        order = np.argsort(-part_scores, axis=1)
        idx[start : start + block] = np.take_along_axis(part, order, axis=1)
        sim[start : start + block] = np.take_along_axis(part_scores, order, axis=1)
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
