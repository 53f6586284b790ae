"""Progress of a long run: a tqdm bar with rate and ETA on a terminal, plain lines in CI."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

PLAIN_EVERY_S = 10.0


class Progress:
    """Counts steps of one phase; ``close`` ends the phase."""

    def __init__(
        self, total: int, label: str, stream: TextIO | None = None, enabled: bool = True
    ) -> None:
        self.total, self.label, self.done = total, label, 0
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self._bar: Any = None
        self._started = self._last = time.monotonic()
        if enabled and self.stream.isatty():
            from tqdm import tqdm

            self._bar = tqdm(
                total=total, desc=label, unit="ticket", file=self.stream, dynamic_ncols=True
            )

    def update(self, steps: int = 1) -> None:
        """Advance by ``steps``; plain mode prints a line at most every few seconds."""
        self.done += steps
        if self._bar is not None:
            self._bar.update(steps)
            return
        now = time.monotonic()
        if self.enabled and (now - self._last >= PLAIN_EVERY_S or self.done == self.total):
            self._last = now
            self._line(now)

    def close(self) -> None:
        """End the phase (the bar stays on screen)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _line(self, now: float) -> None:
        elapsed = max(now - self._started, 1e-9)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate else float("inf")
        print(
            f"{self.label}: {self.done}/{self.total} ({rate:.1f}/s, eta {eta:.0f}s)",
            file=self.stream,
            flush=True,
        )
