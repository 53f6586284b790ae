"""The Chroma case store, embedded on disk or on a server; its in-memory fake is ``memory_store``.

Both store one L2-normalised embedding per case and rank by cosine similarity. We always pass the
embeddings ourselves: the collection's embedding function exists only so Chroma never falls back to
its default one, which downloads a model at first use.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

import chromadb
import httpx
import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.types import (
    Documents,
    Embeddable,
    EmbeddingFunction,
    Embeddings,
    Include,
    Space,
)
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import ChromaError
from chromadb.utils.embedding_functions import register_embedding_function

from agent.errors import ConflictError, UpstreamError
from agent.settings import Settings
from knowledge.cases import Case, SimilarCase
from knowledge.embeddings import Embedder, make_embedder
from knowledge.memory_store import last_per_id, most_similar_first, newest_first
from knowledge.owner import Claim, claim
from knowledge.requesters import OwnerField, RequesterIndex, Row, index_row

_WIDE_SEARCH = 1000  # a search for more cases than this asks how many there are first
_MAX_BATCH = 4096  # below Chroma's limit (5461 on SQLite), and keeps one request's memory small
# Candidates the HNSW search explores per query. Chroma's default (100) missed 0.5% of the true 10
# nearest it_incidents cases, and which ones depended on the index's build timing, so two runs on
# the same data routed differently; 500 misses 0.05%, at 1.5 instead of 0.9 ms per query (6,300).
EF_SEARCH = 500


@register_embedding_function
class LocalEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma-side wrapper of our local embedder; rebuilt by name, never downloads anything."""

    def __init__(self, model: str = "minilm-int8", embedder: Embedder | None = None) -> None:
        self._model = model
        self._embedder = embedder

    def __call__(self, input: Documents) -> Embeddings:
        if self._embedder is None:  # only a Chroma caller that omits embeddings gets here
            self._embedder = make_embedder(self._model)
        return list(self._embedder.embed(list(input)))

    @staticmethod
    def name() -> str:
        return "triage-local"

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> LocalEmbeddingFunction:
        return LocalEmbeddingFunction(str(config.get("model", "minilm-int8")))

    def get_config(self) -> dict[str, Any]:
        return {"model": self._model}

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine"]


def case_to_metadata(case: Case) -> dict[str, str | int | float | bool]:
    """Flat Chroma metadata for a case: scalars only, lists as JSON, None left out, body omitted."""
    data = case.model_dump(mode="json", exclude={"id", "body"})
    data["tags"] = json.dumps(case.tags, ensure_ascii=False) if case.tags else None
    return {key: value for key, value in data.items() if value is not None}


def _replacing(metadata: dict[str, Any]) -> dict[str, Any]:
    """Metadata for an upsert that replaces: Chroma merges an upsert's metadata into the stored
    one, so a field left out keeps its old value; a None value removes it."""
    names = Case.model_fields.keys() - {"id", "body"}
    return {**dict.fromkeys(names), **metadata}


def case_from_record(case_id: str, document: str, metadata: Mapping[str, Any]) -> Case:
    """Rebuild a case from its id, document (the case text) and metadata."""
    data = dict(metadata)
    subject = str(data.get("subject", ""))
    if not subject:
        body = document
    elif document == subject:
        body = ""
    else:
        body = document[len(subject) + 1 :]
    data["tags"] = json.loads(data["tags"]) if data.get("tags") else []
    return Case.model_validate({**data, "id": case_id, "subject": subject, "body": body})


class Reachable:
    """A Chroma server's collection whose lost connection is an UpstreamError naming the server.

    Only the transport's failures are translated: the service answers 502 "upstream" (the intake
    retries, then dead-letters) instead of 500 "internal", and /readyz names the same server.
    """

    def __init__(self, collection: Any, location: str) -> None:
        self._inner = collection
        self._location = location

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return attribute(*args, **kwargs)
            except httpx.TransportError as exc:
                raise UpstreamError(f"cannot reach Chroma at {self._location}: {exc}") from exc

        return call


