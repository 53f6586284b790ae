"""Adoption at start: the unfinished tickets the intake has no record of, once abandoned.

Tickets accepted by an older version's in-process POST /v1/tickets workers, or left by a
POST /v1/triage that a crash cut off, are queued through the intake. With several API processes
on one database, a ticket another live process is triaging (its POST /v1/triage in progress)
looks the same: unfinished, no intake record. Its row is written when the ticket is claimed,
every quarter of ``after_s`` while its run lasts (api.heartbeat) and when the decision is stored,
so a row not written for ``after_s`` (ServiceOptions.adopt_after_s) is abandoned and adopted
at start, however long live runs take. The others are looked at again every ``after_s`` on a
timer, while any is left: one still unfinished, still not the intake's and not written since
the last look is adopted; one written since is alive and looked at once more. A full queue
stops the adoption there (logged): the rest wait for the next start, as stranded intake tickets
do.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from agent.errors import CapacityError
from api.intake.recovery import adopt
from api.intake.setup import Intake
from api.routers import tickets
from api.store import TicketStore
from api.tables import utcnow

log = logging.getLogger(__name__)


class Adoption:
    """Queues abandoned unfinished tickets through the intake: at start, then every after_s."""

    def __init__(self, store: TicketStore, entry: Intake, after_s: float) -> None:
        self.store = store
        self.entry = entry
        self.after_s = after_s
        # Unfinished tickets written within after_s when last looked at, with the updated_at seen.
        self.pending: dict[str, datetime] = {}
        self.rechecked = threading.Event()  # set once nothing is left to look at again
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._stopped = False

    def start(self) -> None:
        """Adopt the abandoned tickets now; look at the recently written ones after after_s."""
        seen = self._unowned(self.store.unfinished_updates())
        cutoff = utcnow() - timedelta(seconds=self.after_s)
        abandoned = [ticket_id for ticket_id, updated in seen.items() if updated <= cutoff]
        self.pending = {t: updated for t, updated in seen.items() if updated > cutoff}
        if not self._adopt(abandoned):
            self.pending = {}
        self._next()

    def recheck(self) -> None:
        """Adopt the tickets nobody has written since the last look; look again at the others."""
        try:
            now = self._unowned(self.store.unfinished_updates(list(self.pending)))
            quiet = [t for t, updated in now.items() if updated == self.pending[t]]
            self.pending = {t: updated for t, updated in now.items() if t not in quiet}
            if not self._adopt(quiet):
                self.pending = {}
        except Exception:
            self.pending = {}
            raise
        finally:
            self._next()

    def stop(self) -> None:
        """Cancel the re-check, or wait for it to finish if it is running."""
        with self._lock:
            self._stopped = True
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
            timer.join()

    def _next(self) -> None:
        """Look again after after_s while a ticket is left to look at; else say it is done."""
        with self._lock:
            if not self.pending or self._stopped:
                self._timer = None
                self.rechecked.set()
                return
            self._timer = threading.Timer(self.after_s, self.recheck)
            self._timer.name = "adopt-recheck"
            self._timer.daemon = True
            self._timer.start()

    def _unowned(self, updates: dict[str, datetime]) -> dict[str, datetime]:
        owned = self.entry.records.owned_ids(list(updates))
        return {t: updated for t, updated in updates.items() if t not in owned}

    def _adopt(self, ticket_ids: list[str]) -> bool:
        """Queue each through the intake; False when the queue is full (the rest wait)."""
        for ticket_id in ticket_ids:
            try:
                adopt(self.entry.flow, ticket_id, tickets.SOURCE)
            except CapacityError:
                log.warning(
                    "intake queue full; unfinished ticket %s and later ones wait for the next "
                    "start",
                    ticket_id,
                )
                return False
        return True
