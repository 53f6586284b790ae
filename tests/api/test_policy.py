"""Policy for admins: read, replace (validated, versioned, activated), dry-run a candidate."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from api_support import TICKET_DB, TICKET_REVIEW, Api, AppFactory, without_hardware
from sqlalchemy import update

from agent.llm import LLMClassifier
from agent.policy import Policy
from agent.settings import EXAMPLES_DIR, Settings
from api.db import Database
from api.policies import PolicyStore
from api.tables import PolicyRow

EXAMPLE = (EXAMPLES_DIR / "policy.yaml").read_text(encoding="utf-8")
PRINTER_RULE = """
  - id: printer-to-database
    match: {keywords: [printer]}
    actions: {escalate_to: database}
"""


def _with_rule(text: str, rule: str) -> str:
    """The example policy with one more rule at the top of its rules list."""
    head, tail = text.split("\nrules:\n", 1)
    return f"{head}\nrules:\n{rule.strip(chr(10))}\n{tail}"


def test_get_policy_returns_the_active_version(api: Api) -> None:
    body = api.client.get("/v1/policy", headers=api.auth("admin")).json()
    assert body["version"] == 1
    assert body["active"] is True
    assert body["fingerprint"] == api.triager.policy.fingerprint
    assert "first_line_team" in body["yaml"]


def test_invalid_policy_is_422_naming_the_path(api: Api) -> None:
    broken = _with_rule(
        EXAMPLE,
        """
  - id: bad-regex
    match: {error_codes: ["ORA-(("]}
    actions: {escalate_to: database}