class ChromaCaseStore:
    """Past cases in a Chroma collection with cosine distance."""

    def __init__(
        self,
        client: ClientAPI,
        collection: str = "cases",
        embedding_model: str = "minilm-int8",
        requesters: RequesterIndex | None = None,
    ) -> None:
        self._client = client
        self._claim: Claim | None = None  # this process's hold on an embedded store's directory
        # embedded mode: the requester lookup goes through this index (see knowledge.requesters);
        # a Chroma server may be shared by several machines, so there it stays a metadata filter
        self._requesters = requesters
        try:
            self._collection = client.get_or_create_collection(
                collection,
                configuration={"hnsw": {"space": "cosine", "ef_search": EF_SEARCH}},
                # Chroma types this as EmbeddingFunction[Documents | Images]; ours takes text only
                embedding_function=cast(
                    "EmbeddingFunction[Embeddable]", LocalEmbeddingFunction(embedding_model)
                ),
            )
        except ValueError as exc:  # Chroma's complaint about a conflicting stored configuration
            raise ConflictError(f"cannot open Chroma collection {collection!r}: {exc}") from exc
        stored = self._collection.configuration.get("embedding_function")
        stored_model = stored.get_config().get("model") if stored is not None else None
        if stored_model is not None and stored_model != embedding_model:
            # same dimension (384), so Chroma would silently mix two incompatible vector spaces
            raise ConflictError(
                f"collection {collection!r} holds {stored_model} embeddings but embedding_model is"
                f" {embedding_model!r}: use another collection or data_dir and re-ingest"
            )
        hnsw = self._collection.configuration.get("hnsw") or {}
        space = hnsw.get("space", "cosine")
        if space != "cosine":
            raise ConflictError(f"collection {collection!r} uses {space} distance, not cosine")
        if hnsw.get("ef_search", 0) < EF_SEARCH:
            # a collection made before EF_SEARCH: the setting is one Chroma changes in place
            self._collection.modify(configuration={"hnsw": {"ef_search": EF_SEARCH}})
        self._batch = min(client.get_max_batch_size(), _MAX_BATCH)
        self.location = ""
        if requesters is not None and (
            requesters.stale or requesters.count() != self._collection.count()
        ):
            requesters.rebuild(self._index_rows())

    @classmethod
    def open(cls, settings: Settings, read_only: bool = False) -> ChromaCaseStore:
        """Embedded Chroma under ``settings.kb_dir``, or the Chroma server in http mode.

        Embedded, a store opened to write holds the directory for this process (see
        ``knowledge.owner``): ConflictError when another process does. ``read_only`` opens
        beside such a process: no lock and no requester index (lookups filter the metadata),
        for a caller that only reads."""
        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        client: ClientAPI
        if settings.chroma_mode == "http":
            location = f"http://{settings.chroma_host}:{settings.chroma_port}"
            try:
                client = chromadb.HttpClient(
                    host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
                )
            except Exception as exc:  # any connection failure: name the server, keep the cause
                raise UpstreamError(f"cannot reach Chroma at {location}: {exc}") from exc
        requesters = None
        held: Claim | None = None
        if settings.chroma_mode != "http":
            settings.kb_dir.mkdir(parents=True, exist_ok=True)
            location = str(settings.kb_dir)
            held = None if read_only else claim(settings.kb_dir)
            try:
                client = chromadb.PersistentClient(path=location, settings=chroma_settings)
            except ChromaError as exc:  # a database file a crash, a full disk or a copy spoilt
                if held is not None:
                    held.release()
                raise UpstreamError(f"cannot open the knowledge base at {location}: {exc}") from exc
            if not read_only:  # a reader must not rebuild the index a writer keeps
                index_path = settings.kb_dir / f"{settings.collection}-requesters.sqlite"
                requesters = RequesterIndex(index_path)
        try:
            store = cls(client, settings.collection, settings.embedding_model, requesters)
        except Exception:
            if held is not None:
                held.release()  # a store that did not open holds nothing
            raise
        store.location = location
        store._claim = held
        if settings.chroma_mode == "http":
            store._collection = cast(Any, Reachable(store._collection, location))
        return store

    def close(self) -> None:
        """Release the client (embedded mode: the SQLite file and index handles)."""
        if self._requesters is not None:
            self._requesters.close()
        close = getattr(self._client, "close", None)
        if close is not None:
            close()
        if self._claim is not None:
            self._claim.release()
            self._claim = None

    def upsert(self, cases: Sequence[Case], embeddings: np.ndarray) -> None:
        """Insert or replace cases by id, with one embedding row per case."""
        unique, vectors = last_per_id(cases, embeddings)
        for start in range(0, len(unique), self._batch):
            chunk = unique[start : start + self._batch]
            if self._requesters is not None:  # first: see knowledge.requesters
                self._requesters.put(index_row(case) for case in chunk)
            self._collection.upsert(
                ids=[case.id for case in chunk],
                embeddings=vectors[start : start + self._batch],
                documents=[case.text for case in chunk],
                metadatas=[_replacing(case_to_metadata(case)) for case in chunk],
            )

    def get(self, case_id: str) -> Case | None:
        """The case with that id, or None."""
        return self.get_many([case_id]).get(case_id)

    def get_many(self, case_ids: Sequence[str]) -> dict[str, Case]:
        """The cases among those ids that exist."""
        found: dict[str, Case] = {}
        ids = list(dict.fromkeys(case_ids))
        for start in range(0, len(ids), self._batch):
            got = self._collection.get(
                ids=ids[start : start + self._batch], include=["documents", "metadatas"]
            )
            found.update((case.id, case) for case in self._cases(got))
        return found

    def get_embedded(self, case_ids: Sequence[str]) -> tuple[list[Case], np.ndarray]:
        """The cases among those ids that exist, with their stored embeddings (one row each)."""
        cases: list[Case] = []
        vectors: list[np.ndarray] = []
        ids = list(dict.fromkeys(case_ids))
        for start in range(0, len(ids), self._batch):
            got = self._collection.get(
                ids=ids[start : start + self._batch],
                include=["documents", "metadatas", "embeddings"],
            )
            if got["ids"]:
                cases.extend(self._cases(got))
                vectors.append(np.asarray(got["embeddings"], dtype=np.float32))
        return cases, np.concatenate(vectors) if vectors else np.zeros((0, 0), dtype=np.float32)

    def search(self, embedding: np.ndarray, k: int) -> list[SimilarCase]:
        """The k nearest cases by cosine similarity, most similar first."""
        if k > _WIDE_SEARCH:  # no more than are stored: Chroma takes n_results as a 32-bit count
            k = min(k, self._collection.count())  # (not for routing's few: 0.4 ms on 2 ms)
        if k <= 0:
            return []
        query = np.asarray(embedding, dtype=np.float32).reshape(1, -1)
        got = self._collection.query(
            query_embeddings=query, n_results=k, include=["documents", "metadatas", "distances"]
        )
        ids, docs = got["ids"][0], (got["documents"] or [[]])[0]
        metas, dists = (got["metadatas"] or [[]])[0], (got["distances"] or [[]])[0]
        found = [
            SimilarCase(case=case_from_record(i, d or "", m or {}), similarity=1.0 - float(dist))
            for i, d, m, dist in zip(ids, docs, metas, dists, strict=True)
        ]
        return most_similar_first(found)

    def by_requester(self, requester: str, limit: int = 20) -> list[Case]:
        """Earlier cases of the same requester, newest first where dates exist."""
        return self._newest_of("requester", requester, limit)

    def by_account(self, account_id: str, limit: int = 20) -> list[Case]:
        """Earlier cases of the same account (any of its requesters), newest first."""
        return self._newest_of("account_id", account_id, limit)

    def _newest_of(self, field: OwnerField, value: str, limit: int) -> list[Case]:
        """The newest cases whose ``field`` is ``value``: by the index, or a metadata filter."""
        if self._requesters is not None:
            ids = self._requesters.newest(field, value, limit)
            found = self.get_many(ids) if ids else {}
            return [found[i] for i in ids if i in found]
        got = self._collection.get(where={field: value}, include=["documents", "metadatas"])
        return newest_first(self._cases(got))[:limit]

    def count(self) -> int:
        """Number of cases stored."""
        return self._collection.count()

    def iter_all(self, batch_size: int = 1000) -> Iterator[tuple[list[Case], np.ndarray]]:
        """Every case with its embedding, in pages of ``batch_size``."""
        for got in self._pages(batch_size, ["documents", "metadatas", "embeddings"]):
            yield self._cases(got), np.asarray(got["embeddings"], dtype=np.float32)

    def iter_labels(self, batch_size: int = 1000) -> Iterator[list[Case]]:
        """Every case without its body and embedding, from the metadata alone, in pages."""
        # the documents and embeddings were 9/10 of what `kb stats` read (40,000 cases)
        for got in self._pages(batch_size, ["metadatas"]):
            metas = got["metadatas"] or [{}] * len(got["ids"])
            yield [case_from_record(i, "", m or {}) for i, m in zip(got["ids"], metas, strict=True)]

    def delete(self, case_ids: Sequence[str]) -> None:
        """Remove cases by id."""
        ids = list(dict.fromkeys(case_ids))  # Chroma refuses a delete that names an id twice
        for start in range(0, len(ids), self._batch):
            self._collection.delete(ids=ids[start : start + self._batch])
            if self._requesters is not None:
                self._requesters.delete(ids[start : start + self._batch])

    def _pages(self, batch_size: int, include: Include) -> Iterator[Any]:
        """Every stored record with the ``include`` fields, one Chroma ``get`` per page."""
        size = max(1, min(batch_size, self._batch))
        offset = 0
        while True:
            got = self._collection.get(limit=size, offset=offset, include=include)
            if not got["ids"]:
                return
            yield got
            offset += len(got["ids"])

    def _index_rows(self) -> Iterator[Row]:
        """The requester index's row of every stored case, from the metadata (no documents)."""
        for cases in self.iter_labels(self._batch):
            yield from (index_row(case) for case in cases)

    @staticmethod
    def _cases(got: Any) -> list[Case]:
        docs = got["documents"] or [""] * len(got["ids"])
        metas = got["metadatas"] or [{}] * len(got["ids"])
        return [
            case_from_record(i, d or "", m or {})
            for i, d, m in zip(got["ids"], docs, metas, strict=True)
        ]
