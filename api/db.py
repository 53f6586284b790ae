"""The database: engine, sessions and migrations (Alembic, run programmatically at start).

A SQLite file under the data directory by default; PostgreSQL (or any SQLAlchemy URL) by setting.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # not POSIX: processes meet at SQLite's own lock only
    fcntl = None  # type: ignore[assignment]

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from agent.errors import InputError, UpstreamError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
WRITE_LOCK_WAIT_S = 10.0  # as long as SQLite's own busy timeout; then SQLite's lock decides
WAL_CHECKPOINT_S = 0.2  # often, so that each background checkpoint has little to copy
WAL_AUTOCHECKPOINT_PAGES = 10_000  # SQLite's own checkpoint (in a commit) only past ~40 MB

_writer = threading.local()


@contextmanager
def urgent_writes() -> Iterator[None]:
    """This thread's SQLite writes inside the block go before the writers of routine work."""
    before = getattr(_writer, "urgent", False)
    _writer.urgent = True
    try:
        yield
    finally:
        _writer.urgent = before


class ProcessLock:
    """An exclusive ``flock`` on a file beside the database, shared by this process's threads.

    SQLite's own lock makes a writer of another process sleep in growing steps; a blocked
    ``flock`` is woken by the kernel the moment the holder lets go (or dies).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        """Wait until no other process holds the lock, then hold it."""
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def release(self) -> None:
        """Let the other processes in."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)


class WriteLock:
    """One SQLite write transaction at a time in this process, handed over without sleeping.

    SQLite allows one writer per file; a connection that finds the file locked sleeps in its
    busy handler in growing steps (1, 2, 5 ... 100 ms) and may oversleep a lock released long
    before. Taking this lock before the first write of a transaction (and giving it back right
    after its commit or rollback) queues the process's writers here instead, where a release
    hands it to the next one at once: urgent writers (``urgent_writes``) first, then in order
    of arrival, so a P1's few writes do not queue behind a spike's routine ones. Other
    processes on the same file wait at ``across`` (a ProcessLock) once they hold this one.
    """

    def __init__(
        self, wait_s: float = WRITE_LOCK_WAIT_S, across: ProcessLock | None = None
    ) -> None:
        self.wait_s = wait_s
        self.across = across
        self._mutex = threading.Lock()
        self._owner: int | None = None
        self._waiting: list[tuple[int, int, int, threading.Event]] = []
        self._order = itertools.count()

    def acquire(self) -> bool:
        """Take the lock; False (go on without it) if this thread holds it on another
        connection already (SQLite's busy handler then decides) or it was not freed in time."""
        if not self._acquire_here():
            return False
        if self.across is not None:
            try:
                self.across.acquire()
            except OSError as exc:  # e.g. a file system without flock: SQLite's lock decides
                log.warning("cross-process write lock unavailable: %s", exc)
        return True

    def _acquire_here(self) -> bool:
        me = threading.get_ident()
        with self._mutex:
            if self._owner == me:
                return False
            if self._owner is None:
                self._owner = me
                return True
            rank = 0 if getattr(_writer, "urgent", False) else 1
            entry = (rank, next(self._order), me, threading.Event())
            heapq.heappush(self._waiting, entry)
        if entry[3].wait(self.wait_s):
            return True  # release() made us the owner
        with self._mutex:
            if entry[3].is_set():
                return True  # handed over just as the wait ended
            self._waiting.remove(entry)
            heapq.heapify(self._waiting)
        log.warning("SQLite write lock not freed in %.0f s; relying on SQLite's", self.wait_s)
        return False

    @property
    def queued(self) -> int:
        """Writers waiting for the lock now."""
        with self._mutex:
            return len(self._waiting)

    def release(self) -> None:
        """Give the lock back (called once per successful acquire): to the first waiter."""
        if self.across is not None:
            self.across.release()
        with self._mutex:
            if self._waiting:
                _, _, waiter, handed = heapq.heappop(self._waiting)
                self._owner = waiter
                handed.set()
            else:
                self._owner = None


class LockingConnection(sqlite3.Connection):
    """A sqlite3 connection that holds its WriteLock from its first write to commit/rollback."""

    write_lock: WriteLock | None = None
    holds_write_lock = False

    def take_write_lock(self) -> None:
        """Before a write: queue for the process's write lock unless this transaction has it."""
        if self.write_lock is not None and not self.holds_write_lock:
            self.holds_write_lock = self.write_lock.acquire()

    def _drop_write_lock(self) -> None:
        if self.holds_write_lock and self.write_lock is not None:
            self.holds_write_lock = False
            self.write_lock.release()

    def commit(self) -> None:
        """Commit, then let the next writer in."""
        try:
            super().commit()
        finally:
            self._drop_write_lock()

    def rollback(self) -> None:
        """Roll back, then let the next writer in."""
        try:
            super().rollback()
        finally:
            self._drop_write_lock()

    def close(self) -> None:
        """Close (SQLite rolls back what was open), then let the next writer in."""
        try:
            super().close()
        finally:
            self._drop_write_lock()


