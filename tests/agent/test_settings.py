"""`.env.example` is where an operator looks for a knob: it lists every setting."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from agent.errors import InputError
from agent.settings import Settings, read_settings

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


@pytest.mark.parametrize(
    ("value", "statuses"),
    [
        ("resolved, Cancelled", ["resolved", "cancelled"]),
        ('["resolved", "closed"]', ["resolved", "closed"]),
    ],
)
def test_the_closing_statuses_are_read_as_a_list(
    monkeypatch: pytest.MonkeyPatch, value: str, statuses: list[str]
) -> None:
    monkeypatch.setenv("TRIAGE_HELPDESK_CLOSED_STATUSES", value)
    assert read_settings().helpdesk_closed_statuses == statuses


@pytest.mark.parametrize("value", ["", " , ", "[1,"])
def test_closing_statuses_that_name_none_are_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("TRIAGE_HELPDESK_CLOSED_STATUSES", value)
    with pytest.raises(InputError, match=r"^TRIAGE_HELPDESK_CLOSED_STATUSES: .*(status|JSON list)"):
        read_settings()


def test_closing_statuses_without_resolved_are_refused_showing_the_whole_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Meant as an addition, "cancelled" alone would make a resolved ticket count as open in
    RT and its reopening go unseen."""
    monkeypatch.setenv("TRIAGE_HELPDESK_CLOSED_STATUSES", "cancelled")
    whole = "resolved,rejected,deleted,cancelled"
    with pytest.raises(InputError, match=rf"^TRIAGE_HELPDESK_CLOSED_STATUSES: .*resolved.*{whole}"):
        read_settings()


def test_the_closing_statuses_default_to_rts_inactive_ones() -> None:
    assert Settings().helpdesk_closed_statuses == ["resolved", "rejected", "deleted"]


def test_the_data_directory_is_created_for_its_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "new" / "triage"
    Settings(data_dir=data).ensure_dirs()
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    kept = tmp_path / "kept"
    kept.mkdir(mode=0o755)
    Settings(data_dir=kept).ensure_dirs()
    assert stat.S_IMODE(kept.stat().st_mode) == 0o755  # an existing directory keeps its mode


def test_every_service_option_is_a_setting_with_its_default_and_bounds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The service's knobs are read from the environment, each with the setting's own bounds."""
    from api.options import ServiceOptions

    own = {"start_background"}  # how the service is built, not configured
    for name, field in ServiceOptions.model_fields.items():
        if name in own:
            continue
        assert name in Settings.model_fields, name
        assert field.default == Settings.model_fields[name].default, name
    monkeypatch.setenv("TRIAGE_POLICY_CHECK_S", "0.5")
    assert ServiceOptions.from_settings(Settings()).policy_check_s == 0.5
    with pytest.raises(ValueError, match="sla_warn_fraction"):
        ServiceOptions(sla_warn_fraction=1.5)
