"""`triage --help` and `triage serve --help` as a first-time user reads them."""

from __future__ import annotations

import argparse

from agent.cli import build_parser
from agent.settings import Settings


def _serve_help(parser: argparse.ArgumentParser) -> str:
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return commands.choices["serve"].format_help()


def test_top_level_help_is_plain_text() -> None:
    text = build_parser().format_help()
    assert "``" not in text and "route" in text and "serve" in text


def test_serve_help_names_the_defaults_of_host_and_port() -> None:
    text = " ".join(_serve_help(build_parser()).split())
    defaults = Settings.model_fields
    assert f"TRIAGE_HOST, else {defaults['host'].default}" in text
    assert f"TRIAGE_PORT, else {defaults['port'].default}" in text
