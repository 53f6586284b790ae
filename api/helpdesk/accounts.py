"""Account context from a YAML file, for helpdesks that hold no tier/region/language.

accounts:
  - id: acme
    name: Acme GmbH
    tier: vip            # standard | premium | enterprise | vip ...
    region: emea
    language: de
    match: [acme.example, alice@example.com, Acme GmbH]   # domains, addresses, organisations
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from agent.config_yaml import read_config
from agent.errors import InputError, first_problem
from agent.models import Account


class AccountEntry(BaseModel):
    """One account and what identifies its requesters."""

    id: str = Field(min_length=1)
    name: str | None = None
    tier: str = "standard"
    region: str | None = None
    language: str | None = None
    match: list[str] = Field(default_factory=list)


class AccountsFile(BaseModel):
    """The whole file."""

    accounts: list[AccountEntry] = Field(default_factory=list)

    def find(self, requester: str | None, organization: str | None = None) -> AccountEntry | None:
        """The account of a requester address (exact, then its domain) or organisation name."""
        keys = []
        if requester:
            keys += [requester.lower(), requester.rpartition("@")[2].lower()]
        if organization:
            keys.append(organization.lower())
        for key in keys:
            for entry in self.accounts:
                if key and key in {m.lower() for m in entry.match}:
                    return entry
        return None


def load_accounts(path: Path | None) -> AccountsFile:
    """Parse the file (empty without one); errors name the file and the path inside it."""
    if path is None:
        return AccountsFile()
    data = read_config(path, "the accounts file") or {}
    try:
        return AccountsFile.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{path}: {first_problem(exc, '(top level)')}") from exc


def to_account(entry: AccountEntry) -> Account:
    """The canonical Account of an entry."""
    return Account(
        id=entry.id, name=entry.name, tier=entry.tier, region=entry.region, language=entry.language
    )
