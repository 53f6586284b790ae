"""`triage dlq list|show|replay|discard` and `triage intake import FILE` (no server needed)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.errors import InputError
from agent.json_input import load_json
from agent.settings import Settings
from api.auth import Principal
from api.db import Database
from api.intake.dlq import DeadLetters
from api.intake.health import SourceHealth
from api.intake.mailbox_import import read_mailbox
from api.intake.options import IntakeOptions
from api.intake.queue import IntakeQueue
from api.intake.records import IntakeRecords
from api.intake.rejects import Rejects
from api.intake.replay import DeadLetterActions
from api.intake.sqlqueue import SqlQueue
from api.intake.validation import load_profiles
from api.policies import PolicyStore
from api.store import TicketStore

if TYPE_CHECKING:  # the flow brings the agent: imported by the commands that run it
    from api.intake.flow import IntakeFlow

CLI_CALLER = Principal(key_id="cli", name="triage cli", role="admin")


@contextmanager
def _opened(settings: Settings) -> Iterator[tuple[Database, IntakeOptions, IntakeQueue]]:
    settings.ensure_dirs()
    db = Database(settings.sqlalchemy_url)
    db.migrate()
    options = IntakeOptions.from_settings(settings)
    queue: IntakeQueue
    if options.intake_queue == "rabbitmq":
        from api.intake.rabbit import RabbitQueue

        queue = RabbitQueue(
            options.broker_url,
            options.broker_queue,
            options.intake_queue_size,
            options.urgent_capacity,
        )
    else:
        queue = SqlQueue(
            db, options.intake_queue_size, options.urgent_capacity, options.intake_lease_s
        )
    try:
        yield db, options, queue
    finally:
        queue.close()
        db.close()


def _actions(db: Database, options: IntakeOptions, queue: IntakeQueue) -> DeadLetterActions:
    records = IntakeRecords(db)
    return DeadLetterActions(DeadLetters(db), TicketStore(db), records, queue, options.urgent_order)


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    """One line per dead letter, highest impact first."""
    with _opened(settings) as (db, _, _q):
        letters = DeadLetters(db).list(args.state, args.limit)
        if not letters:
            print(f"no {args.state} dead letters", file=sys.stderr)
        for d in letters:
            when = d.created_at.isoformat(timespec="seconds")
            print(
                f"{d.id}\t{d.tier}\tprio {d.priority}\t{when}\t{d.source}\t{d.ticket_id}\t"
                f"{d.attempts} attempts\t{d.error[:100]}"
            )
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    """The dead letter as JSON: error, attempts, original payload, ticket."""
    with _opened(settings) as (db, _, _q):
        letter = DeadLetters(db).get(args.id)
    json.dump(letter.model_dump(mode="json"), sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    """Queue it again, optionally with a fixed ticket JSON file."""
    fixed = _fixed_ticket(args.ticket)
    with _opened(settings) as (db, options, queue):
        letter = _actions(db, options, queue).replay(args.id, args.by, fixed)
    print(f"dead letter {letter.id}: ticket {letter.ticket_id} queued again", file=sys.stderr)
    return 0


def _fixed_ticket(path: str | None) -> dict[str, Any] | None:
    """The fixed ticket JSON object from that file, or None when no file is given."""
    if not path:
        return None
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the fixed ticket: {exc}") from None
    fixed = load_json(raw, path)
    if not isinstance(fixed, dict):
        raise InputError(f"{path}: the fixed ticket must be a JSON object")
    return fixed


def cmd_discard(args: argparse.Namespace, settings: Settings) -> int:
    """Drop it for good, with who and why (kept on the record and logged)."""
    with _opened(settings) as (db, options, queue):
        letter = _actions(db, options, queue).discard(args.id, args.by, args.reason)
    print(f"dead letter {letter.id} discarded by {args.by}: {args.reason}", file=sys.stderr)
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    """Feed every message of an mbox, a Maildir or one .eml file through the e-mail channel."""
    counts: dict[str, int] = {}
    messages = read_mailbox(Path(args.file))  # refuses what is none of them before starting
    with _opened(settings) as (db, options, queue):
        flow, health = _flow(db, options, queue, settings)
        try:
            for key, raw in messages:
                # A backlog's SLA clocks start when its mails were sent, unless told otherwise.
                result = flow.submit("email", raw, CLI_CALLER, dated=not args.arrived_now)
                counts[result.status] = counts.get(result.status, 0) + 1
                if result.status in ("rejected", "quarantined"):
                    print(f"{key}: {result.status}: {'; '.join(result.reasons)}", file=sys.stderr)
                for note in result.notes:
                    print(f"{key}: {note}", file=sys.stderr)
        finally:
            health.close()
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    print(f"imported {sum(counts.values())} messages: {summary or 'none'}")
    return 0


def add_dlq_parser(subparsers: Any) -> None:
    """Register `triage dlq ...`."""
    dlq = subparsers.add_parser("dlq", help="dead letters: list, show, replay, discard")
    sub = dlq.add_subparsers(dest="dlq_command", required=True)
    listing = sub.add_parser("list", help="highest impact first")
    listing.add_argument("--state", choices=["open", "replayed", "discarded"], default="open")
    listing.add_argument("--limit", type=int, default=100)
    listing.set_defaults(handler=cmd_list)
    show = sub.add_parser("show", help="one dead letter as JSON")
    show.add_argument("id", type=int)
    show.set_defaults(handler=cmd_show)
    replay = sub.add_parser("replay", help="queue it again (optionally fixed)")
    replay.add_argument("id", type=int)
    replay.add_argument("--ticket", help="JSON file: the fields to change (the others stay)")
    replay.add_argument("--by", required=True, help="who replays it")
    replay.set_defaults(handler=cmd_replay)
    discard = sub.add_parser("discard", help="drop it for good, with a reason")
    discard.add_argument("id", type=int)
    discard.add_argument("--by", required=True, help="who discards it")
    discard.add_argument("--reason", required=True, help="why (kept and logged)")
    discard.set_defaults(handler=cmd_discard)


def cmd_release(args: argparse.Namespace, settings: Settings) -> int:
    """Send a quarantined (or wrongly rejected) payload on to triage, as it is or fixed."""
    fixed = _fixed_ticket(args.ticket)
    with _opened(settings) as (db, options, queue):
        flow, health = _flow(db, options, queue, settings)
        try:
            result = flow.release(args.id, args.by, fixed)
        finally:
            health.close()
    print(f"payload {args.id}: {result.status} as ticket {result.ticket_id}", file=sys.stderr)
    return 0


def _flow(
    db: Database, options: IntakeOptions, queue: IntakeQueue, settings: Settings
) -> tuple[IntakeFlow, SourceHealth]:
    """The intake's door on the active policy (the policy file before the service's first start)."""
    from api.intake.flow import IntakeFlow

    active = PolicyStore(db).active()
    if active is None:
        from api.policies import read_policy_file

        policy = read_policy_file(str(settings.policy_path))[1]
    else:
        policy = active[1]
    health = SourceHealth(db, options.intake_failing_after)
    flow = IntakeFlow(
        TicketStore(db),
        queue,
        IntakeRecords(db),
        Rejects(db),
        health,
        load_profiles(options.intake_profiles_path),
        options,
        lambda: policy,
    )
    return flow, health


def add_intake_parser(subparsers: Any) -> None:
    """Register `triage intake import FILE` and `triage intake release ID`."""
    intake = subparsers.add_parser("intake", help="feed tickets in from files")
    sub = intake.add_subparsers(dest="intake_command", required=True)
    imp = sub.add_parser(
        "import",
        help="import an mbox file, a Maildir directory or one e-mail (.eml)",
        description="Each message goes through the e-mail channel as if posted to "
        "/v1/intake/email, except that its Date: header is its arrival time (the SLA clock "
        "starts there) unless it cannot be read, is in the future or is more than a year old "
        "(then the import time is, and the message is named with the reason); a rejected one "
        "is reported with its reason (and kept) and the "
        "import goes on. A file starting with a 'From ' line is an mbox (its '>From ' escapes "
        "are undone), one starting with a header is a single e-mail; anything else is refused. "
        "A Maildir needs cur/ or new/ (or both).",
    )
    imp.add_argument("file", help="mbox file, Maildir directory or .eml file")
    imp.add_argument(
        "--arrived-now",
        action="store_true",
        help="every message arrives at import time, whatever its Date: (the SLA clocks start "
        "now: mails already past their due time are not breached at once, nor paged)",
    )
    imp.set_defaults(handler=cmd_import)
    release = sub.add_parser(
        "release",
        help="send a quarantined or rejected payload on to triage, once",
        description="As POST /v1/intake/rejects/{id}/release: its ticket as adapted, or the "
        "fixed one given; the checks that held it are not run again.",
    )
    release.add_argument("id", type=int, help="the payload's id (GET /v1/intake/rejects)")
    release.add_argument("--by", required=True, help="who releases it")
    release.add_argument("--ticket", help="JSON file: the fields to change (the others stay)")
    release.set_defaults(handler=cmd_release)
