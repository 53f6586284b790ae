"""The policy an eval routes with: the --policy file checked against the labels, or a neutral one
whose teams and priority scale are TRAIN's label values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from agent.errors import InputError
from agent.policy import Policy, load_policy, neutral_policy
from evals.datasets import Row, require_label

if TYPE_CHECKING:
    from evals.runner import EvalConfig

# Urgency words most urgent first; labels not listed keep their sorted order after these.
URGENCY_ORDER = (
    "critical",
    "urgent",
    "highest",
    "very high",
    "high",
    "medium",
    "normal",
    "moderate",
    "low",
    "lowest",
    "very low",
)


def priority_scale(values: Sequence[str]) -> list[str]:
    """Priority labels most urgent first: known urgency words by rank, the rest sorted after."""
    known = {word: rank for rank, word in enumerate(URGENCY_ORDER)}
    distinct = sorted(set(values))
    return sorted(distinct, key=lambda v: (known.get(v.casefold(), len(known)), v))


def build_policy(config: EvalConfig, train: Sequence[Row]) -> Policy:
    """The given policy, or a neutral one whose teams and priorities are TRAIN's label values."""
    require_label(train, config.label, config.train_source)  # the learning curve comes here first
    if config.policy_path is not None:
        return _given_policy(config, train)
    teams = sorted({row.label(config.label) or "" for row in train} - {""})
    if config.first_line is not None and config.first_line not in teams:
        raise InputError(
            f"--first-line {config.first_line!r} is not a value of label {config.label!r} in "
            f"{config.train_source}"
        )
    scale = None
    if config.priority_label:
        found = [p for p in (row.label(config.priority_label) for row in train) if p]
        scale = priority_scale(found)
        if len(scale) < 2:
            raise InputError(
                f"{config.train_source}: priority label {config.priority_label!r} needs at least "
                f"two values, found {scale}"
            )
    return neutral_policy(teams, first_line=config.first_line, scale=scale)


def _given_policy(config: EvalConfig, train: Sequence[Row]) -> Policy:
    """The --policy file, if the labels name its teams and priorities: else every ticket would
    be scored a misroute, and escalations against another first line, with no word why."""
    policy = load_policy(config.policy_path or "")
    where = f"--policy {config.policy_path}"
    if config.first_line is not None and config.first_line != policy.first_line_team:
        raise InputError(
            f"--first-line {config.first_line!r} is not the first-line team of {where} "
            f"({policy.first_line_team!r})"
        )
    checks = [(config.label, "team", policy.team_names)]
    if config.priority_label:
        checks.append((config.priority_label, "priority", policy.priorities.scale))
    for key, kind, names in checks:
        found = {v for v in (row.label(key) for row in train) if v}
        if found and not found & set(names):
            raise InputError(
                f"no value of label {key!r} in {config.train_source} is a {kind} of {where} "
                f"(found {', '.join(sorted(found)[:5])}; it has {', '.join(names)})"
            )
    return policy
