"""Text features for the learned router: word + character TF-IDF, and a word index of the cases.

Text is only lower-cased and truncated. Masking addresses, numbers and mail headers was tried and
lost accuracy: sender addresses, job names and host ids often name the owning team.
"""

from __future__ import annotations

from collections.abc import Sequence

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
        return sp.hstack([self.word.transform(clean), self.char.transform(clean)]).tocsr()


class TextIndex:
    """The fitted cases' word TF-IDF rows and labels: precedents that share the ticket's wording.

    Words only: character n-grams have long postings lists and made a search cost ~8 ms on 30k
    cases, for no gain in accuracy.
    """

    def __init__(self, matrix: sp.csr_matrix, word_dims: int) -> None:
        self.matrix = matrix
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
