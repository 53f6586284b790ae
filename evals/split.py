"""Write a seeded, stratified TRAIN/TEST split of a labelled JSONL file, for full eval runs.

    python -m evals.split ../shared/datasets/it_incidents/dev.jsonl --label assignment_group \
        --out /tmp/it [--test-share 0.2] [--seed 0]
    triage eval --train /tmp/it/train.jsonl --test /tmp/it/test.jsonl --label assignment_group ...

The split files hold dataset rows: keep them outside the repository (the licences forbid copies).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from agent.errors import InputError, TriageError
from evals.atomic import write_together
from evals.datasets import Row, read_rows, require_label, stratified_split


def as_jsonl(rows: Sequence[Row]) -> bytes:
    """Rows as JSONL, one per line, each as it was read (account objects and unknown keys too)."""
    return "".join(row.as_read() + "\n" for row in rows).encode("utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Split one file into DIR/train.jsonl and DIR/test.jsonl."""
    parser = argparse.ArgumentParser(
        prog="python -m evals.split",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", type=Path)
    parser.add_argument("--label", required=True, help="key in `labels` to stratify by")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--test-share", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        rows = read_rows(args.file)
        require_label(rows, args.label, str(args.file))
        train, test = stratified_split(rows, args.label, args.test_share, args.seed)
        empty = "TEST" if not test else "TRAIN" if not train else None
        if empty:
            # each label's share is rounded: with one or two rows per label it can round to none
            raise InputError(
                f"the split leaves {empty} empty ({len(rows)} rows, "
                f"{len({r.label(args.label) for r in rows})} labels, --test-share "
                f"{args.test_share:g}); give a {'larger' if empty == 'TEST' else 'smaller'} one"
            )
    except TriageError as exc:
        print(f"split: error: {exc}", file=sys.stderr)
        return 1
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        # both or neither: a new TRAIN beside the last split's TEST would share tickets with it
        write_together(
            {args.out / "train.jsonl": as_jsonl(train), args.out / "test.jsonl": as_jsonl(test)}
        )
    except OSError as exc:
        print(f"split: error: --out {args.out}: {exc.strerror}", file=sys.stderr)
        return 1
    except TriageError as exc:
        print(f"split: error: {exc}", file=sys.stderr)
        return 1
    print(f"{len(train)} TRAIN and {len(test)} TEST rows in {args.out}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
