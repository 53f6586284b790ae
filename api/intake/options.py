"""The intake's knobs, read from Settings in this one place (fields the lead adds later).

Until agent/settings.py has them, each falls back to the default below; tests pass
IntakeOptions directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr

from agent.settings import Settings
from api.intake.prepriority import STEP

QueueKind = Literal["embedded", "rabbitmq"]


class IntakeOptions(BaseModel):
    """Queue backend and bounds, retries, leases, webhook signature and validation profiles."""

    intake_queue: QueueKind = Field(
        default="embedded", description="embedded (table in the service database) or rabbitmq"
    )
    broker_url: str = Field(
        default="amqp://guest:guest@127.0.0.1:5672/%2F", description="RabbitMQ URL (rabbitmq)"
    )
    broker_queue: str = Field(default="triage.intake", description="RabbitMQ queue name")
    intake_queue_size: int = Field(default=10_000, ge=1, description="Bound; 429 past it")
    intake_urgent_reserve: float = Field(
        default=0.1, ge=0, lt=1, description="Share of the bound only urgent tickets may use"
    )
    intake_urgent_rank: int = Field(
        default=1, ge=0, description="Pre-priority ranks up to this (0 = P1) count as urgent"
    )
    intake_workers: int = Field(default=1, ge=0, le=16, description="Intake worker threads")
    intake_max_attempts: int = Field(default=5, ge=1, le=50, description="Then dead-lettered")
    intake_backoff_base_s: float = Field(default=1.0, gt=0, description="First retry delay")
    intake_backoff_cap_s: float = Field(default=300.0, gt=0, description="Longest retry delay")
    intake_lease_s: float = Field(
        default=120.0,
        gt=0,
        description="A claimed ticket whose worker is gone returns to the queue after this",
    )
    intake_max_run_s: float = Field(
        default=600.0,
        gt=0,
        description="A triage run longer than this is given up: retried, then dead-lettered",
    )
    intake_profiles_path: Path | None = Field(
        default=None, description="YAML validation profiles (defaults built in)"
    )
    intake_failing_after: int = Field(
        default=5, ge=1, description="Consecutive failures after which a source is reported"
    )
    webhook_secret: SecretStr | None = Field(
        default=None, description="HMAC secret of POST /v1/intake/helpdesk"
    )
    webhook_tolerance_s: float = Field(default=300.0, gt=0, description="Signature clock skew")

    @property
    def urgent_capacity(self) -> int:
        """Slots non-urgent work may fill; the rest is kept for urgent tickets."""
        return max(1, int(self.intake_queue_size * (1 - self.intake_urgent_reserve)))

    def urgent_order(self, order: int) -> bool:
        """Whether a queue order (a pre-priority's) is an urgent ticket's."""
        return order // STEP <= self.intake_urgent_rank

    @classmethod
    def from_settings(cls, settings: Settings) -> IntakeOptions:
        """Options from Settings fields of the same name where they exist."""
        values = {
            name: getattr(settings, name)
            for name in cls.model_fields
            if getattr(settings, name, None) is not None
        }
        return cls.model_validate(values)
