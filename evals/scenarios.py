"""Scenario suites: named tickets with the decision fields they must get (what accuracy hides).

A suite is a YAML file validated against ``evals/scenarios/schema.json`` (beside the suites). Each
case is routed through a triager on the suite's policy, with the demo data as its knowledge base.
Expected fields are compared with the decision: ``tags`` must all be present (case-insensitive),
every other field must be equal; ``route``/``team`` name the team.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agent.config_yaml import read_config
from agent.errors import InputError
from agent.models import Ticket
from agent.policy import Policy, load_policy
from agent.settings import EXAMPLES_DIR, Settings
from evals.datasets import read_rows, to_case
from evals.gate import REGRESSION_EXIT
from evals.sandbox import isolated_triager

SCHEMA = Path(__file__).resolve().parent / "scenarios" / "schema.json"
DEMO_DATA = EXAMPLES_DIR / "demo_tickets.jsonl"
DEMO_LABEL = "team"
DEMO_PRIORITY = "priority"
ALIASES = {"route": "team"}


class CaseResult(BaseModel):
    """One scenario's verdict."""

    name: str
    passed: bool
    mismatches: dict[str, dict[str, Any]] = Field(default_factory=dict)
    decision: dict[str, Any] = Field(default_factory=dict)


def load_suite(path: Path) -> dict[str, Any]:
    """Read a suite and validate it against the schema; errors name the file and the path."""
    data = read_config(path, "the scenario suite")
    if SCHEMA.exists():
        import jsonschema

        schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
        errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(data), key=str)
        if errors:
            where = "/".join(str(p) for p in errors[0].absolute_path) or "(top level)"
            raise InputError(f"{path}: {where}: {errors[0].message}")
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list) or not data["cases"]:
        raise InputError(f"{path}: expected a mapping with a non-empty list of cases")
    return data


def compare_decision(expect: dict[str, Any], output: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The expected fields the decision does not meet, with what it had instead."""
    mismatches: dict[str, dict[str, Any]] = {}
    for key, wanted in expect.items():
        field = ALIASES.get(key, key)
        actual = output.get(field)
        if field == "tags":
            have = {str(t).casefold() for t in actual or []}
            missing = [t for t in wanted if str(t).casefold() not in have]
            ok = not missing
        elif field == "tags_absent":
            have = {str(t).casefold() for t in output.get("tags") or []}
            actual = output.get("tags")
            ok = not [t for t in wanted if str(t).casefold() in have]
        else:
            ok = actual == wanted
        if not ok:
            mismatches[key] = {"expected": wanted, "actual": actual}
    return mismatches


def _policy(suite: dict[str, Any], path: Path, override: Path | None, settings: Settings) -> Policy:
    if override is not None:
        return load_policy(override)
    if suite.get("policy"):
        return load_policy((path.parent / suite["policy"]).resolve())
    return load_policy(settings.policy_path)


def run_suite(path: Path, settings: Settings, policy_path: Path | None = None) -> list[CaseResult]:
    """Route every case of the suite and compare; the knowledge base holds the demo data."""
    suite = load_suite(path)
    policy = _policy(suite, path, policy_path, settings)
    rows = read_rows(DEMO_DATA) if DEMO_DATA.exists() else []
    # Like `triage serve --demo`: the demo's priority labels are learned too, where present.
    priority = DEMO_PRIORITY if any(r.label(DEMO_PRIORITY) for r in rows) else None
    cases = [to_case(r, DEMO_LABEL, priority) for r in rows]
    quiet = settings.model_copy(update={"llm_when": "never"})  # scenarios are deterministic
    results: list[CaseResult] = []
    with isolated_triager(quiet, policy, cases) as (triager, _):
        for index, case in enumerate(suite["cases"]):
            name = str(case.get("name") or f"case {index + 1}")
            try:
                ticket = Ticket.model_validate(case["ticket"])
            except (KeyError, ValueError) as exc:
                raise InputError(f"{path}: cases[{index}] ({name}): bad ticket: {exc}") from None
            thread = f"scenario-{index}"
            output = triager.triage(ticket, thread_id=thread).to_output()
            triager.forget(thread)
            mismatches = compare_decision(case.get("expect") or {}, output)
            brief = {
                k: output.get(k) for k in ("team", "escalate", "priority", "tags", "needs_review")
            }
            results.append(
                CaseResult(name=name, passed=not mismatches, mismatches=mismatches, decision=brief)
            )
    return results


def cmd_scenarios(args: argparse.Namespace, settings: Settings) -> int:
    """`triage eval --scenarios FILE`: print pass/fail per case; exit 3 when any case fails."""
    results = run_suite(args.scenarios, settings, args.policy)
    for r in results:
        detail = "; ".join(
            f"{k}: expected {v['expected']!r}, got {v['actual']!r}" for k, v in r.mismatches.items()
        )
        print(f"{'PASS' if r.passed else 'FAIL'} {r.name}" + (f" ({detail})" if detail else ""))
    failed = sum(not r.passed for r in results)
    print(f"{len(results) - failed}/{len(results)} scenarios passed")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        payload = [r.model_dump(mode="json") for r in results]
        (args.out / "scenarios.json").write_text(
            json.dumps(payload, indent=2) + "\n", encoding="utf-8"
        )
    return REGRESSION_EXIT if failed else 0
