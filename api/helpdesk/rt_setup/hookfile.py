"""Where RT's event scrip posts to: a small JSON file the scrip reads on every transaction.

Rewriting it retargets the scrip without restarting RT (tests point it at their own server).
Usage: python -m api.helpdesk.rt_setup.hookfile PATH URL  (secret from TRIAGE_WEBHOOK_SECRET,
else the one already in the file, else a new random one).
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr


class HookTarget(BaseModel):
    """The scrip's target: URL, shared secret and the per-request timeout RT waits at most."""

    url: str
    secret: SecretStr
    timeout_s: float = Field(default=3.0, gt=0, le=30)


def read_hook(path: Path) -> HookTarget | None:
    """The current target, or None when the file does not exist."""
    if not path.exists():
        return None
    return HookTarget.model_validate_json(path.read_text(encoding="utf-8"))


def write_hook(path: Path, url: str, secret: str | None = None, timeout_s: float = 3.0) -> None:
    """Write the target atomically (mode 600: it holds the secret)."""
    if secret is None:
        current = read_hook(path)
        secret = current.secret.get_secret_value() if current else secrets.token_hex(32)
    data = {"url": url, "secret": secret, "timeout_s": timeout_s}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    tmp.replace(path)


def main(argv: list[str]) -> int:
    """CLI entry of `.ci/rt hook URL`."""
    if len(argv) != 2:
        print("usage: python -m api.helpdesk.rt_setup.hookfile PATH URL", file=sys.stderr)
        return 2
    write_hook(Path(argv[0]), argv[1], os.environ.get("TRIAGE_WEBHOOK_SECRET") or None)
    print(f"RT events now go to {argv[1]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
