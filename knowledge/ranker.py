"""A non-linear second opinion for the meta-learner: gradient-boosted (ticket, candidate) scores.

The shared-weight softmax (``calibration.ConditionalLogit``) gives every kind of evidence one
weight, whatever the ticket. How much a vote or a model score is worth does depend on the ticket,
though: a tight nearest precedent, a large SVM margin or two neighbour searches that agree make
the same number mean more. The ranker sees each candidate class's evidence next to such
ticket-level context and scores "is this the right class" with gradient-boosted trees. Its score
enters the softmax as one more per-class feature, so the softmax and its temperature still set
the final, calibrated probabilities.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import ThreadpoolController

CANDIDATES_PER_MODEL = 10  # top classes of each base model, plus every class a vote names
PARAMS = {
    "max_iter": 200,
    "learning_rate": 0.06,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 40,
    "l2_regularization": 1.0,
    "random_state": 0,
}
# One ticket's few candidate rows: OpenMP threads only add start-up and, on a busy machine,
# spin-waiting (p99 ~500 ms measured instead of ~10 ms). Made once: building one scans libraries.
_THREADS = ThreadpoolController()


class CandidateRanker:
    """Boosted trees on (ticket, candidate class) rows of the per-class evidence.

    ``features`` are the stacker's per-class features, shape (n, classes, len(names)). The
    candidates of a ticket are the top classes of the two base models and every class any
    precedent or history vote names; other classes get ``floor``.
    """

    def __init__(self, names: Sequence[str], votes: Sequence[str], floor: float) -> None:
        self.names = list(names)
        self.svm = self.names.index("text_svm")
        self.lr = self.names.index("embedding_lr")
        self.votes = [self.names.index(v) for v in votes]
        self.floor = floor
        self.model: HistGradientBoostingClassifier | None = None

    def fit(self, features: np.ndarray, y: np.ndarray) -> CandidateRanker:
        """Fit on features of shape (n, classes, features) and class indices y of shape (n,)."""
        rows, cols, x = self._rows(features)
        target = (y[rows] == cols).astype(np.int64)
        if target.min() == target.max():  # nothing to separate: the ranker stays silent
            self.model = None
            return self
        self.model = HistGradientBoostingClassifier(**PARAMS).fit(x, target)
        return self

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Log-odds that each candidate is the right class, shape (n, classes)."""
        out = np.full(features.shape[:2], self.floor, dtype=np.float32)
        if self.model is None:
            return out
        rows, cols, x = self._rows(features)
        if len(rows):
            with _THREADS.limit(limits=1, user_api="openmp"):
                scores = self.model.decision_function(x)
            out[rows, cols] = np.maximum(scores, self.floor)
        return out

    def _rows(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Candidate (ticket, class) pairs and their row features: evidence, ranks, context."""
        c = features.shape[1]
        svm, lr = features[:, :, self.svm], features[:, :, self.lr]
        candidate = features[:, :, self.votes].max(axis=2) > 0
        k = min(CANDIDATES_PER_MODEL, c)
        for scores in (svm, lr):
            np.put_along_axis(candidate, np.argsort(-scores, axis=1)[:, :k], True, axis=1)
        rows, cols = np.nonzero(candidate)
        ranks = [np.argsort(np.argsort(-s, axis=1), axis=1)[rows, cols] for s in (svm, lr)]
        gaps = [s[rows, cols] - s.max(axis=1)[rows] for s in (svm, lr)]
        x = np.column_stack([features[rows, cols, :], *ranks, *gaps, self._context(features)[rows]])
        return rows, cols, x.astype(np.float32)

    def _context(self, features: np.ndarray) -> np.ndarray:
        """Per-ticket context: base-model margins and tops, closest precedents, history size."""
        names = self.names
        svm = np.sort(features[:, :, self.svm], axis=1)
        lr = np.sort(features[:, :, self.lr], axis=1)
        second = (lambda s: s[:, -2]) if features.shape[1] >= 2 else (lambda s: s[:, -1])
        emb_top = features[:, :, names.index("embedding_top1")]
        txt_top = features[:, :, names.index("tfidf_top1")]
        history = np.expm1(features[:, :, names.index("history_log")]).sum(axis=1)
        return np.column_stack(
            [
                svm[:, -1] - second(svm),
                svm[:, -1],
                lr[:, -1] - second(lr),
                lr[:, -1],
                features[:, :, names.index("embedding_max_sim")].max(axis=1),
                features[:, :, names.index("tfidf_max_sim")].max(axis=1),
                emb_top.argmax(axis=1) == txt_top.argmax(axis=1),
                np.log1p(np.maximum(history, 0.0)),
            ]
        )
