"""Text features for the learned router: normalisation and word + character TF-IDF.

Normalisation removes what carries no routing signal but varies between copies of the same
problem (forwarded-mail headers, e-mail addresses, long numbers, dates), so that near-duplicate
tickets share their n-grams. Ids such as ``job_1320`` are kept: they often name the owning team.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

MAX_CHARS = 3000  # long mail threads: the first part holds the problem, the rest is quoted noise

_HEADER = re.compile(
    r"^\s*(received from|from|von|sent|gesendet|to|an|cc|subject|betreff|date|datum)\s*:.*$",
    re.IGNORECASE | re.MULTILINE,
)
_EMAIL = re.compile(r"\S+@\S+")
_URL = re.compile(r"https?://\S+|www\.\S+")
_DATE = re.compile(r"\b\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}\b")
_TIME = re.compile(r"\b\d{1,2}:\d{2}(:\d{2})?\b")
_LONG_NUMBER = re.compile(r"(?<![a-z_])\d{3,}\b")
_SPACE = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    """Lower-case, drop mail headers, mask addresses, URLs, dates and stand-alone long numbers."""
    text = text[:MAX_CHARS].lower()
    text = _HEADER.sub(" ", text)
    text = _EMAIL.sub(" emailaddr ", text)
    text = _URL.sub(" urladdr ", text)
    text = _DATE.sub(" datestr ", text)
    text = _TIME.sub(" timestr ", text)
    text = _LONG_NUMBER.sub(" 0 ", text)
    return _SPACE.sub(" ", text).strip()


class TextVectorizer:
    """Word 1-2 gram and character 2-5 gram TF-IDF over normalised text, stacked side by side."""

    def __init__(self, max_word_features: int = 200_000, max_char_features: int = 300_000) -> None:
        self.word = TfidfVectorizer(
            ngram_range=(1, 2),
            min_df=1,
            max_features=max_word_features,
            sublinear_tf=True,
            token_pattern=r"(?u)\b\w+\b",
            dtype=np.float32,
        )
        self.char = TfidfVectorizer(
            analyzer="char",
            ngram_range=(2, 5),
            min_df=2,
            max_features=max_char_features,
            sublinear_tf=True,
            dtype=np.float32,
        )

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Learn the vocabularies and return the feature matrix of the normalised texts."""
        clean = [normalise_text(t) for t in texts]
        # min_df=2 needs two documents; a one-case knowledge base keeps every n-gram instead
        if len(clean) < 2:
            self.char.set_params(min_df=1)
        return sp.hstack([self.word.fit_transform(clean), self.char.fit_transform(clean)]).tocsr()

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Feature matrix of new texts."""
        clean = [normalise_text(t) for t in texts]
        return sp.hstack([self.word.transform(clean), self.char.transform(clean)]).tocsr()
