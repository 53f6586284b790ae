"""API keys with roles: created once, hashed at rest, sent as ``Authorization: Bearer KEY``.

Roles: ``helpdesk`` (triage, intake; reads only the tickets and kept payloads it submitted),
``specialist`` (briefs, feedback, KPIs), ``reviewer`` (the review queue) and ``admin`` (everything,
policy included).
Keys are 256-bit random secrets, so a plain sha256 is a sufficient hash: no one can brute-force
the preimage, and lookups stay one indexed query.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel
from sqlalchemy import select

from agent.errors import AuthError, ForbiddenError, InputError, NotFoundError
from api.db import Database
from api.tables import ApiKeyRow, utcnow

Role = Literal["helpdesk", "specialist", "reviewer", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
KEY_PREFIX = "trk_"


class Principal(BaseModel):
    """Who is calling: the key's public id, name and role (never the secret)."""

    key_id: str
    name: str
    role: Role

    def require(self, *roles: Role) -> None:
        """Raise ForbiddenError unless the caller has one of the roles (admin always passes)."""
        if self.role != "admin" and self.role not in roles:
            allowed = ", ".join((*roles, "admin"))
            raise ForbiddenError(f"this needs the role {allowed}; the key has {self.role}")

    @property
    def submitter_scope(self) -> str | None:
        """The key whose submissions alone this caller may read (a helpdesk key's); None: all."""
        return self.key_id if self.role == "helpdesk" else None

    def require_submitter(self, submitted_by: str | None, what: str) -> None:
        """Raise ForbiddenError when a helpdesk key asks for what another key submitted."""
        if self.submitter_scope is not None and submitted_by != self.submitter_scope:
            raise ForbiddenError(f"a helpdesk key may read only the {what} it submitted")


class KeyInfo(BaseModel):
    """A key as listed: public id, role, name and dates, never the hash."""

    id: str
    role: Role
    name: str
    created_at: datetime
    revoked_at: datetime | None = None


def hash_key(secret: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(db: Database, role: str, name: str | None = None) -> tuple[KeyInfo, str]:
    """Store a new key; returns its info and the secret, which is shown once and never stored."""
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    key_id = secrets.token_hex(6)
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKeyRow(
        id=key_id,
        key_hash=hash_key(secret),
        role=role,
        name=name or f"{role}-{key_id}",
        created_at=utcnow(),
    )
    with db.session() as session:
        session.add(row)
    return _info(row), secret


def list_keys(db: Database) -> list[KeyInfo]:
    """Every key, oldest first."""
    with db.session() as session:
        rows = session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at)).all()
        return [_info(r) for r in rows]


def revoke_key(db: Database, key_id: str) -> KeyInfo:
    """Revoke a key at once; revoking twice is harmless."""
    with db.session() as session:
        row = session.get(ApiKeyRow, key_id)
        if row is None:
            raise NotFoundError(f"no API key {key_id!r}")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
        return _info(row)


def authenticate(db: Database, authorization: str | None) -> Principal:
    """The caller behind an ``Authorization`` header; AuthError when missing, malformed or wrong."""
    if not authorization:
        raise AuthError("missing API key: send 'Authorization: Bearer KEY'")
    scheme, _, secret = authorization.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise AuthError("malformed Authorization header: expected 'Bearer KEY'")
    with db.session() as session:
        row = session.scalars(
            select(ApiKeyRow).where(ApiKeyRow.key_hash == hash_key(secret))
        ).first()
        if row is None or row.revoked_at is not None:
            raise AuthError("invalid or revoked API key")
        return Principal(key_id=row.id, name=row.name, role=_role(row.role))


def _role(value: str) -> Role:
    if value not in ROLES:
        raise AuthError(f"key has an unknown role {value!r}")
    return value  # type: ignore[return-value]


def _info(row: ApiKeyRow) -> KeyInfo:
    return KeyInfo(
        id=row.id,
        role=_role(row.role),
        name=row.name,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )
