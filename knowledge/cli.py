"""``triage kb ...``: ingest exports, search by meaning, show stats, refit the learned router."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import wraps
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.errors import TriageError
from agent.settings import Settings, get_settings

if TYPE_CHECKING:  # the knowledge base brings its models: imported by the commands that open it
    from knowledge.cases import Case
    from knowledge.ingest import CaseReader, IngestReport
    from knowledge.kb import KnowledgeBase

Handler = Callable[[argparse.Namespace, Settings], int]


def _guarded(handler: Handler) -> Handler:
    """Turn a TriageError into one line on stderr and exit status 1."""

    @wraps(handler)
    def run(args: argparse.Namespace, settings: Settings) -> int:
        try:
            return handler(args, settings)
        except TriageError as exc:
            print(f"triage: error: {exc}", file=sys.stderr)
            return 1

    return run


@contextmanager
def _opened(settings: Settings, **options: bool) -> Iterator[KnowledgeBase]:
    """The knowledge base, closed after the command: an embedded one is free for the next
    process (see knowledge.owner) as soon as the command is done with it."""
    from knowledge.kb import KnowledgeBase

    kb = KnowledgeBase.open(settings, **options)
    try:
        yield kb
    finally:
        kb.close()


def _refit(kb: KnowledgeBase, settings: Settings) -> dict[str, Any]:
    """Refit with the configured policy's teams described, as the service refits with its own."""
    from agent.errors import PolicyError
    from agent.policy import load_policy

    try:
        policy = load_policy(settings.policy_path)
    except PolicyError as exc:
        print(f"warning: {exc}; refitting without the policy's team descriptions", file=sys.stderr)
    else:
        kb.describe_teams(policy.team_texts())
    return kb.refit()


def _policy_teams(settings: Settings) -> tuple[str, set[str]] | None:
    """The configured policy's file name and team names; None, with a warning, if it does not
    load."""
    from agent.errors import PolicyError
    from agent.policy import load_policy

    try:
        policy = load_policy(settings.policy_path)
    except PolicyError as exc:
        print(f"warning: {exc}; teams are not checked against the policy", file=sys.stderr)
        return None
    return settings.policy_path.name, set(policy.team_names)


def _outside_policy(
    teams: dict[str, int], settings: Settings, what: str = "cases", top: int = 5
) -> str | None:
    """What to say of counted teams the policy has none of, which no ticket is routed to."""
    outside = {team: n for team, n in teams.items() if team != "(none)"}
    policy = _policy_teams(settings) if outside else None
    if policy is None:
        return None
    name, known = policy
    outside = {team: n for team, n in outside.items() if team not in known}
    if not outside:
        return None
    ranked = sorted(outside.items(), key=lambda item: -item[1])
    shown = ", ".join(f"{team} {n}" for team, n in ranked[:top])
    more = f" (+{len(ranked) - top} more)" if len(ranked) > top else ""
    return (
        f"{sum(outside.values())} {what} of teams {name} does not have: {shown}{more}; no "
        "ticket is routed to them (a team renamed or removed since, or an export that names its "
        "groups otherwise than the policy's teams)"
    )


@_guarded
def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    """Ingest a JSONL or CSV export and print what happened."""
    from knowledge.ingest import parse_column_map, read_cases

    reader = read_cases(Path(args.file), args.format, args.label, parse_column_map(args.map))
    with _opened(settings) as kb:
        return _ingest(args, settings, reader, kb)


def _ingest(
    args: argparse.Namespace, settings: Settings, reader: CaseReader, kb: KnowledgeBase
) -> int:
    from knowledge.ingest import IngestReport

    teams: Counter[str] = Counter()  # what the export labels, to check against the policy

    def counted(cases: Iterable[Case]) -> Iterator[Case]:
        for case in cases:
            teams[case.team or "(none)"] += 1
            yield case

    cases = islice(reader, args.limit) if args.limit is not None else reader
    report = IngestReport()
    try:
        kb.ingest(counted(cases), progress=True, keep=reader.unread, report=report)
    except KeyboardInterrupt:
        report.skipped = reader.skipped + report.skipped
        report.notes = [
            "interrupted: the cases counted above are stored, the rest are not; run the same "
            "command again to finish (what is stored already costs nothing)"
        ]
        print(format_report(report))
        return 130
    report.skipped = reader.skipped + report.skipped
    report.notes = reader.notes
    if reader.reads_team and (outside := _outside_policy(dict(teams), settings, "records")):
        report.notes.append(outside)
    if not (report.added + report.updated + report.unchanged + len(report.skipped)):
        report.notes.insert(0, f"{args.file} holds no records")  # zeros alone look like a fault
    print(format_report(report))
    router = kb.router
    if router is None or (router.is_fitted and not router.needs_refit):
        return 0  # no refit due
    if not (args.refit or report.added + report.updated):
        return 0
    if args.refit:
        print("refitting the learned router on every stored case ...", flush=True)
        fitted = _refit(kb, settings)
        print(
            f"router {fitted.get('version')} fitted on {fitted.get('n')} cases in "
            f"{fitted.get('fit_seconds')} s"
        )
    elif not router.is_fitted:
        print(
            "the learned router is not fitted yet: run `triage kb refit` (or ingest with --refit)"
        )
    else:
        print(
            f"{router.new_since_fit} cases arrived since the router was fitted: they act "
            "through precedents until `triage kb refit` (the service refits on its schedule; "
            "ingest with --refit to fit now)"
        )
    return 0


def format_report(report: IngestReport, examples: int = 5) -> str:
    """The ingest summary: counts, rate, why records were skipped, and how they were read."""
    lines = [
        f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
        f"skipped {len(report.skipped)} in {report.seconds:.1f} s "
        f"({report.cases_per_s:.1f} cases/s, {report.embedded} embedded)"
    ]
    if report.labels_kept:
        lines.append(_kept_line(report.labels_kept))
    reasons = Counter(skip.reason.split(":")[0] for skip in report.skipped)
    for reason, count in reasons.most_common():
        lines.append(f"  skipped {count}: {reason}")
    for skip in report.skipped[:examples]:
        lines.append(f"    {skip.ref}: {skip.reason}")
    lines.extend(f"note: {note}" for note in report.notes)
    return "\n".join(lines)


# who set a label an export did not replace, as the summary says it
_SET_BY = {
    "specialist": "a specialist's correction",
    "review": "a reviewer's decision",
    "helpdesk": "a helpdesk outcome",
    "import": "an earlier import",
    "decision": "the product's decision",
}


def _kept_line(kept: dict[str, int]) -> str:
    ranked = sorted(kept.items(), key=lambda item: -item[1])
    why = ", ".join(f"{count} set by {_SET_BY.get(source, source)}" for source, count in ranked)
    return (
        f"kept {sum(kept.values())} stored teams the export would have replaced: {why} "
        "(an import never replaces a more authoritative label; its other fields were applied)"
    )


@_guarded
def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    """Print the nearest stored cases to a text."""
    with _opened(settings, with_router=False, read_only=True) as kb:
        hits = kb.search(args.text, args.k)
    if not hits:
        print("no cases stored")
    for hit in hits:
        text = " ".join(hit.case.text.split())
        short = text if len(text) <= 80 else text[:77] + "..."
        print(f"{hit.similarity:.3f}  {hit.case.team or '-':<20}  {hit.case.id:<16}  {short}")
    return 0


@_guarded
def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    """Print what the knowledge base holds."""
    with _opened(settings, with_router=False, read_only=True) as kb:
        stats = kb.stats()
    print(f"cases: {stats.count}   model: {stats.embedding_model}   store: {stats.store}")
    for title, counts in (
        ("teams", stats.teams),
        ("languages", stats.languages),
        ("label sources", stats.label_sources),
    ):
        shown = ", ".join(f"{key} {value}" for key, value in islice(counts.items(), args.top))
        more = f" (+{len(counts) - args.top} more)" if len(counts) > args.top else ""
        print(f"{title}: {shown or '-'}{more}")
    outside = _outside_policy(stats.teams, settings, "cases", args.top)
    if outside:
        print(f"note: {outside}")
    return 0


@_guarded
def cmd_refit(args: argparse.Namespace, settings: Settings) -> int:
    """Refit the learned router on every stored case."""
    from knowledge.refit_summary import refit_summary

    with _opened(settings) as kb:
        report = _refit(kb, settings)
        teams = kb.stats().teams
    print(refit_summary(report, teams))
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_kb_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``kb ingest|search|stats|refit``; each sets ``handler(args, settings) -> int``."""
    kb = subparsers.add_parser("kb", help="the knowledge base of past cases")
    commands = kb.add_subparsers(dest="kb_command", required=True)

    ingest = commands.add_parser("ingest", help="add or update cases from a JSONL or CSV export")
    ingest.add_argument("file", help="JSONL in the shared dataset schema, or CSV")
    ingest.add_argument("--label", help="JSONL: the labels field that names the team")
    ingest.add_argument("--format", choices=["jsonl", "csv"], help="default: from the suffix")
    ingest.add_argument("--map", help="CSV: case field=column, e.g. team=Group,body=Description")
    ingest.add_argument("--limit", type=_positive, help="ingest at most N records")
    ingest.add_argument(
        "--refit",
        action="store_true",
        help="refit the learned router afterwards when it is unfitted or a refit is due",
    )
    ingest.set_defaults(handler=cmd_ingest)

    search = commands.add_parser("search", help="nearest stored cases to a text")
    search.add_argument("text")
    search.add_argument("-k", type=_positive, default=5, help="how many cases (default 5)")
    search.set_defaults(handler=cmd_search)

    stats = commands.add_parser("stats", help="counts per team, language and label source")
    stats.add_argument("--top", type=_positive, default=15, help="rows shown per table")
    stats.set_defaults(handler=cmd_stats)

    refit = commands.add_parser("refit", help="refit the learned router on all stored cases")
    refit.set_defaults(handler=cmd_refit)
    return kb


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``kb ...`` on its own (``python -m knowledge.cli kb stats``)."""
    from agent.cli import stdout_closed

    parser = argparse.ArgumentParser(prog="triage")
    add_kb_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        code = handler(args, get_settings())
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        return stdout_closed()


if __name__ == "__main__":
    sys.exit(main())
