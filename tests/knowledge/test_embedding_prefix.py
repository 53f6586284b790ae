"""A long text is tokenized from a prefix, with exactly the tokens the whole text would give."""

from __future__ import annotations

import random

import numpy as np
import pytest

from knowledge.embeddings import MiniLMEmbedder

WORDS = ["server", "Datenbank", "naïve", "café", "error:", "(timeout)", "VPN-Zugang", "x" * 40]


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def _long(seed: int, n_chars: int, sep: str = " ") -> str:
    rng = random.Random(seed)
    words: list[str] = []
    while sum(map(len, words)) + len(words) < n_chars:
        words.append(rng.choice(WORDS))
    return sep.join(words)[:n_chars]


TEXTS = {
    "words": _long(1, 200_000),
    "lines": _long(2, 50_000, sep="\n"),
    "cut_inside_a_word": "a " * 2_047 + "b" * 10_000,
    "no_spaces": "y" * 30_000,
    "cjk": "数据库连接失败" * 3_000,
    "long_words_then_short": ("z" * 150 + " ") * 30 + "short " * 5_000,
}


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_the_prefix_gives_the_whole_texts_tokens(minilm: MiniLMEmbedder, name: str) -> None:
    tokenizer = minilm._tokenizer
    text = TEXTS[name]
    assert tokenizer.encode(minilm._prefix(text)).ids == tokenizer.encode(text).ids


def test_a_long_ticket_is_not_tokenized_whole(
    minilm: MiniLMEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    tokenizer = minilm._tokenizer
    real = tokenizer.encode_batch

    class Spy:
        def __getattr__(self, name: str) -> object:
            return getattr(tokenizer, name)

        def encode_batch(self, texts: list[str]) -> object:
            seen.extend(len(t) for t in texts)
            return real(texts)

    monkeypatch.setattr(minilm, "_tokenizer", Spy())
    minilm.embed([TEXTS["words"], "short ticket"])
    assert max(seen) <= minilm._prefix_chars < 10_000


def test_the_embedding_is_the_whole_texts(minilm: MiniLMEmbedder) -> None:
    whole = MiniLMEmbedder()
    whole._prefix_chars = 10**9  # reads every text whole
    texts = [TEXTS["words"], TEXTS["lines"], "printer on floor 3 jams"]
    assert np.array_equal(minilm.embed(texts), whole.embed(texts))
