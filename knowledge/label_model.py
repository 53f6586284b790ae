"""One learned label (team or priority): base models, out-of-fold stacking, calibration.

Base models: a linear SVM on word + character TF-IDF, and a logistic regression and a linear SVM on
the sentence embedding. Their out-of-fold scores, the precedents' votes, the history of the
requester and of their account, and the ticket's similarity to the policy's description of each team
feed the shared-weight meta-learner (``calibration.ConditionalLogit``), together with the
cross-fitted score of a boosted candidate ranker on the same evidence (``ranker``); the
meta-learner's cross-fitted outputs set the temperature. Small knowledge bases skip the base models
and vote with fixed weights instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from scipy.special import log_softmax
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

from knowledge.calibration import (
    ConditionalLogit,
    calibrated,
    expected_calibration_error,
    fit_temperature,
)
from knowledge.cold_start import DESCRIPTION_TEMPERATURE
from knowledge.ranker import CandidateRanker
from knowledge.votes import (
    ACCOUNT_FEATURES,
    HISTORY_FEATURES,
    KNN_FEATURES,
    history_features,
    knn_features,
    leave_one_out_neighbours,
    requester_history,
)

MODEL_FEATURES = ("text_svm", "embedding_lr", "log_prior", "embedding_svm")
NEIGHBOUR_SETS = ("embedding", "tfidf")  # precedents by meaning, and by shared wording
VOTE_FEATURES = (
    tuple(f"{s}_{f}" for s in NEIGHBOUR_SETS for f in KNN_FEATURES)
    + HISTORY_FEATURES
    + ACCOUNT_FEATURES
)
POLICY_FEATURES = ("description",)  # similarity to the policy's description of the team
EVIDENCE = MODEL_FEATURES + VOTE_FEATURES + POLICY_FEATURES  # what the ranker sees
FEATURES = (*EVIDENCE, "ranker")
MIN_CASES_TO_LEARN = 20
META_ROWS = 6000  # rows the meta-learner and calibration are fitted on
# Measured (seed-13 splits; "a vs b" = tickets right only before vs only after): 20,000 rows on
# helpdesk_topics' 30,615 cases gave accuracy 0.8814 -> 0.8823 (62 vs 69, McNemar p = 0.6), ECE
# 0.012 -> 0.009, fit 208 -> 294 s (the two runs shared the cores, so the time is rough); 4,800 of
# it_incidents' 5,394 gave 0.7793 -> 0.7779 (11 vs 9). The sample size is not a lever.

# Boosted trees need many more rows than the stacker's few weights: below this many meta rows
# the ranker is not fitted and its column is constant (which the softmax ignores).
RANKER_MIN_ROWS = 3000
NEIGHBOURS = 10  # precedents voting per ticket; matches the default store search size
FOLDS = 5
SEED = 13
# Fixed weights for a knowledge base too small to learn them: precedents and history decide (an
# account's other requesters count for less than the requester's own cases).
VOTE_ONLY_WEIGHTS = np.array(
    [0, 0, 1, 0, 2, 1, 1, 0, 1, 0.5, 1, 0, 2, 0.5, 0.5, 0, 1, 0], dtype=np.float64
)
LOG_FLOOR = -12.0
# A ticket is "unlike any past case" when its nearest precedent by meaning is less similar than
# the nearest other case is for all but this share of the knowledge base's own cases: the rate at
# which ordinary tickets are sent to review as novel. (By wording, TF-IDF's character n-grams give
# any text of the same language a similar base similarity, so it does not tell nonsense apart.)
NOVELTY_QUANTILE = 0.01


class LabelModel:
    """Calibrated probabilities of one label from text, embedding, precedents and history."""

    def __init__(self) -> None:
        self.classes: list[str] = []
        self.index: dict[str, int] = {}
        self.text_model: LinearSVC | None = None
        self.embedding_model: LogisticRegression | None = None
        self.embedding_svm: LinearSVC | None = None
        self.log_prior = np.zeros(0)
        self.stacker = ConditionalLogit()
        self.ranker = _new_ranker()
        self.temperature = 1.0
        self.learned = False
        self.described = False  # fitted with the policy's team descriptions
        self.n_cases = 0
        self.counts = np.zeros(0, dtype=np.int64)  # cases per class
        # nearest-precedent similarity (by meaning) below which a ticket is novel
        self.novelty_floor: float | None = None

    def fit(
        self,
        text_x: sp.csr_matrix,
        index_x: sp.csr_matrix,
        embeddings: np.ndarray,
        labels: Sequence[str],
        requesters: Sequence[str | None],
        accounts: Sequence[str | None],
        descriptions: dict[str, np.ndarray] | None = None,
    ) -> dict[str, object]:
        """Fit on labelled rows: TF-IDF rows, the unit-norm rows precedents are searched by,
        embeddings, labels, requesters and their accounts (None: unknown), and the embedded
        descriptions of the classes the policy describes."""
        with threadpool_limits(1):  # two BLAS pools on two cores oversubscribe: 20x slower
            return self._fit(
                text_x, index_x, embeddings, labels, requesters, accounts, descriptions or {}
            )

    def _fit(
        self,
        text_x: sp.csr_matrix,
        index_x: sp.csr_matrix,
        embeddings: np.ndarray,
        labels: Sequence[str],
        requesters: Sequence[str | None],
        accounts: Sequence[str | None],
        descriptions: dict[str, np.ndarray],
    ) -> dict[str, object]:
        self.classes = sorted(set(labels))
        self.described = any(c in descriptions for c in self.classes)
        self.index = {c: i for i, c in enumerate(self.classes)}
        y = np.array([self.index[label] for label in labels], dtype=np.int64)
        self.n_cases = len(y)
        counts = self.counts = np.bincount(y, minlength=len(self.classes))
        self.log_prior = np.log((counts + 1.0) / (counts.sum() + len(counts)))
        # The meta-learner has few weights: a sample of rows is enough to fit it, and it spares
        # the quadratic neighbour search and most out-of-fold work on large knowledge bases.
        rng = np.random.default_rng(SEED)
        meta_rows = np.sort(rng.choice(len(y), min(len(y), META_ROWS), replace=False))
        emb_idx, emb_sim = leave_one_out_neighbours(embeddings, NEIGHBOURS, meta_rows)
        txt_idx, txt_sim = leave_one_out_neighbours(index_x, NEIGHBOURS, meta_rows)
        self.novelty_floor = _novelty_floor(emb_sim)
        history = requester_history(requesters)
        account = requester_history(accounts)  # the same question asked of the account
        votes = np.stack(
            [
                self._votes(
                    [(y[emb_idx[r]], emb_sim[r]), (y[txt_idx[r]], txt_sim[r])],
                    y[history[row]],
                    y[account[row]],
                )
                for r, row in enumerate(meta_rows)
            ]
        )
        # the policy's column follows the votes, as in EVIDENCE
        described = self._described(embeddings[meta_rows], descriptions)
        votes = np.concatenate([votes, described[:, :, None]], axis=2)
        self.learned = (
            len(self.classes) >= 2 and len(y) >= MIN_CASES_TO_LEARN and (counts >= 2).sum() >= 2
        )
        if not self.learned:
            self.stacker.weights = VOTE_ONLY_WEIGHTS.copy()
            self.stacker.bias = np.zeros(len(self.classes))
            mode = "votes-only (too few cases to learn: precedents and history decide)"
            return {"n": len(y), "classes": len(self.classes), "mode": mode}
        model_x = self._out_of_fold(text_x, embeddings, y, meta_rows)
        evidence = np.concatenate([model_x, votes], axis=2)
        meta_y = y[meta_rows]
        use_ranker = len(meta_y) >= RANKER_MIN_ROWS
        self.ranker = _new_ranker()  # unfitted, it scores every class alike: a constant column
        ranked = (
            self._cross_fit_ranker(evidence, meta_y)
            if use_ranker
            else self.ranker.scores(evidence)[:, :, None]
        )
        features = np.concatenate([evidence, ranked], axis=2)
        meta_logits = self._cross_fit_meta(features, meta_y)
        self.temperature = fit_temperature(meta_logits, meta_y)
        probs = calibrated(meta_logits, self.temperature)
        self.stacker.fit(features, meta_y, init=VOTE_ONLY_WEIGHTS)
        if use_ranker:
            self.ranker.fit(evidence, meta_y)
        self.text_model = _fit_svm(text_x, y)
        self.embedding_model = _fit_lr(embeddings, y)
        self.embedding_svm = _fit_embedding_svm(embeddings, y)
        correct = probs.argmax(axis=1) == meta_y
        return {
            "n": len(y),
            "meta_rows": len(meta_rows),
            "classes": len(self.classes),
            "mode": "stacked" + (" with the candidate ranker" if use_ranker else ""),
            "validation_accuracy": round(float(correct.mean()), 4),
            "ece": round(expected_calibration_error(probs.max(axis=1), correct), 4),
            "temperature": round(self.temperature, 3),
            "weights": dict(zip(FEATURES, np.round(self.stacker.weights, 3).tolist(), strict=True)),
        }

    def _votes(
        self,
        neighbour_sets: Sequence[tuple[Sequence[int], Sequence[float]]],
        history: Sequence[int],
        account: Sequence[int],
    ) -> np.ndarray:
        c = len(self.classes)
        return np.concatenate(
            [knn_features(labels, sims, c) for labels, sims in neighbour_sets]
            + [history_features(history, c), history_features(account, c)],
            axis=1,
        )

    def _out_of_fold(
        self, text_x: sp.csr_matrix, embeddings: np.ndarray, y: np.ndarray, rows: np.ndarray
    ) -> np.ndarray:
        """Base-model features of ``rows``, each from models fitted on every row but its fold."""
        n, c = len(rows), len(self.classes)
        out = np.zeros((n, c, len(MODEL_FEATURES)), dtype=np.float32)
        folds = min(FOLDS, max(2, n // 10))
        stratify = np.bincount(y[rows]).min() >= folds
        splitter = (StratifiedKFold if stratify else KFold)(folds, shuffle=True, random_state=SEED)
        for _, held in splitter.split(np.zeros(n), y[rows]):
            test = rows[held]
            train = np.setdiff1d(np.arange(len(y)), test, assume_unique=True)
            classes = np.unique(y[train])
            if len(classes) < 2:
                out[held, :, 1] = LOG_FLOOR
                continue
            svm = _fit_svm(text_x[train], y[train])
            out[held, :, 0] = _spread(_svm_scores(svm, text_x[test]), classes, c, -2.0)
            lr = _fit_lr(embeddings[train], y[train])
            logp = np.log(np.clip(lr.predict_proba(embeddings[test]), 1e-12, None))
            out[held, :, 1] = _spread(np.maximum(logp, LOG_FLOOR), classes, c, LOG_FLOOR)
            counts = np.bincount(y[train], minlength=c)
            out[held, :, 2] = np.log((counts + 1.0) / (counts.sum() + c))
            esvm = _fit_embedding_svm(embeddings[train], y[train])
            out[held, :, 3] = _spread(_svm_scores(esvm, embeddings[test]), classes, c, -2.0)
        return out

    def _cross_fit_ranker(self, evidence: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Ranker scores of every row from a ranker fitted on the other folds, shape (n, c, 1)."""
        scores = np.zeros((len(y), len(self.classes), 1), dtype=np.float32)
        for train, test in KFold(FOLDS, shuffle=True, random_state=SEED).split(evidence):
            ranker = _new_ranker().fit(evidence[train], y[train])
            scores[test, :, 0] = ranker.scores(evidence[test])
        return scores

    def _cross_fit_meta(self, features: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Meta-learner logits of every row from a stacker fitted on the other folds."""
        logits = np.zeros((len(y), len(self.classes)))
        for train, test in KFold(FOLDS, shuffle=True, random_state=SEED).split(features):
            meta = ConditionalLogit().fit(features[train], y[train], init=VOTE_ONLY_WEIGHTS)
            logits[test] = meta.logits(features[test])
        return logits

    def predict_proba(
        self,
        text_x: sp.csr_matrix,
        embedding: np.ndarray,
        neighbour_sets: Sequence[tuple[Sequence[str | None], Sequence[float]]],
        history_labels: Sequence[str | None],
        account_labels: Sequence[str | None],
        descriptions: dict[str, np.ndarray] | None = None,
    ) -> np.ndarray:
        """Calibrated probabilities over ``self.classes`` for one ticket; the history labels are
        the requester's earlier cases, the account labels those of their whole account."""
        c = len(self.classes)
        model_x = np.zeros((c, len(MODEL_FEATURES)), dtype=np.float32)
        model_x[:, 2] = self.log_prior
        svm, lr, esvm = self.text_model, self.embedding_model, self.embedding_svm
        if self.learned and svm is not None and lr is not None and esvm is not None:
            # plain dot products: sklearn's input validation costs more than the maths here
            model_x[:, 0] = _two_sided(np.asarray(text_x @ svm.coef_.T).ravel() + svm.intercept_)
            logits = embedding.astype(np.float64) @ lr.coef_.T + lr.intercept_
            if len(logits) == 1:  # binary: sklearn's probability is sigmoid(d) = softmax([0, d])
                logits = np.concatenate([[0.0], logits])
            model_x[:, 1] = np.maximum(log_softmax(logits), LOG_FLOOR)
            vector = embedding.astype(np.float32)
            model_x[:, 3] = _two_sided(vector @ esvm.coef_.T + esvm.intercept_)
        votes = self._votes(
            [
                ([self.index.get(x or "", -1) for x in labels], sims)
                for labels, sims in neighbour_sets
            ],
            [self.index.get(label or "", -1) for label in history_labels],
            [self.index.get(label or "", -1) for label in account_labels],
        )
        described = self._described(embedding[None, :], descriptions or {})[0]
        evidence = np.concatenate([model_x, votes, described[:, None]], axis=1)[None, :, :]
        features = np.concatenate([evidence, self.ranker.scores(evidence)[:, :, None]], axis=2)
        return calibrated(self.stacker.logits(features), self.temperature)[0]

    def _described(self, embeddings: np.ndarray, descriptions: dict[str, np.ndarray]) -> np.ndarray:
        """Per-class similarity to the policy's team descriptions, shape (n, classes): cosine
        gaps to the mean of the described classes, sharpened; 0 for classes not described."""
        out = np.zeros((len(embeddings), len(self.classes)), dtype=np.float32)
        known = [i for i, c in enumerate(self.classes) if c in descriptions]
        if not known or not self.described:
            return out
        matrix = np.stack([descriptions[self.classes[i]] for i in known]).astype(np.float32)
        sims = np.asarray(embeddings, dtype=np.float32) @ matrix.T
        out[:, known] = (sims - sims.mean(axis=1, keepdims=True)) / DESCRIPTION_TEMPERATURE
        return out

    @property
    def unseen_share(self) -> float:
        """Good-Turing's estimate of the share of new cases in a class none was seen of: the
        share of cases whose class was seen once (the new case counts as one more draw)."""
        return float((self.counts == 1).sum()) / (self.n_cases + 1)

    @property
    def confidence_scale(self) -> float:
        """1 when calibrated; below 1 for a vote-only model, too small to know how often it errs."""
        return 1.0 if self.learned else self.n_cases / (self.n_cases + 10.0)


def _novelty_floor(emb_sim: np.ndarray) -> float | None:
    """The NOVELTY_QUANTILE of the cases' similarity to their nearest other case by meaning;
    None when the knowledge base is too small to say what is usual."""
    if len(emb_sim) < MIN_CASES_TO_LEARN or emb_sim.shape[1] == 0:
        return None
    return float(np.quantile(emb_sim[:, 0], NOVELTY_QUANTILE))


def _new_ranker() -> CandidateRanker:
    return CandidateRanker(EVIDENCE, VOTE_FEATURES, LOG_FLOOR)


def _fit_svm(x: sp.csr_matrix, y: np.ndarray) -> LinearSVC:
    with warnings.catch_warnings():
        # liblinear's iteration cap only costs a little precision on a separable problem
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LinearSVC(C=0.5, class_weight=None, random_state=SEED).fit(x, y)
    model.coef_ = model.coef_.astype(np.float32)  # halves memory and the saved file
    return model


def _fit_embedding_svm(x: np.ndarray, y: np.ndarray) -> LinearSVC:
    """A linear SVM on the embedding: margins where the logistic regression gives probabilities.

    The two disagree most on small classes, which the meta-learner uses; the pair beat either
    alone on the IT incidents (accuracy +1.5 points, log-loss lower).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LinearSVC(C=1.0, random_state=SEED).fit(np.asarray(x, dtype=np.float32), y)
    model.coef_ = model.coef_.astype(np.float32)
    return model


def _svm_scores(model: LinearSVC, x: sp.csr_matrix) -> np.ndarray:
    scores = np.asarray(model.decision_function(x), dtype=np.float32)
    return np.stack([-scores, scores], axis=1) if scores.ndim == 1 else scores


def _two_sided(scores: np.ndarray) -> np.ndarray:
    """A binary model's single score as one score per class, like the multi-class case."""
    return np.concatenate([-scores, scores]) if len(scores) == 1 else scores


def _fit_lr(x: np.ndarray, y: np.ndarray) -> LogisticRegression:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return LogisticRegression(C=10.0, max_iter=300).fit(x, y)


def _spread(scores: np.ndarray, classes: np.ndarray, n_classes: int, fill: float) -> np.ndarray:
    """Scores over a fold's classes placed in the columns of all classes (others get ``fill``)."""
    out = np.full((len(scores), n_classes), fill, dtype=np.float32)
    out[:, classes] = scores
    return out
