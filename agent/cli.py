"""The ``triage`` command: route, serve, and the sub-commands of the knowledge base and evals."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agent import __version__
from agent.errors import InputError, TriageError, first_problem
from agent.json_input import load_json
from agent.models import Ticket
from agent.policy import load_policy
from agent.settings import Settings, get_settings

Handler = Callable[[argparse.Namespace, Settings], int]

# The reader of stdout went away (`triage route - | head -1`): the status of a process that
# SIGPIPE ended (128 + 13), as `yes | head -1` leaves, so a pipeline under pipefail sees it.
EXIT_STDOUT_CLOSED = 141


def read_ticket(source: str) -> Ticket:
    """Read one ticket JSON from a file or ``-`` (stdin); only subject and/or body are required."""
    try:
        raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        raise InputError(f"{source}: cannot read: {exc.strerror}") from None
    data = load_json(raw, source)
    if not isinstance(data, dict):
        raise InputError(f"{source}: expected a JSON object with at least subject or body")
    try:
        return Ticket.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{source}: {first_problem(exc, 'ticket')}") from None


def cmd_route(args: argparse.Namespace, settings: Settings) -> int:
    """Route one ticket and print the decision with its brief."""
    from agent.triager import Triager

    ticket = read_ticket(args.file)
    policy = load_policy(args.policy) if args.policy is not None else None
    # routing stores no case: it reads the knowledge base, a running service's too
    triager = Triager.from_settings(settings, policy=policy, read_only=True)
    result = triager.triage(ticket)
    if args.format == "md":
        sys.stdout.write(result.to_markdown())
    else:
        json.dump(result.to_output(), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Run the HTTP service on the embedded defaults."""
    from api.serve import serve

    return serve(settings, host=args.host, port=args.port, demo=args.demo)


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    parser = argparse.ArgumentParser(
        prog="triage",
        description="Escalation triage for helpdesk tickets: route one, serve the HTTP API, "
        "manage the knowledge base, keys, policy versions, intake and dead letters, run evals.",
    )
    parser.add_argument("--version", action="version", version=f"triage {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logs on stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    route = sub.add_parser("route", help="route one ticket (JSON file or - for stdin)")
    route.add_argument("file", help="ticket JSON file, or - for stdin")
    route.add_argument("--format", choices=["json", "md"], default="json")
    route.add_argument(
        "--policy", type=Path, help="route with this policy file (default: TRIAGE_POLICY_PATH)"
    )
    route.set_defaults(handler=cmd_route)

    serve = sub.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default=None, help="default: TRIAGE_HOST, else 127.0.0.1")
    serve.add_argument("--port", type=int, default=None, help="default: TRIAGE_PORT, else 8080")
    serve.add_argument(
        "--demo", action="store_true", help="seed an empty knowledge base with the demo data"
    )
    serve.set_defaults(handler=cmd_serve)

    for module, function in _SUBCOMMANDS:
        getattr(importlib.import_module(module), function)(sub)
    return parser


# Each part of the product registers its own sub-commands.
_SUBCOMMANDS: list[tuple[str, str]] = [
    ("knowledge.cli", "add_kb_parser"),
    ("evals.cli", "add_eval_parser"),
    ("api.cli", "add_keys_parser"),
    ("api.cli", "add_policy_parser"),
    ("api.intake.cli", "add_intake_parser"),
    ("api.intake.cli", "add_dlq_parser"),
]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``triage`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    handler: Any = args.handler
    try:
        code = int(handler(args, get_settings()))
        sys.stdout.flush()  # output still buffered meets a closed pipe here, not at exit
        return code
    except BrokenPipeError:
        return stdout_closed()
    except TriageError as exc:
        print(f"triage: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("triage: interrupted", file=sys.stderr)
        return 130


def stdout_closed() -> int:
    """Stop quietly when the reader of stdout is gone; returns EXIT_STDOUT_CLOSED.

    Python ignores SIGPIPE, so the write raised BrokenPipeError. What is still buffered for
    stdout goes to devnull instead (Python's advice in the signal module's docs): flushed at
    exit into the closed pipe, it would raise and print a second error.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_STDOUT_CLOSED


if __name__ == "__main__":
    raise SystemExit(main())
