"""Measure false-positive rejects: every dataset ticket through every channel's adapter + gate.

Each row of ``<datasets>/*/dev.jsonl`` is real, routable work, so any reject is a false
positive. The row is rendered as each channel would send it (an RFC 5322 e-mail, a chat
transcript, a web form, a JSON API ticket) and put through the same adapter and validation as
``POST /v1/intake/{channel}``, with a standard-tier account (the strictest gate).

    .venv/bin/python -m api.intake.measure_rejects [--datasets DIR] [--limit N] [--show K]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from agent.errors import InputError
from api.intake.adapters import adapt_api, adapt_chat, adapt_web
from api.intake.email_adapter import adapt_email
from api.intake.models import Adapted
from api.intake.validation import Profiles, validate

DEFAULT_DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


def _address(requester: str | None) -> str:
    name = "".join(c if c.isalnum() else "." for c in (requester or "customer").lower())
    return f"{name.strip('.') or 'customer'}@customer.example"


def as_email(row: dict[str, Any]) -> bytes:
    """The row as the e-mail a customer would have sent."""
    msg = EmailMessage()
    msg["From"] = _address(row.get("requester"))
    msg["To"] = "support@help.example"
    msg["Subject"] = " ".join(str(row.get("subject") or "").split())
    msg["Message-ID"] = f"<{row['id']}@customer.example>"
    msg.set_content(str(row.get("body") or ""))
    return msg.as_bytes()


def as_chat(row: dict[str, Any]) -> dict[str, Any]:
    """The row as a chat: the subject (when any) then each paragraph as a customer line."""
    lines = [p for p in str(row.get("body") or "").split("\n\n") if p.strip()]
    if row.get("subject"):
        lines.insert(0, str(row["subject"]))
    return {
        "conversation_id": row["id"],
        "requester": row.get("requester"),
        "messages": [{"role": "customer", "text": t} for t in lines] or [{"text": ""}],
    }


def as_form(row: dict[str, Any]) -> dict[str, Any]:
    """The row as a web form submission."""
    return {
        "submission_id": row["id"],
        "email": _address(row.get("requester")),
        "subject": row.get("subject") or "",
        "description": row.get("body") or "",
        "language": row.get("language"),
    }


def as_api(row: dict[str, Any]) -> dict[str, Any]:
    """The row as a generic JSON API ticket."""
    return {
        "external_id": row["id"],
        "subject": row.get("subject") or "",
        "body": row.get("body") or "",
        "requester": row.get("requester"),
        "language": row.get("language"),
    }


CHANNELS: dict[str, Callable[[dict[str, Any]], Adapted]] = {
    "email": lambda row: adapt_email(as_email(row)),
    "chat": lambda row: adapt_chat(as_chat(row)),
    "web": lambda row: adapt_web(as_form(row)),
    "api": lambda row: adapt_api(as_api(row)),
}


def rows(datasets: Path, limit: int | None) -> Iterator[tuple[str, dict[str, Any]]]:
    """(dataset name, row) of every dev.jsonl, up to limit rows per dataset."""
    for path in sorted(datasets.glob("*/dev.jsonl")):
        with path.open(encoding="utf-8") as handle:
            for n, line in enumerate(handle):
                if limit is not None and n >= limit:
                    break
                yield path.parent.name, json.loads(line)


def measure(datasets: Path, limit: int | None = None, show: int = 5) -> dict[str, Any]:
    """Counts of rows, rejects and quarantines per dataset and channel, with examples."""
    profiles = Profiles()
    seen: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    examples: list[str] = []
    started = time.perf_counter()
    for dataset, row in rows(datasets, limit):
        for channel, adapt in CHANNELS.items():
            key = f"{dataset}/{channel}"
            seen[key] += 1
            try:
                reasons = validate(adapt(row), profiles).reasons
            except InputError as exc:
                reasons = [str(exc)]
            if reasons:
                rejected[key] += 1
                if len(examples) < show:
                    examples.append(f"{key} {row['id']}: {'; '.join(reasons)}")
    total, bad = sum(seen.values()), sum(rejected.values())
    return {
        "checked": total,
        "rejected": bad,
        "false_positive_rate": bad / total if total else 0.0,
        "by_source": {k: {"checked": seen[k], "rejected": rejected[k]} for k in sorted(seen)},
        "examples": examples,
        "seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Print the figures as JSON; exit 1 when any ticket was rejected."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--limit", type=int, default=None, help="rows per dataset")
    parser.add_argument("--show", type=int, default=10, help="example rejects to print")
    args = parser.parse_args(argv)
    report = measure(args.datasets, args.limit, args.show)
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 1 if report["rejected"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
