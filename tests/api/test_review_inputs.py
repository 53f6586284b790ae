"""What a reviewer or a specialist sends that names no ticket is refused as such, never a 500."""

from __future__ import annotations

import pytest
from api_support import AppFactory, waiting_ticket
from fastapi.testclient import TestClient


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_ticket_id_with_a_nul_in_the_url_is_a_422_on_every_backend(
    backend: str, make_api: AppFactory, request: pytest.FixtureRequest
) -> None:
    api = make_api(request.getfixturevalue("pg_url") if backend == "postgres" else None)
    ticket_id = waiting_ticket(api)
    client = TestClient(api.app, raise_server_exceptions=False)
    asked = [
        ("post", "/v1/review/a%00b", {"team": "hardware"}, "reviewer"),
        ("post", "/v1/tickets/a%00b/feedback", {"team_correct": True}, "specialist"),
        ("get", "/v1/tickets/a%00b", None, "reviewer"),
        ("get", "/v1/tickets/a%00b/brief", None, "reviewer"),
    ]
    for method, url, body, role in asked:
        kwargs = {"json": body} if body is not None else {}
        answer = client.request(method.upper(), url, headers=api.auth(role), **kwargs)
        assert answer.status_code == 422, (url, answer.status_code, answer.text)
        assert "ticket_id" in answer.json()["detail"], answer.text
    # no key: told so first, as for any other request
    assert client.post("/v1/review/a%00b", json={"team": "hardware"}).status_code == 401
    # the ticket waiting for review is untouched and can be decided
    done = client.post(
        f"/v1/review/{ticket_id}", json={"team": "hardware"}, headers=api.auth("reviewer")
    )
    assert done.status_code == 200, done.text


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_dead_letter_or_kept_payload_number_past_the_ids_is_a_422(
    backend: str, make_api: AppFactory, request: pytest.FixtureRequest
) -> None:
    api = make_api(request.getfixturevalue("pg_url") if backend == "postgres" else None)
    client = TestClient(api.app, raise_server_exceptions=False)
    huge = 2**63
    asked = [
        ("GET", f"/v1/dead-letters/{huge}", "letter_id"),
        ("POST", f"/v1/dead-letters/{huge}/replay", "letter_id"),
        ("GET", f"/v1/intake/rejects/{huge}", "reject_id"),
        ("POST", f"/v1/intake/rejects/{huge}/release", "reject_id"),
    ]
    for method, url, name in asked:
        answer = client.request(method, url, headers=api.auth("reviewer"))
        assert answer.status_code == 422, (url, answer.status_code, answer.text)
        assert name in answer.json()["detail"], answer.text
    # one within the ids that names nothing is still simply not found
    assert (
        client.get("/v1/dead-letters/2147483647", headers=api.auth("reviewer")).status_code == 404
    )
