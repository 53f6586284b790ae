"""read_config: every way a hand-edited file can fail is one line naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config_yaml import read_config
from agent.errors import InputError


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
