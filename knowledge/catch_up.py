"""What the saved router learned, by case, so that cases stored since can be found and observed.

A case reaches the router in two steps: it is stored, then observed (and journalled beside the
saved models). Between the two, a crash leaves a stored case the router does not know; a refit in
another process writes a new router whose fit never saw the cases stored during its fit, and whose
fresh journal drops the lines the other processes appended for the outgoing router. Each such case
was then learned only at the next refit. So every save records a digest of each case the fit
read (``fitted-cases.json``, keyed by the router's version), and loading a router compares the
stored cases with it and with the journal: a case stored differently from both is observed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from knowledge.base import CaseStore
from knowledge.cases import Case

log = logging.getLogger(__name__)

FITTED = "fitted-cases.json"  # beside the saved router: {"version": ..., "cases": {id: digest}}


def case_digest(case: Case) -> str:
    """A case's labels, metadata and subject as stored (its body is not read back by a scan)."""
    fields = case.model_dump(mode="json", exclude={"body"})
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode("utf-8")).hexdigest()[:24]


def digests(cases: Iterable[Case]) -> dict[str, str]:
    """Each case's digest, by id."""
    return {case.id: case_digest(case) for case in cases}


def write_fitted(model_dir: Path, version: str, fitted: dict[str, str]) -> None:
    """Record the cases a fit read (written aside and moved in whole)."""
    path = model_dir / FITTED
    partial = path.with_suffix(".json.tmp")
    partial.write_text(json.dumps({"version": version, "cases": fitted}), encoding="utf-8")
    os.replace(partial, path)


def read_fitted(model_dir: Path, version: str) -> dict[str, str] | None:
    """The cases the router of that version was fitted on; None when not recorded for it."""
    path = model_dir / FITTED
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring %s: %s", path, exc)
        return None
    if not isinstance(saved, dict) or saved.get("version") != version:
        return None
    cases = saved.get("cases")
    return cases if isinstance(cases, dict) else None


def unknown_ids(store: CaseStore, fitted: dict[str, str], observed: dict[str, str]) -> list[str]:
    """Ids of the labelled stored cases that differ from what the router observed of them, or
    (not observed) from what its fit read: a metadata scan, no bodies nor embeddings."""
    found: list[str] = []
    for batch in store.iter_labels():
        for case in batch:
            if not (case.team or case.priority):
                continue  # the router observes labelled cases only
            known = observed.get(case.id) or fitted.get(case.id)
            if known != case_digest(case):
                found.append(case.id)
    return found