""",
    )
    response = api.client.put("/v1/policy", json={"yaml": broken}, headers=api.auth("admin"))
    assert response.status_code == 422
    assert "rules[0].match.error_codes" in response.json()["detail"]
    not_yaml = api.client.put("/v1/policy", json={"yaml": "a: [1"}, headers=api.auth("admin"))
    assert not_yaml.status_code == 422
    assert "not valid YAML" in not_yaml.json()["detail"]
    deep = "a: " + "[" * 5_000 + "]" * 5_000
    too_deep = api.client.put("/v1/policy", json={"yaml": deep}, headers=api.auth("admin"))
    assert too_deep.status_code == 422
    assert "nested deeper than the parser goes" in too_deep.json()["detail"]
    versions = api.client.get("/v1/policy/versions", headers=api.auth("admin")).json()
    assert [v["version"] for v in versions] == [1]


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_version_too_long_for_the_fingerprint_column_is_422_on_both_databases(
    backend: str, make_api: AppFactory, request: pytest.FixtureRequest
) -> None:
    """The fingerprint (version, '+', 10 hex digits) is stored in 100 characters: PostgreSQL
    refuses more, SQLite would keep them; both refuse such a version before storing it."""
    api = make_api(request.getfixturevalue("pg_url") if backend == "postgres" else None)
    admin = api.auth("admin")
    longest = EXAMPLE.replace('version: "2026.11.1"', f'version: "{"v" * 80}"')
    put = api.client.put("/v1/policy", json={"yaml": longest}, headers=admin)
    assert put.status_code == 200, put.text
    assert len(put.json()["fingerprint"]) == 91
    too_long = EXAMPLE.replace('version: "2026.11.1"', f'version: "{"v" * 90}"')
    refused = api.client.put("/v1/policy", json={"yaml": too_long}, headers=admin)
    assert refused.status_code == 422, refused.text
    assert "version" in refused.json()["detail"]
    versions = api.client.get("/v1/policy/versions", headers=admin).json()
    assert [v["version"] for v in versions] == [2, 1]


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_names_too_long_for_a_tickets_columns_are_422_on_both_databases(
    backend: str, make_api: AppFactory, request: pytest.FixtureRequest
) -> None:
    """A decision writes its priority (40 characters) and assignee (200) on the ticket's row:
    PostgreSQL refuses longer ones, so every ticket routed there would fail; such a policy is
    refused before it is activated."""
    api = make_api(request.getfixturevalue("pg_url") if backend == "postgres" else None)
    admin = api.auth("admin")
    for old, new, path in (
        ("P3", "P3-" + "x" * 38, "priorities.scale[2]"),
        ("Mehmet Yilmaz", "M" * 201, "teams[2].members[0].name"),
    ):
        put = api.client.put("/v1/policy", json={"yaml": EXAMPLE.replace(old, new)}, headers=admin)
        assert put.status_code == 422, put.text
        assert path in put.json()["detail"]
    longest = EXAMPLE.replace("P3", "P3-" + "x" * 37).replace("Mehmet Yilmaz", "M" * 200)
    assert api.client.put("/v1/policy", json={"yaml": longest}, headers=admin).status_code == 200
    decided = api.client.post("/v1/triage", json=TICKET_DB, headers=api.auth("helpdesk"))
    assert decided.status_code == 200, decided.text
    assert decided.json()["priority"] == "P3-" + "x" * 37


def test_a_policy_too_large_for_the_llm_prompt_budget_is_422_and_not_activated(
    make_api: AppFactory,
) -> None:
    # The example policy's prompt needs about 1,380 tokens; three more teams need about 160 more.
    llm = LLMClassifier.from_settings(
        Settings(llm_base_url="http://127.0.0.1:9/v1", llm_max_prompt_tokens=1400)
    )
    api = make_api(llm=llm)
    about = "Handles the questions of one more product line, from its first install to billing. "
    extra = "".join(
        f"\n  - name: product_{n}\n    description: {about * 2}" for n in ("a", "b", "c")
    )
    larger = EXAMPLE.replace("\nteams:", "\nteams:" + extra, 1)
    before = api.triager.policy.fingerprint
    put = api.client.put("/v1/policy", json={"yaml": larger}, headers=api.auth("admin"))
    assert put.status_code == 422, put.text
    detail = put.json()["detail"]
    assert detail.startswith("TRIAGE_LLM_MAX_PROMPT_TOKENS is 1400, below the ")
    assert "12 teams" in detail
    assert api.triager.policy.fingerprint == before
    versions = api.client.get("/v1/policy/versions", headers=api.auth("admin")).json()
    assert [v["version"] for v in versions] == [1]


def test_put_policy_versions_and_activates(api: Api) -> None:
    candidate = _with_rule(EXAMPLE, PRINTER_RULE)
    put = api.client.put("/v1/policy", json={"yaml": candidate}, headers=api.auth("admin"))
    assert put.status_code == 200
    assert put.json()["version"] == 2
    assert put.json()["created_by"] == "test-admin"
    decision = api.client.post(
        "/v1/triage",
        json={"subject": "printer jammed", "body": "the printer on floor 2 is jammed"},
        headers=api.auth("helpdesk"),
    ).json()
    assert decision["team"] == "database"
    assert decision["policy_version"] == put.json()["fingerprint"]
    versions = api.client.get("/v1/policy/versions", headers=api.auth("admin")).json()
    assert [(v["version"], v["active"]) for v in versions] == [(2, True), (1, False)]
    first = api.client.get("/v1/policy", params={"version": 1}, headers=api.auth("admin")).json()
    assert "printer-to-database" not in first["yaml"]


def test_dry_run_reports_changed_decisions_without_activating(api: Api) -> None:
    printer = api.client.post(
        "/v1/triage",
        json={"subject": "printer jammed", "body": "the printer on floor 2 is jammed"},
        headers=api.auth("helpdesk"),
    ).json()
    api.client.post("/v1/triage", json=TICKET_REVIEW, headers=api.auth("helpdesk"))
    before = api.triager.policy.fingerprint
    candidate = _with_rule(EXAMPLE, PRINTER_RULE)
    report = api.client.post(
        "/v1/policy/dry-run", json={"yaml": candidate, "last": 10}, headers=api.auth("admin")
    )
    assert report.status_code == 200
    body = report.json()
    assert body["replayed"] == 2
    changed = {c["ticket_id"]: c for c in body["changes"]}
    assert printer["ticket_id"] in changed
    assert "team" in changed[printer["ticket_id"]]["changed"]
    assert changed[printer["ticket_id"]]["candidate"]["team"] == "database"
    assert api.triager.policy.fingerprint == before
    assert api.client.get("/v1/policy", headers=api.auth("admin")).json()["version"] == 1


def test_dry_run_compares_with_the_active_policy_not_with_past_decisions(api: Api) -> None:
    """A ticket decided under an older policy is not reported as changed by the active one."""
    printer = api.client.post(
        "/v1/triage",
        json={"subject": "printer jammed", "body": "the printer on floor 2 is jammed"},
        headers=api.auth("helpdesk"),
    ).json()
    assert printer["team"] != "database"
    active = _with_rule(EXAMPLE, PRINTER_RULE)
    assert api.client.put("/v1/policy", json={"yaml": active}, headers=api.auth("admin")).is_success
    same = api.client.post(
        "/v1/policy/dry-run", json={"yaml": active, "last": 10}, headers=api.auth("admin")
    ).json()
    assert (same["replayed"], same["changed"]) == (1, 0)
    back = api.client.post(
        "/v1/policy/dry-run", json={"yaml": EXAMPLE, "last": 10}, headers=api.auth("admin")
    ).json()
    [change] = back["changes"]
    assert change["current"]["team"] == "database"
    assert change["candidate"]["team"] == printer["team"]


def test_a_dry_run_does_not_replay_a_ticket_against_its_own_learned_case(api: Api) -> None:
    """A reviewed ticket is a case of the knowledge base; replayed, it must not find its answer."""
    printer = {"subject": "printer jammed", "body": "the printer on floor 2 is jammed"}
    held = api.client.post("/v1/triage", json=printer, headers=api.auth("helpdesk")).json()
    assert held["needs_review"] and held["team"] != "database"
    decided = api.client.post(
        f"/v1/review/{held['ticket_id']}", json={"team": "database"}, headers=api.auth("reviewer")
    )
    assert decided.status_code == 200, decided.text
    # live routing follows the reviewer at once: a near-duplicate goes where the reviewer said
    later = api.client.post("/v1/triage", json=printer, headers=api.auth("helpdesk")).json()
    assert later["team"] == "database"
    tagged = _with_rule(
        EXAMPLE,
        "  - {id: printer-tag, match: {keywords: [printer]}, actions: {add_tags: [Printer]}}",
    )
    body = api.client.post(
        "/v1/policy/dry-run", json={"yaml": tagged, "last": 10}, headers=api.auth("admin")
    ).json()
    changes = {c["ticket_id"]: c for c in body["changes"]}
    assert set(changes) == {held["ticket_id"], later["ticket_id"]}
    replayed = changes[held["ticket_id"]]
    # routed as a new ticket again: without its own case it is where the agent first put it
    assert (replayed["current"]["team"], replayed["candidate"]["team"]) == (held["team"],) * 2
    # the other ticket still finds the reviewed case among its precedents
    assert changes[later["ticket_id"]]["current"]["team"] == "database"


def test_policy_survives_a_restart(make_api: AppFactory, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    first = make_api(url)
    candidate = _with_rule(EXAMPLE, PRINTER_RULE)
    fingerprint = first.client.put(
        "/v1/policy", json={"yaml": candidate}, headers=first.auth("admin")
    ).json()["fingerprint"]
    second = make_api(url)
    assert second.triager.policy.fingerprint == fingerprint


def test_policies_put_at_once_each_get_a_version_and_the_active_one_routes(api: Api) -> None:
    answers: list[int | str] = []

    def put(i: int) -> None:
        yaml = EXAMPLE.replace('version: "2026.11.1"', f'version: "v{i}"')
        try:
            answer = api.client.put("/v1/policy", json={"yaml": yaml}, headers=api.auth("admin"))
            answers.append(answer.status_code)
        except Exception as exc:  # the test client re-raises what the server did not handle
            answers.append(type(exc).__name__)

    admins = [threading.Thread(target=put, args=(i,)) for i in range(8)]
    for admin in admins:
        admin.start()
    for admin in admins:
        admin.join(60)

    assert answers == [200] * 8
    versions = api.client.get("/v1/policy/versions", headers=api.auth("admin")).json()
    assert [v["version"] for v in versions] == list(range(9, 0, -1))
    active = api.client.get("/v1/policy", headers=api.auth("admin")).json()
    # the version the database names active is the one the service routes with
    assert active["live"] is True
    assert active["fingerprint"] == api.services.engine.policy.fingerprint


def test_a_policy_file_edited_after_the_first_start_is_named_at_the_next(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'policies.sqlite'}")
    db.migrate()
    store = PolicyStore(db)
    try:
        first, _ = store.bootstrap(EXAMPLE, "policy.yaml")
        with caplog.at_level(logging.WARNING, logger="api.policies"):
            store.bootstrap("# a comment only\n" + EXAMPLE, "policy.yaml")
            assert caplog.records == []  # the same policy
            edited = _with_rule(EXAMPLE, PRINTER_RULE)
            view, policy = store.bootstrap(edited, "policy.yaml")
        assert view.version == first.version == 1
        assert "printer-to-database" not in [r.id for r in policy.rules]
        assert [r.getMessage() for r in caplog.records] == [
            "policy.yaml differs from the active policy, version 1 (file:policy.yaml), which the "
            "service routes with; to route with the file: triage policy activate policy.yaml "
            "(or PUT /v1/policy)"
        ]
    finally:
        db.close()


def test_a_policy_put_to_one_process_routes_in_every_process_on_the_database(
    make_api: AppFactory, tmp_path: Path
) -> None:
    # two API processes (or an API and an intake worker process) on one database
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    first, second = make_api(url), make_api(url, policy_check_s=0)
    put = first.client.put(
        "/v1/policy", json={"yaml": _with_rule(EXAMPLE, PRINTER_RULE)}, headers=first.auth("admin")
    )
    assert put.status_code == 200
    printer = {"subject": "printer jammed", "body": "the printer on floor 2 is jammed"}
    decision = second.client.post("/v1/triage", json=printer, headers=second.auth("helpdesk"))
    assert decision.json()["team"] == "database"
    assert decision.json()["policy_version"] == put.json()["fingerprint"]
    active = second.client.get("/v1/policy", headers=second.auth("admin")).json()
    assert (active["version"], active["live"]) == (2, True)


def test_a_policy_that_drops_a_team_names_the_open_tickets_still_with_it(api: Api) -> None:
    held = api.client.post("/v1/triage", json=TICKET_REVIEW, headers=api.auth("helpdesk")).json()
    assert held["needs_review"] and held["team"] == "hardware"
    candidate = {"yaml": without_hardware()}
    dry = api.client.post("/v1/policy/dry-run", json=candidate, headers=api.auth("admin")).json()
    assert dry["open_tickets_of_dropped_teams"] == {"hardware": [held["ticket_id"]]}
    put = api.client.put("/v1/policy", json=candidate, headers=api.auth("admin"))
    assert put.status_code == 200
    assert put.json()["open_tickets_of_dropped_teams"] == {"hardware": [held["ticket_id"]]}
    # the example policy keeps every team: nothing to name
    again = api.client.put("/v1/policy", json={"yaml": EXAMPLE}, headers=api.auth("admin"))
    assert again.json()["open_tickets_of_dropped_teams"] == {}


class _Engine:
    """The engine interface follow() uses, counting how often it is handed a policy."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.taken = 0

    def set_policy(self, policy: Policy) -> None:
        self.policy = policy
        self.taken += 1


def test_a_version_stored_by_an_earlier_release_is_live_and_not_taken_up_again(
    make_api: AppFactory, tmp_path: Path
) -> None:
    """A release that adds a defaulted field reads the same YAML to another fingerprint."""
    url = f"sqlite:///{tmp_path / 'upgraded.sqlite'}"
    db = Database(url)
    db.migrate()
    try:
        store = PolicyStore(db)
        store.save(EXAMPLE, "file:policy.yaml")
        with db.session() as session:  # what the release before computed for this YAML
            session.execute(update(PolicyRow).values(fingerprint="2026.11.1+0123456789"))
        # the upgraded release starts on that database
        view, policy = PolicyStore(db).bootstrap(EXAMPLE, "policy.yaml")
        assert view.fingerprint == policy.fingerprint
        engine = _Engine(policy)
        upgraded = PolicyStore(db)
        for _ in range(3):
            upgraded.follow(engine, every_s=0)  # type: ignore[arg-type]
        assert engine.taken == 0  # it routes with the active version already
    finally:
        db.close()
    api = make_api(url)
    active = api.client.get("/v1/policy", headers=api.auth("admin")).json()
    assert (active["version"], active["live"]) == (1, True)
