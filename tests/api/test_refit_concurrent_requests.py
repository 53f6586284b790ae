"""Refits asked for at the same time, on a service built without background threads."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import pytest
from api_support import Api, AppFactory

CALLERS = 8


@pytest.fixture
def switch_often() -> Iterator[None]:
    """Threads swap the interpreter far more often than usual, as on a loaded machine."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def _refit_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "router-refit")


def _ask_at_once(api: Api) -> list[int]:
    barrier = threading.Barrier(CALLERS)
    codes: list[int] = []

    def ask() -> None:
        barrier.wait()
        codes.append(api.client.post("/v1/kb/refit", headers=api.auth("admin")).status_code)

    askers = [threading.Thread(target=ask) for _ in range(CALLERS)]
    for asker in askers:
        asker.start()
    for asker in askers:
        asker.join(60)
    return codes


def test_refits_asked_at_once_run_in_one_thread(make_api: AppFactory, switch_often: None) -> None:
    for _ in range(10):
        api = make_api(start_background=False)
        before = _refit_threads()
        assert _ask_at_once(api) == [202] * CALLERS
        assert _refit_threads() - before == 1
        api.services.refitter.stop()
