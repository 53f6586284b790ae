"""Quality gates at the door, per channel and per account tier, from YAML or the defaults.

    channels:            # per channel: what a usable ticket needs
      chat: {min_chars: 2}
      email: {require_subject: false, reject_auto_replies: true}
    never_reject_tiers: [enterprise, vip]    # rejected -> quarantined for a person
    account_domains: {bigcorp.example: {id: bigcorp, tier: enterprise}}

A channel's fields the file leaves out keep their built-in values (e-mail needs a sender to
answer); a channel name outside the intake's sources is refused. A rejected or quarantined
ticket is kept with its reasons (intake_rejects).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

from agent.config_yaml import read_config
from agent.errors import InputError, first_problem
from agent.models import Account, Ticket
from api.intake.models import SOURCES, Adapted, Verdict


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChannelProfile(_Strict):
    """What a usable ticket of one channel needs."""

    # 1 by default: real routable tickets as short as "s" / "s" exist (it_incidents ITI-01850).
    min_chars: int = Field(default=1, ge=0, description="Subject + body, stripped")
    max_chars: int = Field(default=150_000, ge=1)
    require_subject: bool = False
    require_requester: bool = False
    min_printable: float = Field(
        default=0.85, ge=0, le=1, description="Share of printable characters (binary junk below)"
    )
    reject_auto_replies: bool = True


def _known_channel(name: str) -> str:
    """A profile named after no channel would never apply, its channel keeping the defaults."""
    if name not in SOURCES:
        raise PydanticCustomError(
            "intake_channel",
            "unknown channel '{name}': expected one of {known}",
            {"name": name, "known": ", ".join(SOURCES)},
        )
    return name


ChannelName = Annotated[str, AfterValidator(_known_channel)]
BUILT_IN: dict[str, dict[str, Any]] = {"email": {"require_requester": True}}
"""Where a channel's built-in profile differs from ChannelProfile's (a mail needs its sender)."""


class Profiles(_Strict):
    """Profiles for every channel and the tiers whose tickets are never rejected."""

    default: ChannelProfile = Field(default_factory=ChannelProfile)
    channels: dict[ChannelName, ChannelProfile] = Field(
        default_factory=lambda: {name: ChannelProfile(**BUILT_IN.get(name, {})) for name in SOURCES}
    )
    never_reject_tiers: list[str] = Field(default_factory=lambda: ["enterprise", "vip"])
    account_domains: dict[str, Account] = Field(default_factory=dict)

    @field_validator("channels", mode="before")
    @classmethod
    def _over_built_in(cls, given: Any) -> Any:
        """A file names what differs: the fields it leaves out keep their built-in values."""
        if not isinstance(given, dict):
            return given
        merged: dict[str, Any] = {name: dict(values) for name, values in BUILT_IN.items()}
        for name, values in given.items():
            base = merged.get(name)
            merged[name] = {**base, **values} if base and isinstance(values, dict) else values
        return merged

    def profile(self, channel: str) -> ChannelProfile:
        """The channel's profile, or the default one."""
        return self.channels.get(channel, self.default)

    def account_for(self, address: str | None) -> Account | None:
        """The account an e-mail address's domain belongs to, when configured."""
        if not address or "@" not in address:
            return None
        return self.account_domains.get(address.rsplit("@", 1)[1].lower())


def load_profiles(path: Path | None) -> Profiles:
    """Profiles from YAML; errors name the file, the path inside it and what was expected."""
    if path is None:
        return Profiles()
    data = read_config(path, "the intake profiles") or {}
    try:
        return Profiles.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{path}: {first_problem(exc, '(top)')}") from None


def _printable_share(text: str) -> float:
    if not text:
        return 1.0
    good = sum(1 for c in text if c.isprintable() or c in "\n\r\t")
    return good / len(text)


def problems(ticket: Ticket, adapted: Adapted, profile: ChannelProfile) -> list[str]:
    """Every reason the ticket fails its channel's profile (empty: it passes)."""
    subject, body = ticket.subject.strip(), ticket.body.strip()
    # A subject made from the body's first line must not count twice.
    text = body if subject and body.startswith(subject) else f"{subject}\n{body}".strip()
    found: list[str] = []
    if len(text) < profile.min_chars:
        found.append(f"too short: {len(text)} characters, {profile.min_chars} needed")
    if len(text) > profile.max_chars:
        found.append(f"too long: {len(text)} characters, at most {profile.max_chars}")
    if profile.require_subject and not ticket.subject.strip():
        found.append("no subject")
    if profile.require_requester and not ticket.requester:
        found.append("no requester to answer")
    share = _printable_share(text)
    if share < profile.min_printable:
        found.append(f"unreadable text: {share:.0%} printable (binary or a wrong charset)")
    if profile.reject_auto_replies and adapted.auto_reply:
        found.append(f"automatic reply: {adapted.auto_reply}")
    return found


def validate(adapted: Adapted, profiles: Profiles, source: str | None = None) -> Verdict:
    """Accept, or reject with reasons; never-reject tiers are quarantined instead.

    The profile is the source's, the door the payload came through (else the ticket's channel):
    a ticket sent to POST /v1/tickets as ``channel: email`` is checked as an API ticket, not as
    a raw e-mail (whose profile asks for a sender to answer).
    """
    ticket = adapted.ticket
    found = problems(ticket, adapted, profiles.profile(source or ticket.channel))
    if not found:
        return Verdict(outcome="accept")
    if ticket.account.tier.lower() in {t.lower() for t in profiles.never_reject_tiers}:
        return Verdict(outcome="quarantine", reasons=found)
    return Verdict(outcome="reject", reasons=found)
