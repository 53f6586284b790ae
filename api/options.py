"""Knobs of the service beyond agent.settings.Settings, with their defaults.

Each is read from Settings when the lead adds the field there (same name, env TRIAGE_<NAME>);
until then the default below applies. Tests pass ServiceOptions directly.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from agent.settings import Settings


class ServiceOptions(BaseModel):
    """SLA watch, replay and refit behaviour; the intake's queue and workers: IntakeOptions."""

    sla_check_interval_s: float = Field(default=60.0, gt=0, description="SLA watch period")
    sla_warn_fraction: float = Field(
        default=0.2, gt=0, lt=1, description="At risk when this share of the SLA time is left"
    )
    webhook_timeout_s: float = Field(default=5.0, gt=0, description="On-call webhook timeout")
    replay_wait_s: float = Field(
        default=30.0, ge=0, description="How long a replay waits for the first call's decision"
    )
    adopt_after_s: float = Field(
        default=120.0,
        gt=0,
        description="An unfinished ticket outside the intake unwritten this long is adopted",
    )
    refit_check_s: float = Field(
        default=300.0, ge=0, description="Router refit check period (0: on demand only)"
    )
    policy_check_s: float = Field(
        default=5.0,
        ge=0,
        description="How often a process looks for a policy version another process activated "
        "(PUT /v1/policy there, triage policy activate); 0: before every use",
    )
    start_background: bool = Field(default=True, description="Start workers and the SLA watch")

    @classmethod
    def from_settings(cls, settings: Settings) -> ServiceOptions:
        """Options from Settings fields of the same name where they exist."""
        values = {
            name: getattr(settings, name) for name in cls.model_fields if hasattr(settings, name)
        }
        return cls.model_validate(values)
