"""The knowledge base facade: ingest, search, stats, feedback and refitting the learned router."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from itertools import islice
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, Field

from agent.errors import ConflictError, InputError, TriageError
from agent.settings import Settings
from knowledge.base import CaseStore
from knowledge.cases import Case, SimilarCase
from knowledge.catch_up import case_digest, digests, read_fitted, unknown_ids, write_fitted
from knowledge.embeddings import Embedder, make_embedder
from knowledge.feedback import Feedback, corrected_case
from knowledge.ingest import IngestReport, Skipped
from knowledge.merge import merge_batch
from knowledge.router import LearnedRouter
from knowledge.saved_router import (
    embedder_record,
    holding,
    load_router,
    model_dir_of,
    saved_stamp,
)

if TYPE_CHECKING:
    from tqdm import tqdm

log = logging.getLogger(__name__)


class KBStats(BaseModel):
    """What the knowledge base holds."""

    count: int
    teams: dict[str, int] = Field(description="Cases per team, most first; '(none)' = unlabelled")
    languages: dict[str, int]
    label_sources: dict[str, int]
    embedding_model: str
    store: str = Field(description="Where the cases live: a path, a server URL or 'memory'")


def _batches(items: Iterable[Case], size: int) -> Iterator[list[Case]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _ranked(counter: Counter[str]) -> dict[str, int]:
    return dict(counter.most_common())


class KnowledgeBase:
    """Past cases, their embeddings and the learned router kept in step."""

    def __init__(
        self, store: CaseStore, embedder: Embedder, router: LearnedRouter | None = None
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.router = router
        # Cases stored while a background refit reads its snapshot: the new router must see them.
        self._since_snapshot: dict[str, tuple[Case, np.ndarray]] | None = None
        self._refit_lock = threading.Lock()
        # The policy's teams as embedded descriptions: a refit learns how much they weigh.
        self.team_descriptions: dict[str, np.ndarray] | None = None
        # The saved router file as this process last loaded or wrote it (see saved_router_changed)
        self._saved_stamp = saved_stamp(model_dir_of(router))

    @classmethod
    def open(
        cls, settings: Settings, with_router: bool = True, read_only: bool = False
    ) -> KnowledgeBase:
        """Chroma under kb_dir (or a server), the cached local embedder, the saved router.

        Embedded, the knowledge base is this process's to write until ``close`` (ConflictError
        naming the process that has it, see ``knowledge.owner``); ``read_only`` opens it beside
        that process, for searching and counting."""
        from knowledge.store import ChromaCaseStore

        settings.ensure_dirs()
        store = ChromaCaseStore.open(settings, read_only=read_only)
        embedder = make_embedder(settings.embedding_model, settings.embedding_cache_path)
        router = load_router(settings, embedder.name) if with_router else None
        kb = cls(store, embedder, router)
        if not read_only:
            kb.catch_up()
        return kb

    def close(self) -> None:
        """Release the store's resources (embedded Chroma's files), if it holds any."""
        close = getattr(self.store, "close", None)
        if callable(close):
            close()

    def ingest(
        self,
        cases: Iterable[Case],
        batch_size: int = 256,
        progress: bool = False,
        keep: Collection[str] = (),
        report: IngestReport | None = None,
    ) -> IngestReport:
        """Add or update cases by id; unchanged ones cost nothing, changed ones reach the router.

        ``keep`` names the fields the source does not carry (a reader's ``unread``): a stored
        case keeps its values there instead of having them cleared. A stored team whose label
        source outranks the case's (a specialist's correction against an export) is kept too,
        counted in ``report.labels_kept``. ``report`` is filled as
        batches are stored, so a caller interrupted part-way can say what was done.
        """
        report = report if report is not None else IngestReport()
        started = time.perf_counter()
        bar = _progress_bar() if progress else None
        seen: set[str] = set()  # ids of earlier batches: a repeat is reported, not counted again
        try:
            for number, batch in enumerate(_batches(cases, max(1, batch_size)), start=1):
                self._ingest_batch(batch, report, seen, keep)
                done = report.added + report.updated + report.unchanged + len(report.skipped)
                if bar is not None:
                    bar.update(len(batch))
                elif progress and number % 10 == 0:
                    print(f"ingested {done} records", file=sys.stderr, flush=True)
        finally:
            if bar is not None:
                bar.close()
            report.seconds = time.perf_counter() - started
            processed = report.added + report.updated + report.unchanged
            report.cases_per_s = processed / report.seconds if report.seconds > 0 else 0.0
        return report

    def _ingest_batch(
        self, batch: list[Case], report: IngestReport, seen: set[str], keep: Collection[str]
    ) -> None:
        latest: dict[str, Case] = {}
        skipped: list[Skipped] = []
        for case in batch:
            if not case.text.strip():
                skipped.append(Skipped(ref=f"id {case.id}", reason="no subject or body"))
                continue
            if case.id in latest or case.id in seen:
                reason = "repeated id: later record kept"
                skipped.append(Skipped(ref=f"id {case.id}", reason=reason))
            latest[case.id] = case
        existing = self.store.get_many(list(latest))
        latest, kept = merge_batch(latest, existing, keep)
        changed = [case for case in latest.values() if existing.get(case.id) != case]
        # an id first met in an earlier batch was counted there; here it is only the repeat
        counted = [case for case in changed if case.id not in seen]
        if changed:
            vectors = self.embedder.embed([case.text for case in changed])
            self.store.upsert(changed, vectors)
            self._observe(changed, vectors)
        # counted once stored: an ingest stopped part-way reports only what it did
        report.skipped.extend(skipped)
        report.unchanged += sum(1 for i in latest if i not in seen) - len(counted)
        report.added += sum(case.id not in existing for case in counted)
        report.updated += sum(case.id in existing for case in counted)
        report.embedded += len(changed)
        for source in (source for i, source in kept.items() if i not in seen):
            report.labels_kept[source] = report.labels_kept.get(source, 0) + 1
        seen.update(latest)

    def embed_teams(self, texts: dict[str, str]) -> dict[str, np.ndarray]:
        """A policy's team texts (name, description, skills) as vectors, by team."""
        vectors = self.embedder.embed(list(texts.values())) if texts else np.zeros((0, 0))
        return dict(zip(texts, vectors, strict=True))

    def describe_teams(self, texts: dict[str, str]) -> dict[str, np.ndarray]:
        """Embed the active policy's team texts and keep them for refits, which learn how far a
        ticket's similarity to them predicts its team."""
        self.team_descriptions = self.embed_teams(texts)
        return self.team_descriptions

    def refit(self) -> dict[str, Any]:
        """Fit the router on every stored case and save it; returns the router's report."""
        if self.router is None:
            raise TriageError("no learned router configured: open the knowledge base with one")
        cases, vectors = self._all_cases()
        fitted = digests(cases)
        report = self.router.fit(cases, vectors, self.team_descriptions)
        self._save_router(self.router, fitted)
        self._observe_unknown(self.router, fitted)  # stored by other processes during the fit
        return report

    def search(self, text: str, k: int = 5) -> list[SimilarCase]:
        """The k stored cases most similar in meaning to the text."""
        if not text.strip():
            # the embedding of nothing is near everything: its "nearest" cases mean nothing
            raise InputError("the search text is empty: give words to search for")
        return self.store.search(self.embedder.embed([text])[0], k)

    def stats(self) -> KBStats:
        """Counts per team, language and label source."""
        teams: Counter[str] = Counter()
        languages: Counter[str] = Counter()
        sources: Counter[str] = Counter()
        for batch in self.store.iter_labels():
            for case in batch:
                teams[case.team or "(none)"] += 1
                languages[case.language or "(unknown)"] += 1
                sources[case.label_source] += 1
        return KBStats(
            count=self.store.count(),
            teams=_ranked(teams),
            languages=_ranked(languages),
            label_sources=_ranked(sources),
            embedding_model=self.embedder.name,
            store=str(getattr(self.store, "location", type(self.store).__name__)),
        )

    def feedback(self, correction: Feedback) -> Case:
        """Store the corrected case and let the router learn it before the next ticket."""
        case = corrected_case(correction, self.store.get(correction.target_id))
        vectors = self.embedder.embed([case.text])
        self.store.upsert([case], vectors)
        self._observe([case], vectors)
        return case

    def observe_stored(self, case_ids: list[str]) -> list[str]:
        """Let the router observe cases another process stored (a correction it received);
        returns the ids not stored (yet)."""
        # with the embeddings as stored: a process on another machine (its own embedding
        # cache) embedded every case the others learned again
        cases, vectors = self.store.get_embedded(case_ids)
        if cases:
            self._observe(cases, vectors)
        found = {case.id for case in cases}
        return [i for i in case_ids if i not in found]

    def catch_up(self) -> int:
        """Observe the stored cases the loaded router does not know: stored after its fit read
        them and missing from its journal (a crash between storing and observing, a journal
        rewritten by another process's refit). Returns how many were observed."""
        model_dir = model_dir_of(self.router)
        if self.router is None or model_dir is None or not self.router.is_fitted:
            return 0
        with holding(model_dir):
            fitted = read_fitted(model_dir, self.router.version)
        return self._observe_unknown(self.router, fitted)

    def _observe_unknown(self, router: LearnedRouter, fitted: dict[str, str] | None) -> int:
        """Let ``router`` observe the stored cases differing from what it was fitted on and
        observed since; none when its fitted cases are not known (a router saved without)."""
        if fitted is None or model_dir_of(router) is None or not router.is_fitted:
            return 0  # a router in memory only is no other process's to learn from
        observed = digests(router.observed_cases())
        ids = unknown_ids(self.store, fitted, observed)
        if not ids:
            return 0
        cases, vectors = self.store.get_embedded(ids)
        if cases:
            router.observe(cases, vectors)
            log.info("router %s observed %d stored cases new to it", router.version, len(cases))
        return len(cases)

    def _observe(self, cases: list[Case], vectors: np.ndarray) -> None:
        # The router journals what it observes itself: re-saving all its models here took
        # ~3 s per case (74 MB of models on 5,400 cases) while routing waited.
        if self.router is not None:
            self.router.observe(cases, vectors)
        if self._since_snapshot is not None:
            self._since_snapshot.update((c.id, (c, v)) for c, v in zip(cases, vectors, strict=True))

    def refit_in_background(self, swap: Callable[[Callable[[], None]], None]) -> dict[str, Any]:
        """Fit a new router on a snapshot of the stored cases while the old one keeps routing.

        ``swap`` runs the given function while no ticket is being routed (the service passes its
        engine lock); the new router takes over there, with every case stored since the snapshot
        began observed at once. One refit at a time; returns the new router's report.
        """
        if self.router is None:
            raise TriageError("no learned router configured: open the knowledge base with one")
        if not self._refit_lock.acquire(blocking=False):
            raise ConflictError("a refit is already running")
        try:
            swap(self._start_snapshot)
            cases, vectors = self._all_cases()
            fitted = digests(cases)
            fresh = LearnedRouter(model_dir=self.router.model_dir)
            report = fresh.fit(cases, vectors, self.team_descriptions)
            # Written before routing is held for the swap: writing the models took ~3 s on
            # 5,400 cases, and every ticket waited for it.
            self._save_router(fresh, fitted)
            # stored since the snapshot, here or by another process (whose journal lines were
            # for the outgoing router): a scan, outside the swap too
            self._observe_unknown(fresh, fitted)

            def adopt() -> None:
                # a fitted router journals them beside the models just written
                if self._observe_late(fresh) and not fresh.is_fitted:
                    self._save_router(fresh)  # nothing fitted: a small save, which keeps them
                self.router = fresh

            swap(adopt)
            return report
        finally:
            self._since_snapshot = None
            self._refit_lock.release()

    def saved_router_changed(self) -> bool:
        """Whether another process saved a router in this router's model directory since this
        one loaded or saved its own (a stat, no read)."""
        stamp = saved_stamp(model_dir_of(self.router))
        return stamp is not None and stamp != self._saved_stamp

    def take_up_saved_router(self, swap: Callable[[Callable[[], None]], None]) -> str | None:
        """Route with the router another process saved in the shared model directory (the API
        process refits; an intake worker process beside it does not): loaded here, outside
        ``swap``, which runs the hand-over while no ticket is routed. Its version, or None when
        there is none newer, this process is refitting, or it learned from other embeddings."""
        if not self.saved_router_changed() or not self._refit_lock.acquire(blocking=False):
            return None  # a refit here ends with its own router taking over
        try:
            model_dir = model_dir_of(self.router)
            assert model_dir is not None
            fresh = LearnedRouter(model_dir=model_dir)
            swap(self._start_snapshot)  # what this process learns meanwhile, handed over too
            with holding(model_dir):  # a save under way ends first: models, journal, record
                self._saved_stamp = saved_stamp(model_dir)
                record = embedder_record(model_dir)
                trained_on = record.read_text(encoding="utf-8").strip() if record.exists() else None
                loaded = trained_on in (None, self.embedder.name) and fresh.load()
                fitted = read_fitted(model_dir, fresh.version) if loaded else None
            if not loaded:
                log.warning("the router saved in %s is not taken up here", model_dir)
                return None
            # what this process learned while the other one fitted reaches the new router
            self._observe_unknown(fresh, fitted)

            def adopt() -> None:
                self._observe_late(fresh)
                self.router = fresh

            swap(adopt)
            return fresh.version
        finally:
            self._since_snapshot = None
            self._refit_lock.release()

    def _observe_late(self, fresh: LearnedRouter) -> bool:
        """Let ``fresh`` observe the cases stored here since the snapshot began, those it did
        not find stored as they are already; ends the snapshot. Whether there were any."""
        known = digests(fresh.observed_cases())
        late = {
            i: (case, vector)
            for i, (case, vector) in (self._since_snapshot or {}).items()
            if known.get(i) != case_digest(case)
        }
        self._since_snapshot = None
        if late:
            fresh.observe([c for c, _ in late.values()], np.stack([v for _, v in late.values()]))
        return bool(late)

    def _save_router(self, router: LearnedRouter, fitted: dict[str, str] | None = None) -> None:
        """Save the router with the name of the embedding model its cases were embedded by, and
        the cases its fit read (``fitted``, digests by id) when they are given."""
        model_dir = model_dir_of(router)
        with holding(model_dir):
            router.save()
            if model_dir is not None:
                embedder_record(model_dir).write_text(self.embedder.name + "\n", encoding="utf-8")
                if fitted is not None:
                    write_fitted(model_dir, router.version, fitted)
                self._saved_stamp = saved_stamp(model_dir)

    def _start_snapshot(self) -> None:
        self._since_snapshot = {}

    def _all_cases(self) -> tuple[list[Case], np.ndarray]:
        cases: list[Case] = []
        vectors: list[np.ndarray] = []
        for batch, embeddings in self.store.iter_all():
            cases.extend(batch)
            vectors.append(embeddings)
        if not cases:
            raise TriageError("the knowledge base is empty: ingest cases before refitting")
        return cases, np.concatenate(vectors)


def _progress_bar() -> tqdm[Any] | None:
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(unit="case", file=sys.stderr, dynamic_ncols=True)
