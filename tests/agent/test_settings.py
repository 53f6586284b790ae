"""`.env.example` is where an operator looks for a knob: it lists every setting."""

from __future__ import annotations

import re
from pathlib import Path

from agent.settings import Settings

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


def test_every_setting_is_listed_in_env_example_with_its_default() -> None:
    listed = dict(re.findall(r"^# (TRIAGE_[A-Z0-9_]+)=(.*)$", ENV_EXAMPLE.read_text(), re.M))
    missing = [
        f"TRIAGE_{name.upper()}"
        for name in Settings.model_fields
        if f"TRIAGE_{name.upper()}" not in listed
    ]
    assert missing == []
    for name, field in Settings.model_fields.items():
        if field.default is not None and isinstance(field.default, str | int | float):
            assert listed[f"TRIAGE_{name.upper()}"] == str(field.default), name
