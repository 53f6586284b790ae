"""Cases observed since the router's last fit: held beside the models, and journalled on disk.

A fitted router acts on a correction at once, before any refit: the case joins ``ObservedCases``,
which every ticket is compared with, and one line joins the journal beside the saved models, so a
restart replays what was learned since the fit without re-writing the models for every case.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path
from typing import BinaryIO

import numpy as np

from knowledge.cases import Case

log = logging.getLogger(__name__)


class Observed:
    """A case seen after the last fit with its embedding, as observed and journalled."""

    def __init__(self, case: Case, embedding: np.ndarray) -> None:
        self.case = case
        self.embedding = embedding.astype(np.float32)


class ObservedCases:
    """The cases observed since the fit, by id, with their embeddings in one matrix.

    Every ticket is compared with all of them, so the comparison is one matrix product: a loop
    over 10,000 cases after a bulk import cost ~33 ms a ticket. Rows grow by doubling, so a case
    observed while tickets are routed costs no re-stacking; a case observed again keeps its row.
    """

    def __init__(self) -> None:
        self._cases: dict[str, Case] = {}
        self._rows: dict[str, int] = {}
        self._ids: list[str] = []
        self._matrix = np.zeros((0, 0), dtype=np.float32)

    def __contains__(self, case_id: object) -> bool:
        return case_id in self._cases

    def __getitem__(self, case_id: str) -> Case:
        return self._cases[case_id]

    def get(self, case_id: str, default: Case) -> Case:
        return self._cases.get(case_id, default)

    def __len__(self) -> int:
        return len(self._cases)

    def values(self) -> list[Observed]:
        """Each case with its embedding (a copy of its row)."""
        return [Observed(case, self._matrix[self._rows[i]]) for i, case in self._cases.items()]

    def cases(self) -> list[Case]:
        """The observed cases, without their embeddings."""
        return list(self._cases.values())

    def add(self, seen: Observed) -> None:
        """Remember a case, replacing what was observed of the same id before."""
        vector = seen.embedding.ravel()
        if not self._ids:
            self._matrix = np.zeros((16, len(vector)), dtype=np.float32)
        elif len(vector) != self._matrix.shape[1]:
            raise ValueError(
                f"case {seen.case.id!r} has a {len(vector)}-dimensional embedding; "
                f"the observed cases have {self._matrix.shape[1]}"
            )
        row = self._rows.get(seen.case.id)
        if row is None:
            row = self._rows[seen.case.id] = len(self._ids)
            self._ids.append(seen.case.id)
            if row == len(self._matrix):
                grown = np.zeros((2 * row, self._matrix.shape[1]), dtype=np.float32)
                grown[:row] = self._matrix
                self._matrix = grown
        self._matrix[row] = vector
        self._cases[seen.case.id] = seen.case

    def nearest(self, embedding: np.ndarray, k: int) -> list[tuple[Case, float]]:
        """The k observed cases most similar to the embedding (dot product), most similar first;
        equally similar ones in the order they were first observed."""
        n = len(self._ids)
        if n == 0 or k <= 0:
            return []
        sims = self._matrix[:n] @ np.asarray(embedding, dtype=np.float32).ravel()
        rows = np.arange(n) if n <= k else np.argpartition(-sims, k - 1)[:k]
        rows = rows[np.lexsort((rows, -sims[rows]))]
        return [(self._cases[self._ids[r]], float(sims[r])) for r in rows]


class ObservedWithout(ObservedCases):
    """The observed cases less one, read-only, sharing their rows: what a stored ticket routed
    again (a policy dry-run) may compare with, its own case learned since left out."""

    def __init__(self, observed: ObservedCases, case_id: str) -> None:
        super().__init__()
        self._all = observed
        self._left_out = case_id

    def __contains__(self, case_id: object) -> bool:
        return case_id != self._left_out and case_id in self._all

    def __getitem__(self, case_id: str) -> Case:
        if case_id == self._left_out:
            raise KeyError(case_id)
        return self._all[case_id]

    def get(self, case_id: str, default: Case) -> Case:
        return default if case_id == self._left_out else self._all.get(case_id, default)

    def __len__(self) -> int:
        return len(self._all) - (self._left_out in self._all)

    def values(self) -> list[Observed]:
        return [o for o in self._all.values() if o.case.id != self._left_out]

    def cases(self) -> list[Case]:
        return [case for case in self._all.cases() if case.id != self._left_out]

    def add(self, seen: Observed) -> None:
        raise TypeError("the observed cases of a replay are read-only")

    def nearest(self, embedding: np.ndarray, k: int) -> list[tuple[Case, float]]:
        found = self._all.nearest(embedding, k + 1)
        return [(case, sim) for case, sim in found if case.id != self._left_out][:k]


class Journal:
    """The observed cases of one fit, one JSON line each; lines of other fits are stale."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, fit: str, seen: list[Observed]) -> None:
        """Add cases at the end, at once (one write)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+b") as fh:
            lines = "".join(_line(fit, s) for s in seen).encode("utf-8")
            # a line a crash cut short has no newline: end it, or it swallows the next one
            fh.write(b"\n" + lines if _ends_torn(fh) else lines)

    def rewrite(self, fit: str, seen: list[Observed]) -> None:
        """Replace the whole journal by these cases (written aside and moved in whole)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = self.path.with_suffix(".tmp")
        fresh.write_text("".join(_line(fit, s) for s in seen), encoding="utf-8")
        os.replace(fresh, self.path)

    def read(self, fit: str) -> list[Observed]:
        """The cases journalled for that fit, skipping lines a crash cut short."""
        if not self.path.exists():
            return []
        seen: list[Observed] = []
        with self.path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                try:
                    entry = json.loads(line)
                    if entry["fit"] != fit:
                        continue
                    vector = np.frombuffer(base64.b64decode(entry["vector"]), dtype="<f4")
                    seen.append(Observed(Case.model_validate(entry["case"]), vector))
                except (ValueError, KeyError, TypeError) as exc:  # a line cut short by a crash
                    log.warning("skipping line %d of %s: %s", number, self.path, exc)
        return seen


def _line(fit: str, seen: Observed) -> str:
    vector = base64.b64encode(seen.embedding.astype("<f4").tobytes()).decode("ascii")
    entry = {"fit": fit, "case": seen.case.model_dump(mode="json"), "vector": vector}
    return json.dumps(entry, ensure_ascii=False) + "\n"


def _ends_torn(fh: BinaryIO) -> bool:
    """Whether the file (open to read and append) ends inside a line."""
    if fh.seek(0, os.SEEK_END) == 0:
        return False
    fh.seek(-1, os.SEEK_END)
    return fh.read(1) != b"\n"
