"""Both case stores behave alike; Chroma on disk persists and never needs the network."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pytest

from agent.errors import ConflictError, UpstreamError
from agent.settings import Settings
from knowledge.base import CaseStore
from knowledge.cases import Case
from knowledge.catch_up import case_digest
from knowledge.memory_store import InMemoryCaseStore
from knowledge.requesters import RequesterIndex
from knowledge.store import (
    ChromaCaseStore,
    Reachable,
    case_from_record,
    case_to_metadata,
)

REPO = Path(__file__).resolve().parents[2]

CASES = [
    Case(
        id="c1",
        subject="VPN drops",
        body="vpn disconnects every hour",
        team="network",
        requester="ann",
        account_id="acme",
        created_at=datetime(2024, 1, 1, tzinfo=UTC),
    ),
    Case(
        id="c2",
        subject="Invoice wrong",
        body="billing charged twice",
        team="billing",
        requester="ann",
        account_id="acme",
        created_at=datetime(2024, 3, 1, tzinfo=UTC),
    ),
    Case(
        id="c3",
        subject="",
        body="printer jammed on floor 2",
        team="desk",
        requester="bob",
        account_id="acme",
    ),
]


@pytest.fixture(params=["memory", "chroma", "chroma-server"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CaseStore]:
    if request.param == "memory":
        yield InMemoryCaseStore()
        return
    settings = Settings(data_dir=tmp_path)
    if request.param == "chroma-server":  # the scale-out mode: lookups by metadata filter
        port = request.getfixturevalue("chroma_server")
        collection = f"t-{uuid.uuid4().hex[:12]}"  # one server for the session, fresh per test
        settings = Settings(
            data_dir=tmp_path, chroma_mode="http", chroma_port=port, collection=collection
        )
    chroma = ChromaCaseStore.open(settings)
    yield chroma
    chroma.close()


class WordEmbedder:
    """Hashed bag of words, L2-normalised: texts sharing words are close."""

    dim = 64

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.full((len(texts), self.dim), 1e-3, dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                out[row, sum(word.encode()) % self.dim] += 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def _fill(store: CaseStore) -> WordEmbedder:
    embedder = WordEmbedder()
    store.upsert(CASES, embedder.embed([c.text for c in CASES]))
    return embedder


def test_search_ranks_the_near_duplicate_first(store: CaseStore) -> None:
    embedder = _fill(store)
    hits = store.search(embedder.embed(["vpn disconnects every hour again"])[0], k=2)
    assert hits[0].case.id == "c1"
    assert hits[0].similarity > hits[1].similarity
    assert 0.5 < hits[0].similarity <= 1.0 + 1e-5


def test_a_search_for_more_cases_than_stored_returns_them_all(store: CaseStore) -> None:
    embedder = WordEmbedder()
    query = embedder.embed(["vpn disconnects"])[0]
    assert store.search(query, k=10**11) == []  # an empty store, any k
    _fill(store)
    for k in (4, 10**11):  # beyond what Chroma's index takes as an integer
        assert len(store.search(query, k=k)) == 3


def test_exact_text_has_similarity_one(store: CaseStore) -> None:
    embedder = _fill(store)
    hits = store.search(embedder.embed([CASES[1].text])[0], k=10)
    assert hits[0].case == CASES[1]
    assert hits[0].similarity == pytest.approx(1.0, abs=1e-4)
    assert len(hits) == 3


def test_upsert_replaces_by_id_and_delete_removes(store: CaseStore) -> None:
    embedder = _fill(store)
    moved = CASES[0].model_copy(update={"team": "security"})
    store.upsert([moved], embedder.embed([moved.text]))
    assert store.count() == 3
    assert store.get("c1") == moved
    store.delete(["c1", "missing"])
    assert store.count() == 2
    assert store.get("c1") is None
    assert set(store.get_many(["c1", "c2", "c3"])) == {"c2", "c3"}


def test_a_delete_that_names_a_case_twice_removes_it_once(store: CaseStore) -> None:
    _fill(store)
    store.delete(["c1", "c1", "c2"])
    assert store.count() == 1
    assert set(store.get_many(["c1", "c2", "c3"])) == {"c3"}
    assert [c.id for c in store.by_requester("ann")] == []


def test_an_upsert_that_leaves_fields_out_clears_them(store: CaseStore) -> None:
    """A scrubbed re-export must remove the requester, tags and resolution it no longer has."""
    embedder = _fill(store)
    full = CASES[1].model_copy(
        update={"tags": ["Mail"], "resolution": "Told jane@example.com by phone."}
    )
    store.upsert([full], embedder.embed([full.text]))
    scrubbed = Case(id=full.id, subject=full.subject, body=full.body, team=full.team)
    store.upsert([scrubbed], embedder.embed([scrubbed.text]))
    assert store.get(full.id) == scrubbed


def test_by_requester_is_newest_first(store: CaseStore) -> None:
    _fill(store)
    assert [c.id for c in store.by_requester("ann")] == ["c2", "c1"]
    assert [c.id for c in store.by_requester("ann", limit=1)] == ["c2"]
    assert store.by_requester("nobody") == []


def test_by_requester_follows_an_upsert_that_changes_the_requester(store: CaseStore) -> None:
    embedder = _fill(store)
    moved = CASES[0].model_copy(update={"requester": "bob"})
    store.upsert([moved], embedder.embed([moved.text]))
    assert [c.id for c in store.by_requester("ann")] == ["c2"]
    assert [c.id for c in store.by_requester("bob")] == ["c1", "c3"]  # undated last
    store.delete(["c2"])
    assert store.by_requester("ann") == []


def test_by_account_spans_its_requesters_newest_first(store: CaseStore) -> None:
    embedder = _fill(store)
    assert [c.id for c in store.by_account("acme")] == ["c2", "c1", "c3"]  # undated last
    assert [c.id for c in store.by_account("acme", limit=2)] == ["c2", "c1"]
    moved = CASES[1].model_copy(update={"account_id": "globex"})
    store.upsert([moved], embedder.embed([moved.text]))
    assert [c.id for c in store.by_account("acme")] == ["c1", "c3"]
    assert [c.id for c in store.by_account("globex")] == ["c2"]
    assert store.by_account("nobody") == []


def test_chroma_requester_index_from_before_accounts_is_rebuilt(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = ChromaCaseStore.open(settings)
    _fill(first)
    first.close()
    index = settings.kb_dir / f"{settings.collection}-requesters.sqlite"
    index.unlink()
    with sqlite3.connect(index) as old:  # the layout written before accounts were indexed
        old.execute("CREATE TABLE cases (id TEXT PRIMARY KEY, requester TEXT, created REAL)")
        old.executemany(
            "INSERT INTO cases VALUES (?, ?, ?)",
            [("c1", "ann", 1.0), ("c2", "ann", 2.0), ("c3", "bob", None)],
        )
    again = ChromaCaseStore.open(settings)  # same count, but no accounts: rebuilt anyway
    assert [c.id for c in again.by_account("acme")] == ["c2", "c1", "c3"]
    assert [c.id for c in again.by_requester("ann")] == ["c2", "c1"]
    again.close()


def test_chroma_requester_index_is_rebuilt_when_lost_or_stale(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = ChromaCaseStore.open(settings)
    _fill(first)
    first.close()
    index = settings.kb_dir / f"{settings.collection}-requesters.sqlite"
    assert index.exists()
    index.unlink()  # lost (or written by an older version)
    again = ChromaCaseStore.open(settings)
    assert [c.id for c in again.by_requester("ann")] == ["c2", "c1"]
    # a crash between the index write and Chroma's leaves an id Chroma lacks: it is skipped
    stale = RequesterIndex(index)
    stale.put([("ghost", "ann", None, datetime(2025, 1, 1, tzinfo=UTC).timestamp())])
    assert stale.newest("requester", "ann", 5)[0] == "ghost"
    assert [c.id for c in again.by_requester("ann")] == ["c2", "c1"]
    again.close()
    third = ChromaCaseStore.open(settings)  # counts differ: rebuilt from the collection
    assert stale.count() == 3
    assert stale.newest("requester", "ann", 5) == ["c2", "c1"]
    stale.close()
    third.close()


def test_an_unreadable_requester_index_is_rebuilt(tmp_path: Path) -> None:
    """The index holds nothing Chroma does not: a file a crash or a full disk spoilt is rebuilt
    from the collection, not a traceback from every command."""
    settings = Settings(data_dir=tmp_path)
    first = ChromaCaseStore.open(settings)
    _fill(first)
    first.close()
    index = settings.kb_dir / f"{settings.collection}-requesters.sqlite"
    index.write_bytes(b"not a database" * 100)
    again = ChromaCaseStore.open(settings)
    assert [c.id for c in again.by_requester("ann")] == ["c2", "c1"]
    again.close()


def test_an_unreadable_chroma_database_is_one_error_naming_it(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    settings.kb_dir.mkdir(parents=True)
    (settings.kb_dir / "chroma.sqlite3").write_bytes(b"not a database" * 100)
    with pytest.raises(UpstreamError, match=f"cannot open the knowledge base at {settings.kb_dir}"):
        ChromaCaseStore.open(settings)


def test_iter_all_pages_through_cases_with_embeddings(store: CaseStore) -> None:
    embedder = WordEmbedder()
    many = [Case(id=f"k{i}", body=f"ticket number {i} about topic {i % 7}") for i in range(25)]
    vectors = embedder.embed([c.text for c in many])
    store.upsert(many, vectors)
    seen: dict[str, np.ndarray] = {}
    for cases, embeddings in store.iter_all(batch_size=10):
        assert len(cases) == len(embeddings) <= 10
        seen.update((c.id, e) for c, e in zip(cases, embeddings, strict=True))
    assert len(seen) == 25
    np.testing.assert_allclose(seen["k7"], vectors[7], atol=1e-5)


def test_iter_labels_pages_through_every_case_with_its_labels(store: CaseStore) -> None:
    _fill(store)
    pages = list(store.iter_labels(batch_size=2))
    assert [len(page) for page in pages] == [2, 1]
    seen = {case.id: case for page in pages for case in page}
    assert {i: (c.team, c.requester, c.label_source) for i, c in seen.items()} == {
        c.id: (c.team, c.requester, c.label_source) for c in CASES
    }
    assert seen["c2"].subject == "Invoice wrong"


def test_get_embedded_gives_the_stored_cases_with_their_embeddings(store: CaseStore) -> None:
    vectors = _fill(store).embed([c.text for c in CASES])
    cases, embeddings = store.get_embedded(["c3", "missing", "c1", "c3"])
    assert len(cases) == len(embeddings) == 2
    found = {case.id: (case, vector) for case, vector in zip(cases, embeddings, strict=True)}
    assert found["c1"][0] == CASES[0] and found["c3"][0] == CASES[2]
    np.testing.assert_allclose(found["c1"][1], vectors[0], atol=1e-5)
    np.testing.assert_allclose(found["c3"][1], vectors[2], atol=1e-5)
    assert len(store.get_embedded(["missing"])[0]) == 0


def test_a_case_read_by_a_label_scan_has_the_digest_of_the_case_stored(store: CaseStore) -> None:
    """What lets a loaded router find the stored cases it does not know (knowledge.catch_up)."""
    _fill(store)
    scanned = {case.id: case_digest(case) for page in store.iter_labels() for case in page}
    assert scanned == {case.id: case_digest(case) for case in CASES}
    whole = {case.id: case_digest(case) for cases, _ in store.iter_all() for case in cases}
    assert whole == scanned


def test_pages_smaller_than_one_case_hold_one_case_each(store: CaseStore) -> None:
    _fill(store)
    for size in (0, -2):
        assert [len(page) for page in store.iter_labels(batch_size=size)] == [1, 1, 1]
        assert [len(cases) for cases, _ in store.iter_all(batch_size=size)] == [1, 1, 1]


def test_metadata_round_trip_keeps_every_field() -> None:
    case = Case(
        id="x",
        subject="s",
        body="",
        team="t",
        tier=2,
        assignee="a",
        priority="high",
        tags=["a", "b"],
        language="de",
        requester="r",
        account_id="acc",
        resolution="",
        created_at=datetime(2024, 5, 1, 12, tzinfo=UTC),
        first_route="u",
        escalated=True,
        first_contact_resolved=False,
        handling_hours=3.5,
        label_source="specialist",
    )
    meta = case_to_metadata(case)
    assert all(isinstance(v, str | int | float | bool) for v in meta.values())
    assert json.loads(str(meta["tags"])) == ["a", "b"]
    assert case_from_record("x", case.text, meta) == case


def test_chroma_persists_across_reopen(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = ChromaCaseStore.open(settings)
    embedder = _fill(first)
    first.close()
    again = ChromaCaseStore.open(settings)
    assert again.count() == 3
    assert again.search(embedder.embed([CASES[2].text])[0], k=1)[0].case == CASES[2]
    again.close()


def test_switching_the_embedding_model_on_a_store_is_refused(tmp_path: Path) -> None:
    first = ChromaCaseStore.open(Settings(data_dir=tmp_path))
    _fill(first)
    first.close()
    with pytest.raises(ConflictError, match="holds minilm-int8 embeddings"):
        ChromaCaseStore.open(Settings(data_dir=tmp_path, embedding_model="e5-small-multilingual"))
    other = Settings(
        data_dir=tmp_path, embedding_model="e5-small-multilingual", collection="cases-e5"
    )
    ChromaCaseStore.open(other).close()  # another collection is fine


OFFLINE_SCRIPT = """
import sys
from pathlib import Path
import numpy as np
from agent.settings import Settings
from knowledge.store import ChromaCaseStore
store = ChromaCaseStore.open(Settings(data_dir=Path(sys.argv[1])))
query = np.zeros(64, dtype=np.float32); query[0] = 1.0
print(store.count(), len(store.search(query, k=2)))
"""


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare for a network namespace")
def test_chroma_opens_and_queries_without_network(tmp_path: Path) -> None:
    first = ChromaCaseStore.open(Settings(data_dir=tmp_path / "data"))
    _fill(first)
    first.close()
    if subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode != 0:
        pytest.skip("user namespaces are not allowed here")
    env = {**os.environ, "HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        ["unshare", "-rn", sys.executable, "-c", OFFLINE_SCRIPT, str(tmp_path / "data")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["3", "2"]
    assert not (tmp_path / "home" / ".cache" / "chroma").exists()  # no default model fetched


def test_wrong_embedding_shape_is_an_input_error(store: CaseStore) -> None:
    from agent.errors import InputError

    with pytest.raises(InputError):
        store.upsert(CASES, np.zeros((2, 64), dtype=np.float32))


def test_equally_similar_cases_come_in_id_order(store: CaseStore) -> None:
    embedder = WordEmbedder()
    twins = [Case(id=i, subject="", body="vpn disconnects", team="network") for i in "bca"]
    store.upsert(twins, embedder.embed([c.text for c in twins]))
    hits = store.search(embedder.embed(["vpn disconnects"])[0], k=3)
    assert [h.case.id for h in hits] == ["a", "b", "c"]


def test_a_collection_made_with_the_narrower_default_search_is_widened(tmp_path: Path) -> None:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from knowledge.store import EF_SEARCH, LocalEmbeddingFunction

    settings = Settings(data_dir=tmp_path)
    settings.ensure_dirs()
    client = chromadb.PersistentClient(
        path=str(settings.kb_dir), settings=ChromaSettings(anonymized_telemetry=False)
    )
    made = client.create_collection(  # as the store made it before EF_SEARCH
        settings.collection,
        configuration={"hnsw": {"space": "cosine"}},
        embedding_function=LocalEmbeddingFunction(),  # type: ignore[arg-type]
    )
    assert made.configuration["hnsw"]["ef_search"] < EF_SEARCH
    del made, client
    store = ChromaCaseStore.open(settings)
    store.close()
    again = ChromaCaseStore.open(settings)
    assert again._collection.configuration["hnsw"]["ef_search"] == EF_SEARCH
    again.close()


def test_a_lost_chroma_server_is_an_upstream_error_naming_it() -> None:
    class Gone:
        name = "cases"

        def query(self, **_: object) -> None:
            raise httpx.ConnectError("[Errno 111] Connection refused")

        def get(self, **_: object) -> None:
            raise ValueError("a bad argument stays what it is")

    collection = Reachable(Gone(), "http://127.0.0.1:8000")
    assert collection.name == "cases"
    with pytest.raises(UpstreamError, match=r"cannot reach Chroma at http://127\.0\.0\.1:8000"):
        collection.query(query_embeddings=[[0.1]])
    with pytest.raises(ValueError, match="bad argument"):
        collection.get(ids=["a"])
