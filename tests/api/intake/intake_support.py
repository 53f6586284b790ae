"""Names the intake tests share with their conftest (imported by module name, never as `conftest`,
which another test folder's conftest may already hold)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api_support import Api
from fastapi.testclient import TestClient

from api.engine import TriageEngine
from api.intake.options import IntakeOptions
from api.main import create_app
from api.options import ServiceOptions

SECRET = "test-webhook-secret"
IntakeFactory = Callable[..., Api]


def another_app(
    before: Api, engine: TriageEngine, adopt_after_s: float = 120.0, **fields: Any
) -> Api:
    """Another app (a restart, a second process) on the same data directory.

    Not started until its client is entered."""
    options = IntakeOptions(intake_backoff_base_s=0.05, **fields)
    service = ServiceOptions(adopt_after_s=adopt_after_s)
    app = create_app(before.services.settings, engine, service, intake_options=options)
    return Api(app=app, client=TestClient(app), keys=before.keys, triager=before.triager)
