"""Text features for the learned router: word + character TF-IDF, and a word index of the cases.

Text is only lower-cased and truncated. Masking addresses, numbers and mail headers was tried and
lost accuracy: sender addresses, job names and host ids often name the owning team.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from knowledge.votes import top_k

MAX_CHARS = 3000  # long mail threads: the first part holds the problem, the rest is quoted noise
MAX_WORD_FEATURES = 100_000
MAX_CHAR_FEATURES = 150_000  # caps memory of the per-class weights; accuracy is flat above ~50k


def normalise_text(text: str) -> str:
    """Lower-case, truncate and collapse whitespace."""
    return " ".join(text[:MAX_CHARS].lower().split())


class TextVectorizer:
    """Word and character TF-IDF side by side (word block first), each block L2-normalised."""

    def __init__(self) -> None:
        self.word = TfidfVectorizer(
            ngram_range=(1, 2),
            max_features=MAX_WORD_FEATURES,
            sublinear_tf=True,
            token_pattern=r"(?u)\b\w+\b",
            dtype=np.float32,
        )
        self.char = TfidfVectorizer(
            analyzer="char",
            ngram_range=(2, 5),
            min_df=2,
            max_features=MAX_CHAR_FEATURES,
            sublinear_tf=True,
            dtype=np.float32,
        )

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Learn the vocabularies and return the feature matrix of the texts."""
        clean = [normalise_text(t) for t in texts]
        # min_df=2 needs two documents; a one-case knowledge base keeps every n-gram instead
        if len(clean) < 2:
            self.char.set_params(min_df=1)
        return sp.hstack([self.word.fit_transform(clean), self.char.fit_transform(clean)]).tocsr()

    @property
    def word_dims(self) -> int:
        """Columns of the word block, which come first."""
        return len(self.word.vocabulary_)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Feature matrix of new texts."""
        clean = [normalise_text(t) for t in texts]
        if len(clean) == 1:  # one ticket at routing time: skip sklearn's per-call validation
            return self._transform_one(clean[0])
        return sp.hstack([self.word.transform(clean), self.char.transform(clean)]).tocsr()

    def _transform_one(self, text: str) -> sp.csr_matrix:
        """The row ``transform`` gives (sublinear tf x idf, blocks L2-normalised), ~4x faster."""
        rows = getattr(self, "_rows", None)
        if rows is None:
            rows = self._rows = (_RowVectorizer(self.word), _RowVectorizer(self.char))
        word_cols, word_vals = rows[0](text)
        char_cols, char_vals = rows[1](text)
        dims = self.word_dims
        cols = np.concatenate([word_cols, char_cols + dims])
        vals = np.concatenate([word_vals, char_vals])
        shape = (1, dims + len(self.char.vocabulary_))
        return sp.csr_matrix((vals, cols, np.array([0, len(cols)])), shape=shape)

    def __getstate__(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if k != "_rows"}


class _RowVectorizer:
    """One fitted TfidfVectorizer block applied to one text, without sklearn's call overhead."""

    def __init__(self, fitted: TfidfVectorizer) -> None:
        self.analyze: Callable[[str], list[str]] = fitted.build_analyzer()
        self.vocabulary: dict[str, int] = fitted.vocabulary_
        self.idf = np.asarray(fitted.idf_, dtype=np.float64)

    def __call__(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        vocabulary = self.vocabulary
        counts = Counter(j for j in map(vocabulary.get, self.analyze(text)) if j is not None)
        cols = np.fromiter(counts.keys(), dtype=np.int32, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        vals = (1.0 + np.log(tf)) * self.idf[cols]
        norm = float(np.linalg.norm(vals))
        if norm > 0:
            vals /= norm
        order = np.argsort(cols)
        return cols[order], vals[order].astype(np.float32)


class TextIndex:
    """The fitted cases' word TF-IDF rows and labels: precedents that share the ticket's wording.

    Words only: character n-grams have long postings lists and made a search cost ~8 ms on 30k
    cases, for no gain in accuracy. Only the word postings are kept, not the full word + char
    matrix the models were fitted on: that matrix is several times larger and unused after fit.
    """

    def __init__(self, matrix: sp.csr_matrix, word_dims: int) -> None:
        self.word_dims = word_dims
        # the transpose is an inverted index: a query only touches the postings of its words
        self.postings = matrix[:, :word_dims].T.tocsr()
        self.labels: dict[str, list[str | None]] = {}

    def search(self, query: sp.csr_matrix, k: int) -> tuple[list[int], list[float]]:
        """Rows of the k most similar cases and their cosine on the word block."""
        scores = np.asarray((query[:, : self.word_dims] @ self.postings).toarray()).ravel()
        if not len(scores):
            return [], []
        idx, sims = top_k(scores[None, :], k)
        return idx[0].tolist(), sims[0].tolist()

    def labels_of(self, target: str, rows: list[int]) -> list[str | None]:
        """The target labels of those rows."""
        labels = self.labels.get(target, [])
        return [labels[r] for r in rows]
