"""`triage keys create|list|revoke`: API keys written to the database (no server needed)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from agent.settings import Settings
from api.auth import ROLES, create_key, list_keys, revoke_key
from api.db import Database


def _db(settings: Settings) -> Database:
    settings.ensure_dirs()
    db = Database(settings.sqlalchemy_url)
    db.migrate()
    return db


def cmd_create(args: argparse.Namespace, settings: Settings) -> int:
    """Create a key and print it alone on stdout (it is shown only this once)."""
    db = _db(settings)
    try:
        info, secret = create_key(db, args.role, args.name)
    finally:
        db.close()
    print(secret)
    print(
        f"created key {info.id} ({info.role}, {info.name}); store it now, it is not shown again",
        file=sys.stderr,
    )
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    """List keys: id, role, name, created, revoked (never the secret)."""
    db = _db(settings)
    try:
        keys = list_keys(db)
    finally:
        db.close()
    for key in keys:
        revoked = key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else "-"
        print(
            f"{key.id}\t{key.role}\t{key.name}\t{key.created_at.isoformat(timespec='seconds')}\t{revoked}"
        )
    return 0


def cmd_revoke(args: argparse.Namespace, settings: Settings) -> int:
    """Revoke a key by id; it stops working at once."""
    db = _db(settings)
    try:
        info = revoke_key(db, args.id)
    finally:
        db.close()
    print(f"revoked key {info.id} ({info.role}, {info.name})", file=sys.stderr)
    return 0


def add_keys_parser(subparsers: Any) -> None:
    """Register `triage keys ...` on the main command."""
    keys = subparsers.add_parser("keys", help="API keys of the HTTP service")
    sub = keys.add_subparsers(dest="keys_command", required=True)
    create = sub.add_parser("create", help="create a key; prints it alone on stdout")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--name", default=None, help="who or what uses it")
    create.set_defaults(handler=cmd_create)
    listing = sub.add_parser("list", help="list keys (never their secrets)")
    listing.set_defaults(handler=cmd_list)
    revoke = sub.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("id")
    revoke.set_defaults(handler=cmd_revoke)
