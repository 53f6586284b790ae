"""Output files written together: each whole or not at all, and the last run's kept on failure."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from pathlib import Path

from agent.errors import InputError


def write_together(files: Mapping[Path, bytes]) -> list[Path]:
    """Write every file, or none: each goes to a temporary file beside it first, and only when
    all are written do they replace the old ones. A full disk or a Ctrl-C while writing leaves
    the files there were, not new metrics beside an old report or a file cut short. An OSError
    is an InputError naming the file."""
    written: list[tuple[str, Path]] = []
    try:
        for path, data in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = str(path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.partial"))
            # created as a plain open would (0666 less the umask): mkstemp's 0600 would hide
            # a report from the others who read it
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            written.append((partial, path))
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        for partial, path in written:
            os.replace(partial, path)
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    finally:
        for partial, _ in written:
            if os.path.exists(partial):
                os.unlink(partial)
    return list(files)
