"""read_config: every way a hand-edited file can fail is one line naming the file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from agent.config_yaml import read_config
from agent.errors import InputError, PolicyError
from agent.policy import loads_policy
from agent.settings import EXAMPLES_DIR

EXAMPLE_POLICY = EXAMPLES_DIR / "policy.yaml"


def test_a_file_that_cannot_be_read_or_is_not_text_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "gone.yaml"
    with pytest.raises(InputError) as unread:
        read_config(missing, "the accounts file")
    assert (
        str(unread.value) == f"{missing}: cannot read the accounts file: No such file or directory"
    )
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("accounts:\n  - id: m\u00fcller\n".encode("latin-1"))
    with pytest.raises(InputError) as undecoded:
        read_config(latin1, "the accounts file")
    assert str(undecoded.value) == (
        f"{latin1}: line 2: cannot read the accounts file: not UTF-8 text"
    )


def test_times_stay_text_and_a_good_file_reads_as_data(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("start: 9:00\nlimit: 3\n", encoding="utf-8")
    assert read_config(path, "the file") == {"start": "9:00", "limit": 3}


def test_a_date_that_does_not_exist_is_one_line_naming_it(tmp_path: Path) -> None:
    """A holiday typed as 2026-02-30 reads as a YAML date that no calendar has: one line naming
    the file, the line and the text, not a traceback from the YAML library."""
    path = tmp_path / "hours.yaml"
    path.write_text("working_hours:\n  holidays: [2026-12-25, 2026-02-30]\n", encoding="utf-8")
    with pytest.raises(InputError) as bad:
        read_config(path, "the file")
    assert str(bad.value).startswith(f"{path}: line 2, column 26: ")
    assert "'2026-02-30' is not a date (day is out of range for month)" in str(bad.value)
    path.write_text("holidays: [2026-12-25]\n", encoding="utf-8")
    assert read_config(path, "the file") == {"holidays": [date(2026, 12, 25)]}


def test_a_policy_with_an_impossible_holiday_is_refused_naming_the_line() -> None:
    text = EXAMPLE_POLICY.read_text(encoding="utf-8").replace(
        'start: "07:00", end: "20:00"}', 'start: "07:00", end: "20:00", holidays: [2026-02-30]}'
    )
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "2026-02-30" in row)
    with pytest.raises(PolicyError, match=rf"^policy.yaml: line {line}, column \d+: .*2026-02-30"):
        loads_policy(text, "policy.yaml")
