"""Keys and roles: 401 without a valid key, 403 with the wrong role, helpdesk reads only its own."""

from __future__ import annotations

from api_support import TICKET_DB, Api

from api.auth import hash_key, list_keys, revoke_key
from api.tables import ApiKeyRow


def test_missing_and_wrong_keys_get_401(api: Api) -> None:
    c = api.client
    missing = c.post("/v1/triage", json=TICKET_DB)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert "missing API key" in missing.json()["detail"]
    wrong = c.post("/v1/triage", json=TICKET_DB, headers={"Authorization": "Bearer trk_nope"})
    assert wrong.status_code == 401
    basic = c.post("/v1/triage", json=TICKET_DB, headers={"Authorization": "Basic abc"})
    assert basic.status_code == 401


def test_wrong_role_gets_403(api: Api) -> None:
    c = api.client
    assert c.post("/v1/triage", json=TICKET_DB, headers=api.auth("specialist")).status_code == 403
    assert c.get("/v1/review", headers=api.auth("helpdesk")).status_code == 403
    assert c.get("/v1/policy", headers=api.auth("reviewer")).status_code == 403
    assert c.get("/v1/kpis", headers=api.auth("helpdesk")).status_code == 403
    assert c.get("/v1/policy", headers=api.auth("admin")).status_code == 200


def test_specialists_and_reviewers_read_kpis_and_sla_and_give_feedback(api: Api) -> None:
    c = api.client
    for path in ("/v1/kpis", "/v1/sla/at-risk"):
        for role in ("specialist", "reviewer", "admin"):
            assert c.get(path, headers=api.auth(role)).status_code == 200, (path, role)
        assert c.get(path, headers=api.auth("helpdesk")).status_code == 403, path
    answer = {"team_correct": True}
    for role, status in (("specialist", 404), ("reviewer", 404), ("helpdesk", 403)):
        given = c.post("/v1/tickets/nope/feedback", json=answer, headers=api.auth(role))
        assert given.status_code == status, role  # 404: past the role check, no such ticket


def test_only_helpdesk_keys_submit_tickets(api: Api) -> None:
    c = api.client
    for role in ("specialist", "reviewer"):
        denied = c.post("/v1/tickets", json=TICKET_DB, headers=api.auth(role))
        assert denied.status_code == 403, role
    assert c.post("/v1/tickets", json=TICKET_DB, headers=api.auth("helpdesk")).status_code == 202


def test_revoked_key_stops_working_at_once(api: Api) -> None:
    db = api.services.db
    key_id = next(k.id for k in list_keys(db) if k.name == "test-specialist")
    assert api.client.get("/v1/kpis", headers=api.auth("specialist")).status_code == 200
    revoke_key(db, key_id)
    assert api.client.get("/v1/kpis", headers=api.auth("specialist")).status_code == 401


def test_keys_are_hashed_at_rest(api: Api) -> None:
    with api.services.db.session() as session:
        stored = {row.key_hash for row in session.query(ApiKeyRow)}
    assert api.keys["admin"] not in stored
    assert hash_key(api.keys["admin"]) in stored


def test_helpdesk_reads_only_the_tickets_it_submitted(api: Api) -> None:
    c = api.client
    made = c.post("/v1/triage", json=TICKET_DB, headers=api.auth("helpdesk")).json()
    ticket_id = made["ticket_id"]
    assert c.get(f"/v1/tickets/{ticket_id}", headers=api.auth("helpdesk")).status_code == 200
    other = c.get(f"/v1/tickets/{ticket_id}", headers=api.auth("helpdesk2"))
    assert other.status_code == 403
    assert c.get(f"/v1/tickets/{ticket_id}/brief", headers=api.auth("helpdesk2")).status_code == 403
    assert c.get(f"/v1/tickets/{ticket_id}", headers=api.auth("specialist")).status_code == 200


def test_health_metrics_and_docs_are_open(api: Api) -> None:
    c = api.client
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"):
        assert c.get(path).status_code == 200, path
    assert "/v1/triage" in c.get("/openapi.json").json()["paths"]


def test_helpdesk_reads_only_the_payloads_it_submitted(api: Api) -> None:
    c = api.client
    kept = c.post(
        "/v1/intake/web",
        json={"email": "alice@example.com", "message": "x"},
        headers=api.auth("helpdesk"),
    )
    assert kept.status_code == 422
    reject_id = kept.json()["reject_id"]
    url = f"/v1/intake/rejects/{reject_id}"
    mine = c.get(url, headers=api.auth("helpdesk"))
    assert mine.status_code == 200
    assert mine.json()["payload"]["json"]["email"] == "alice@example.com"
    other = c.get(url, headers=api.auth("helpdesk2"))
    assert other.status_code == 403
    assert "alice@example.com" not in other.text
    for role in ("specialist", "reviewer"):
        assert c.get(url, headers=api.auth(role)).status_code == 200, role


def test_helpdesk_lists_only_the_payloads_it_submitted(api: Api) -> None:
    c = api.client
    for role, message in (("helpdesk", "x"), ("helpdesk2", "y"), ("helpdesk", "z")):
        body = {"email": f"{role}@example.com", "message": message}
        assert c.post("/v1/intake/web", json=body, headers=api.auth(role)).status_code == 422
    mine = c.get("/v1/intake/rejects", headers=api.auth("helpdesk")).json()
    theirs = c.get("/v1/intake/rejects", headers=api.auth("helpdesk2")).json()
    assert len(mine) == 2 and len(theirs) == 1
    assert {r["submitted_by"] for r in mine}.isdisjoint(r["submitted_by"] for r in theirs)
    assert len(c.get("/v1/intake/rejects", headers=api.auth("reviewer")).json()) == 3
