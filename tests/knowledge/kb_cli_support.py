"""Run `triage kb ...` in-process, as the command line would, for the knowledge-base CLI tests."""

from __future__ import annotations

import argparse

from agent.settings import Settings
from knowledge.cli import add_kb_parser


def run_kb(argv: list[str], settings: Settings) -> int:
    """Parse `kb ...` arguments and run the chosen handler; its exit code."""
    parser = argparse.ArgumentParser()
    add_kb_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    code: int = args.handler(args, settings)
    return code
