"""Validation profiles: defaults, YAML with located errors, tiers that are never rejected."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.errors import InputError
from agent.models import Account, Ticket
from api.intake.models import Adapted
from api.intake.validation import Profiles, load_profiles, validate


def _adapted(channel: str = "chat", tier: str = "standard", **values: object) -> Adapted:
    ticket = Ticket(channel=channel, account=Account(tier=tier), **values)  # type: ignore[arg-type]
    return Adapted(ticket=ticket, raw={})


def test_defaults_accept_short_chat_and_mail_without_subject() -> None:
    profiles = Profiles()
    assert validate(_adapted(body="hi"), profiles).outcome == "accept"
    mail = _adapted("email", body="VPN down", requester="a@x.example")
    assert validate(mail, profiles).outcome == "accept"


def test_mail_without_sender_and_binary_junk_are_rejected_with_reasons() -> None:
    profiles = Profiles()
    verdict = validate(_adapted("email", body="\x00\x01\x02\x03 junk \x04\x05\x06"), profiles)
    assert verdict.outcome == "reject"
    assert verdict.reasons[0] == "no requester to answer"
    assert verdict.reasons[1].startswith("unreadable text:")


def test_never_reject_tiers_are_quarantined() -> None:
    verdict = validate(_adapted("email", tier="VIP", body="x"), Profiles())
    assert verdict.outcome == "quarantine" and verdict.reasons == ["no requester to answer"]


def test_yaml_profiles_and_their_errors(tmp_path: Path) -> None:
    good = tmp_path / "ok.yaml"
    good.write_text(
        "channels:\n  web: {require_subject: true}\n"
        "account_domains:\n  bigcorp.example: {id: big, tier: enterprise}\n",
        encoding="utf-8",
    )
    profiles = load_profiles(good)
    assert validate(_adapted("web", body="text"), profiles).reasons == ["no subject"]
    account = profiles.account_for("dana@BigCorp.example")
    assert account is not None and account.tier == "enterprise"
    bad = tmp_path / "bad.yaml"
    bad.write_text("channels:\n  web: {min_chars: -1}\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.yaml: channels.web.min_chars: Input should be"):
        load_profiles(bad)


def test_a_repeated_key_or_bad_yaml_is_one_line_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "profiles.yaml"
    # the second 'web:' would silently replace the first, and web tickets lose their subject check
    path.write_text(
        "channels:\n  web: {require_subject: true}\n  chat: {min_chars: 2}\n  web: {}\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as repeated:
        load_profiles(path)
    assert str(repeated.value) == (
        f"{path}: line 4, column 3: not valid YAML: 'web' given again (first on line 2); "
        "one of them would be silently dropped"
    )
    path.write_text("channels:\n  web: {require_subject: true\n  chat: {}\n", encoding="utf-8")
    with pytest.raises(InputError) as broken:
        load_profiles(path)
    message = str(broken.value)
    assert message.startswith(f"{path}: line 3, column 7: not valid YAML: ") and "\n" not in message


def test_a_profile_for_a_channel_that_does_not_exist_is_refused_naming_it(
    tmp_path: Path,
) -> None:
    # 'emial' was taken silently, and e-mail went on with its defaults.
    path = tmp_path / "profiles.yaml"
    path.write_text("channels:\n  emial: {require_subject: true}\n", encoding="utf-8")
    with pytest.raises(InputError) as typo:
        load_profiles(path)
    message = str(typo.value)
    assert message.startswith(f"{path}: channels.emial.[key]: unknown channel 'emial'")
    assert "email, chat, web, api, helpdesk" in message


@pytest.mark.parametrize(
    "channels", ["web: {min_chars: 30}", "email: {min_chars: 5}", "email: {require_subject: true}"]
)
def test_a_profiles_file_changes_only_what_it_names(tmp_path: Path, channels: str) -> None:
    # Naming one channel (or one field of e-mail's) dropped e-mail's built-in requirement of a
    # sender to answer: mail from nobody was queued.
    path = tmp_path / "profiles.yaml"
    path.write_text(f"channels:\n  {channels}\n", encoding="utf-8")
    no_sender = _adapted("email", subject="VPN down", body="VPN drops every five minutes")
    assert "no requester to answer" in validate(no_sender, load_profiles(path)).reasons
    path.write_text("channels:\n  email: {require_requester: false}\n", encoding="utf-8")
    assert validate(no_sender, load_profiles(path)).outcome == "accept"