def _take_write_lock(
    _conn: Any, cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
) -> None:
    connection = cursor.connection
    if isinstance(connection, LockingConnection) and statement.lstrip()[:7].upper().startswith(
        WRITES
    ):
        connection.take_write_lock()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers run beside the writer; NORMAL sync is durable across process crashes."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class WalCheckpointer:
    """Copies SQLite's write-ahead log into the database file on its own thread.

    SQLite's automatic checkpoint runs inside the commit that crosses its threshold, while
    that writer holds the write lock: under a spike copying and syncing took 20-60 ms, and
    every writer behind it waited, an urgent one too. A PASSIVE checkpoint here blocks no
    writer or reader; the automatic one stays, at WAL_AUTOCHECKPOINT_PAGES, as the bound
    for a process without this thread (the CLI) or should it fall behind.
    """

    def __init__(self, engine: Engine, interval_s: float = WAL_CHECKPOINT_S) -> None:
        self.engine = engine
        self.interval_s = interval_s
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start checkpointing every interval_s."""
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._loop, name="wal-checkpoint", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread (the log is checkpointed again when the last connection closes)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _loop(self) -> None:
        while not self._stopping.wait(self.interval_s):
            try:
                with self.engine.connect() as connection:
                    connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            except Exception as exc:
                # The automatic checkpoint still bounds the log; say why this one failed.
                log.warning("background WAL checkpoint failed: %s", exc)


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for an in-memory or a server database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return None if parsed.database == ":memory:" else Path(parsed.database)


def make_engine(url: str) -> Engine:
    """An engine for the URL; SQLite gets its parent directory and pragmas."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        file = sqlite_file(url)
        across = None
        if file is not None:
            file.parent.mkdir(parents=True, exist_ok=True)
            if fcntl is not None:
                across = ProcessLock(file.with_name(f"{file.name}.writelock"))
        lock = WriteLock(across=across)

        def connect(dbapi_connection: Any, record: Any) -> None:
            _sqlite_pragmas(dbapi_connection, record)
            if isinstance(dbapi_connection, LockingConnection):
                dbapi_connection.write_lock = lock

        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 10, "factory": LockingConnection},
        )
        event.listen(engine, "connect", connect)
        event.listen(engine, "before_cursor_execute", _take_write_lock)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def alembic_config(url: str, location: Path = MIGRATIONS) -> Config:
    """Alembic configuration pointing at this package's migrations (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(location))
    # ConfigParser interpolation would choke on '%' in URL-encoded passwords.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@contextmanager
def _no_foreign_key_actions(connection: Connection) -> Iterator[None]:
    """SQLite: foreign keys off for the migration's transaction, on again after it.

    SQLite makes most changes to a table by rebuilding it (a copy, DROP TABLE, a rename); with
    foreign keys on, dropping tickets would delete every decision, brief and review of theirs
    through ON DELETE CASCADE. The pragma does nothing inside a transaction: it is set outside.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    connection.commit()
    try:
        yield
    finally:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")  # as every connection has it
        connection.commit()


class Database:
    """One engine and its session factory for the whole process."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine = make_engine(url)
        except (ArgumentError, NoSuchModuleError, ImportError) as exc:
            # an unparseable URL, an unknown dialect ('postgres://') or a driver not installed
            raise InputError(
                f"TRIAGE_DATABASE_URL cannot be used: {exc}; expected e.g. "
                "postgresql+psycopg://user@host/db (or leave it unset for SQLite)"
            ) from None
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        sqlite = self.engine.dialect.name == "sqlite"
        self.checkpointer = WalCheckpointer(self.engine) if sqlite else None

    def migrate(self, location: Path = MIGRATIONS) -> None:
        """Bring the schema to the newest revision of the migrations (idempotent)."""
        config = alembic_config(self.url, location)
        try:
            with (
                self.engine.connect() as connection,
                _no_foreign_key_actions(connection),
                connection.begin(),
            ):
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except OperationalError as exc:
            # down, refused, wrong database or credentials: say where, without the password
            reason = str(exc.orig or exc).strip().splitlines()[0]
            raise UpstreamError(
                f"cannot reach the database at {self.redacted_url}: {reason}"
            ) from exc

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on error."""
        with self.sessions() as session, session.begin():
            yield session

    def ping(self) -> None:
        """Raise when the database cannot answer a trivial query."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def start_checkpoints(self) -> None:
        """SQLite: checkpoint the write-ahead log off the write path (service processes)."""
        if self.checkpointer is not None:
            self.checkpointer.start()

    def stop_checkpoints(self) -> None:
        """Stop the background checkpoints."""
        if self.checkpointer is not None:
            self.checkpointer.stop()

    def close(self) -> None:
        """Stop the background checkpoints and release pooled connections."""
        self.stop_checkpoints()
        self.engine.dispose()

    @property
    def redacted_url(self) -> str:
        """The URL without its password, safe for logs and /readyz."""
        return make_url(self.url).render_as_string(hide_password=True)
