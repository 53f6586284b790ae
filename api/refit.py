"""Refitting the learned router while the service keeps routing: on a schedule and on demand.

Cases learned since the last fit act at once through the router's precedent votes; the models
themselves learn them at the next refit. A refit fits a new router on a snapshot of the knowledge
base outside the engine lock (tickets keep being routed by the old one), then swaps it in under the
lock with every case stored meanwhile observed.
"""

from __future__ import annotations

import logging
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


def _record(started: float, **fields: Any) -> dict[str, Any]:
    return {
        "finished_at": datetime.now(UTC).isoformat(),
        "seconds": round(time.perf_counter() - started, 2),
        **fields,
    }
