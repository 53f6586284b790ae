"""The helpdesk connector's knobs, read from Settings in this one place.

Until agent/settings.py has these fields (same names, env TRIAGE_<NAME>) each falls back to the
default below; tests pass HelpdeskOptions directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr

from agent.settings import HELPDESK_CLOSED_STATUSES, Settings, Statuses
from api.helpdesk.names import BOT_USER


class HelpdeskOptions(BaseModel):
    """Where the helpdesk is, how to authenticate, and how hard to retry."""

    helpdesk_kind: Literal["rt"] = Field(default="rt", description="Helpdesk adapter")
    helpdesk_url: str | None = Field(default=None, description="e.g. http://127.0.0.1:8089")
    helpdesk_token: SecretStr | None = Field(default=None, description="RT auth token")
    helpdesk_accounts_file: Path | None = Field(
        default=None, description="YAML account context where the helpdesk has none"
    )
    helpdesk_timeout_s: float = Field(default=5.0, gt=0, le=60, description="Per request")
    helpdesk_retry_base_s: float = Field(default=0.5, gt=0, description="First retry delay")
    helpdesk_retry_cap_s: float = Field(default=30.0, gt=0, description="Longest retry delay")
    helpdesk_poll_s: float = Field(default=2.0, gt=0, description="Outbox poll when idle")
    helpdesk_catchup_s: float = Field(
        default=30.0, gt=0, description="RT asked for what the webhook missed"
    )
    helpdesk_history_limit: int = Field(
        default=10, ge=0, le=100, description="Earlier tickets of the requester attached"
    )
    helpdesk_bot_user: str = Field(default=BOT_USER, description="The RT user of the token")
    helpdesk_closed_statuses: Statuses = Field(
        default_factory=lambda: list(HELPDESK_CLOSED_STATUSES),
        description="Statuses that close a ticket (resolved: learned as a resolution)",
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> HelpdeskOptions:
        """Options from Settings fields of the same name where they exist."""
        values = {
            name: getattr(settings, name)
            for name in cls.model_fields
            if getattr(settings, name, None) is not None
        }
        return cls.model_validate(values)

    @property
    def configured(self) -> bool:
        """True when a helpdesk URL and token are set."""
        return bool(self.helpdesk_url and self.helpdesk_token)
