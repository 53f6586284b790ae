"""`triage keys ...` and `triage policy ...`: API keys and policy versions written straight to the
database (no server needed)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from agent.settings import Settings
from api.auth import ROLES, create_key, list_keys, revoke_key
from api.db import Database
from api.policies import PolicyStore, read_policy_file


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
    if not keys:
        print("no API keys yet: create one with `triage keys create --role ROLE`", file=sys.stderr)
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


def cmd_policy_activate(args: argparse.Namespace, settings: Settings) -> int:
    """Validate a policy file and make it the next active version (as `PUT /v1/policy` does)."""
    text, _ = read_policy_file(args.file)
    db = _db(settings)
    try:
        view, _ = PolicyStore(db).save(text, f"cli:{args.author}", args.file)
    finally:
        db.close()
    print(
        f"activated policy version {view.version} ({view.fingerprint}) from {args.file}; "
        "running services and workers on this database take it up within 5 s",
        file=sys.stderr,
    )
    return 0


def cmd_policy_versions(args: argparse.Namespace, settings: Settings) -> int:
    """List the stored policy versions, newest first."""
    db = _db(settings)
    try:
        versions = PolicyStore(db).versions()
    finally:
        db.close()
    if not versions:
        print("no policy stored yet: the service stores its policy file as version 1 at start")
    for v in versions:
        active = "active" if v.active else "-"
        print(
            f"{v.version}\t{active}\t{v.fingerprint}\t{v.created_by}\t"
            f"{v.created_at.isoformat(timespec='seconds')}"
        )
    return 0


def add_policy_parser(subparsers: Any) -> None:
    """Register `triage policy ...` on the main command."""
    policy = subparsers.add_parser("policy", help="policy versions stored for the HTTP service")
    sub = policy.add_subparsers(dest="policy_command", required=True)
    activate = sub.add_parser(
        "activate", help="validate a policy file and store it as the active version"
    )
    activate.add_argument("file")
    activate.add_argument("--author", default="admin", help="recorded as cli:AUTHOR")
    activate.set_defaults(handler=cmd_policy_activate)
    versions = sub.add_parser("versions", help="list stored versions, newest first")
    versions.set_defaults(handler=cmd_policy_versions)
