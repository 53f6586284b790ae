"""Knobs of the service: the SLA watch, replays, refits, following other processes.

Each is the Settings field of the same name (env TRIAGE_<NAME>), with its default, bounds and
description; ``start_background`` is the service's own. Tests pass ServiceOptions directly; the
intake's queue and workers have theirs in IntakeOptions.
"""

from __future__ import annotations

from copy import copy
from typing import Any

from pydantic import BaseModel, Field

from agent.settings import Settings


def _setting(name: str) -> Any:
    """The Settings field ``name`` as this model's field: the same default, bounds, description."""
    return copy(Settings.model_fields[name])


class ServiceOptions(BaseModel):
    """SLA watch, replay and refit behaviour; the intake's queue and workers: IntakeOptions."""

    sla_check_interval_s: float = _setting("sla_check_interval_s")
    sla_warn_fraction: float = _setting("sla_warn_fraction")
    webhook_timeout_s: float = _setting("webhook_timeout_s")
    replay_wait_s: float = _setting("replay_wait_s")
    adopt_after_s: float = _setting("adopt_after_s")
    refit_check_s: float = _setting("refit_check_s")
    policy_check_s: float = _setting("policy_check_s")
    start_background: bool = Field(default=True, description="Start workers and the SLA watch")

    @classmethod
    def from_settings(cls, settings: Settings) -> ServiceOptions:
        """Options from Settings fields of the same name."""
        values = {
            name: getattr(settings, name) for name in cls.model_fields if hasattr(settings, name)
        }
        return cls.model_validate(values)
