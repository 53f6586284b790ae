"""Refitting the learned router while the service keeps routing: on a schedule and on demand.

Cases learned since the last fit act at once through the router's precedent votes; the models
themselves learn them at the next refit. A refit fits a new router on a snapshot of the knowledge
base outside the engine lock (tickets keep being routed by the old one), then swaps it in under the
lock with every case stored meanwhile observed. The process that refits (the API process) saves
the new router in the data directory; the other processes on it (intake worker processes, which
run no refits) take it up from there (``SavedRouterFollower``).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

from api.engine import LockedEngine
from api.helpdesk.polling import PollingThread
from api.metrics import Metrics

log = logging.getLogger(__name__)

REPORT_KEYS = ("n", "fit_seconds", "version")


class Refitter(PollingThread):
    """Checks every ``poll_s`` whether the router is due for a refit, and refits when asked."""

    thread_name = "router-refit"

    def __init__(self, engine: LockedEngine, metrics: Metrics, poll_s: float) -> None:
        # poll_s 0: no schedule, the thread only wakes for requests
        super().__init__(poll_s if poll_s > 0 else 3600.0)
        self.scheduled = poll_s > 0
        self.engine = engine
        self.metrics = metrics
        self.requested = False
        self.running = False
        self.last: dict[str, Any] | None = None

    @property
    def supported(self) -> bool:
        """False for an engine whose knowledge base cannot refit in the background (test fakes)."""
        kb = self.engine.triager.kb
        return hasattr(kb, "refit_in_background") and getattr(kb, "router", None) is not None

    def request(self) -> None:
        """Refit at the next pass, due or not."""
        self.requested = True
        self.wake.set()

    def run_pass(self) -> float:
        """Refit when asked or when enough new cases piled up since the last fit."""
        if not self.supported:
            return self.poll_s
        router = self.engine.triager.kb.router  # type: ignore[attr-defined]
        if self.requested or (self.scheduled and router.needs_refit):
            self.requested = False
            self.refit_now()
        return self.poll_s

    def refit_now(self) -> dict[str, Any]:
        """One refit in this thread; records and returns what happened."""
        kb: Any = self.engine.triager.kb
        started = time.perf_counter()
        self.running = True
        try:
            report = kb.refit_in_background(self.engine.exclusive)
        except Exception as exc:
            self.metrics.errors.labels(kind="refit").inc()
            log.exception("refitting the router failed")
            self.last = _record(started, error=f"{type(exc).__name__}: {exc}")
        else:
            team = report.get("team", {})
            self.last = _record(
                started,
                cases=report.get("n"),
                version=report.get("version"),
                validation_accuracy=team.get("validation_accuracy"),
                ece=team.get("ece"),
            )
            log.info("router refitted: %s", self.last)
        finally:
            self.running = False
        return self.last

    def status(self) -> dict[str, Any]:
        """The router now and the last refit."""
        if not self.supported:
            return {"supported": False, "running": False, "requested": False, "last": None}
        router = self.engine.triager.kb.router  # type: ignore[attr-defined]
        return {
            "supported": True,
            "version": router.version,
            "fitted": router.is_fitted,
            "needs_refit": router.needs_refit,
            "running": self.running,
            "requested": self.requested,
            "check_every_s": self.poll_s if self.scheduled else None,
            "last": self.last,
        }


class SavedRouterFollower:
    """Routes with the router another process saved in the shared data directory.

    Looks at most every ``every_s`` (a stat of the saved file); a new one is loaded in a thread of
    its own, so no ticket waits for the load, and swapped in while no ticket is being routed.
    Without it a worker process routed with the router it started with until restarted, however
    often the API process refitted.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._looked_at = float("-inf")
        self._loading: threading.Thread | None = None

    def follow(self, engine: LockedEngine, every_s: float) -> None:
        """Start taking up a router saved since the last look, unless one is being taken up."""
        kb: Any = engine.triager.kb
        if not hasattr(kb, "take_up_saved_router"):
            return  # a test fake's knowledge base
        with self._lock:
            now = time.monotonic()
            if now - self._looked_at < every_s:
                return
            self._looked_at = now
            if self._loading is not None and self._loading.is_alive():
                return
            if not kb.saved_router_changed():
                return
            self._loading = threading.Thread(
                target=self._take_up, args=(kb, engine), name="router-take-up", daemon=True
            )
            self._loading.start()

    @staticmethod
    def _take_up(kb: Any, engine: LockedEngine) -> None:
        try:
            version = kb.take_up_saved_router(engine.exclusive)
        except Exception:
            log.exception("taking up the router saved by another process failed")
            return
        if version is not None:
            log.info("routing with router %s, saved by another process", version)


def _record(started: float, **fields: Any) -> dict[str, Any]:
    return {
        "finished_at": datetime.now(UTC).isoformat(),
        "seconds": round(time.perf_counter() - started, 2),
        **fields,
    }
