"""How an ingested case meets the stored case of the same id.

The ingested case replaces the stored one, except where the stored one knows better: the fields
its source does not carry (a reader's ``unread``) keep their stored values, and a team set by a
more authoritative source (``knowledge.cases.LABEL_AUTHORITY``) is not replaced by the export's.
"""

from __future__ import annotations

from collections.abc import Collection

from knowledge.cases import Case, outranks


def merged(case: Case, stored: Case | None, unread: Collection[str]) -> tuple[Case, bool]:
    """The case to store, and whether the stored team was kept against a different one."""
    if stored is None:
        return case, False
    if unread:
        case = case.model_copy(update={field: getattr(stored, field) for field in unread})
    if stored.team is None or not outranks(stored.label_source, case.label_source):
        return case, False
    # the export's other fields still replace the stored ones; the label and its source stay
    differs = case.team != stored.team
    kept = case.model_copy(update={"team": stored.team, "label_source": stored.label_source})
    return kept, differs


def merge_batch(
    latest: dict[str, Case], existing: dict[str, Case], unread: Collection[str]
) -> tuple[dict[str, Case], dict[str, str]]:
    """Each ingested case merged with its stored one, and the ids whose stored team was kept
    against the export's, with the source of the kept label."""
    kept: dict[str, str] = {}
    out: dict[str, Case] = {}
    for case_id, case in latest.items():
        out[case_id], differs = merged(case, existing.get(case_id), unread)
        if differs:
            kept[case_id] = out[case_id].label_source
    return out, kept
