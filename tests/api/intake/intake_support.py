"""Names the intake tests share with their conftest (imported by module name, never as `conftest`,
which another test folder's conftest may already hold)."""

from __future__ import annotations

from collections.abc import Callable

from api_support import Api

SECRET = "test-webhook-secret"
IntakeFactory = Callable[..., Api]
