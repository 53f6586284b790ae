"""The saved router on disk: where it is, which file is there, the lock its saves and loads hold,
and loading it for the embedding model it learned from."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agent.settings import Settings
from knowledge.router import LearnedRouter

try:
    import fcntl
except ImportError:  # not POSIX: saves are not held against other processes
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

SAVE_LOCK = "save.lock"  # beside the saved router: held by the process writing or reading it


@contextmanager
def holding(model_dir: Path | None) -> Iterator[None]:
    """Hold the model directory for one save or load, against the other processes on it (the
    service, its worker processes, `triage kb refit`): a save writes the models aside under one
    name and moves them in, and two at once wrote into the same file and one failed to move it."""
    if model_dir is None or fcntl is None:
        yield
        return
    model_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(model_dir / SAVE_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # per open file: threads of this process wait too
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def model_dir_of(router: LearnedRouter | None) -> Path | None:
    """Where the router is saved (None: kept in memory, or a test fake's)."""
    return getattr(router, "model_dir", None)


def saved_stamp(model_dir: Path | None) -> tuple[int, int, int] | None:
    """Which saved router file is there: a save replaces it by another file."""
    if model_dir is None:
        return None
    try:
        found = (model_dir / "router.joblib").stat()
    except FileNotFoundError:
        return None
    return found.st_ino, found.st_mtime_ns, found.st_size


def embedder_record(model_dir: Path) -> Path:
    """The file naming the embedding model the saved router learned from."""
    return model_dir / "embedding-model.txt"


def load_router(settings: Settings, embedding_model: str) -> LearnedRouter:
    """The saved router, unless it learned from another embedding model's vectors."""
    router = LearnedRouter(model_dir=settings.model_dir)
    record = embedder_record(settings.model_dir)
    trained_on = record.read_text(encoding="utf-8").strip() if record.exists() else None
    if trained_on is not None and trained_on != embedding_model:
        log.warning(
            "the saved router learned from %s embeddings, not %s: it is refitted before use",
            trained_on,
            embedding_model,
        )
        return router
    router.load()
    return router
