"""Every route of the app, found from the app itself: each is open by name or admits exactly the
roles written here (README's table), answering 401 without a key and 403 to every other role."""

from __future__ import annotations

import re

import pytest
from api_support import Api, AppFactory
from fastapi.routing import APIRoute

ROLES = ("helpdesk", "specialist", "reviewer", "admin")
HELPDESK, READER = {"helpdesk", "admin"}, {"helpdesk", "specialist", "reviewer", "admin"}
SPECIALIST, REVIEWER, ADMIN = {"specialist", "reviewer", "admin"}, {"reviewer", "admin"}, {"admin"}
# Open on purpose: probes, and the webhook, which its HMAC signature guards instead of a key.
OPEN = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("POST", "/v1/intake/helpdesk"),
}
ADMITTED: dict[tuple[str, str], set[str]] = {
    ("POST", "/v1/triage"): HELPDESK,
    ("POST", "/v1/tickets"): HELPDESK,
    ("GET", "/v1/tickets/{ticket_id}"): READER,
    ("GET", "/v1/tickets/{ticket_id}/brief"): READER,
    ("GET", "/v1/review"): REVIEWER,
    ("POST", "/v1/review/{ticket_id}"): REVIEWER,
    ("POST", "/v1/tickets/{ticket_id}/feedback"): SPECIALIST,
    ("GET", "/v1/kb/router"): ADMIN,
    ("POST", "/v1/kb/refit"): ADMIN,
    ("GET", "/v1/kpis"): SPECIALIST,
    ("GET", "/v1/policy"): ADMIN,
    ("GET", "/v1/policy/versions"): ADMIN,
    ("PUT", "/v1/policy"): ADMIN,
    ("POST", "/v1/policy/dry-run"): ADMIN,
    ("GET", "/v1/sla/at-risk"): SPECIALIST,
    ("POST", "/v1/intake/{channel}"): HELPDESK,
    ("GET", "/v1/intake/rejects"): READER,
    ("GET", "/v1/intake/rejects/{reject_id}"): READER,
    ("POST", "/v1/intake/rejects/{reject_id}/release"): REVIEWER,
    ("GET", "/v1/dead-letters"): REVIEWER,
    ("GET", "/v1/dead-letters/{letter_id}"): REVIEWER,
    ("POST", "/v1/dead-letters/{letter_id}/replay"): REVIEWER,
    ("DELETE", "/v1/dead-letters/{letter_id}"): REVIEWER,
}


def _routes(api: Api) -> set[tuple[str, str]]:
    """(method, path) of every API route, through included routers on any FastAPI version."""
    found: set[tuple[str, str]] = set()

    def walk(routes: list[object], prefix: str) -> None:
        for route in routes:
            if isinstance(route, APIRoute):
                found.update((m, prefix + route.path) for m in route.methods)
            elif hasattr(route, "original_router"):
                walk(route.original_router.routes, prefix + route.include_context.prefix)

    walk(list(api.app.routes), "")
    return found


def _concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: "1" if m.group(1).endswith("_id") else "x", path)


def test_every_route_is_open_by_name_or_admits_only_its_roles(make_api: AppFactory) -> None:
    api = make_api()
    routes = _routes(api)
    unlisted = routes - OPEN - set(ADMITTED)
    assert not unlisted, f"routes with no role written here: {sorted(unlisted)}"
    assert routes >= set(ADMITTED) | OPEN
    for (method, path), admitted in ADMITTED.items():
        url = _concrete(path)
        missing = api.client.request(method, url, json={})
        assert missing.status_code == 401, (method, path, missing.status_code)
        for role in ROLES:
            answer = api.client.request(method, url, json={}, headers=api.auth(role))
            if role in admitted:
                assert answer.status_code not in (401, 403), (method, path, role, answer.text)
            else:
                assert answer.status_code == 403, (method, path, role, answer.status_code)


@pytest.mark.parametrize("headers", [{}, {"X-Triage-Timestamp": "1", "X-Triage-Signature": "x"}])
def test_the_webhook_refuses_unsigned_and_badly_signed_bodies(
    make_api: AppFactory, headers: dict[str, str]
) -> None:
    api = make_api()
    answer = api.client.post("/v1/intake/helpdesk", content=b"{}", headers=headers)
    assert answer.status_code == 401


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b"[" * 5_000])
def test_the_key_is_checked_before_the_body_is_read(make_api: AppFactory, body: bytes) -> None:
    api = make_api()
    json_type = {"Content-Type": "application/json"}
    for (method, path), admitted in ADMITTED.items():
        url = _concrete(path)
        missing = api.client.request(method, url, content=body, headers=json_type)
        assert missing.status_code == 401, (method, path, missing.status_code, missing.text)
        for role in set(ROLES) - admitted:
            wrong = api.client.request(
                method, url, content=body, headers={**json_type, **api.auth(role)}
            )
            assert wrong.status_code == 403, (method, path, role, wrong.status_code)
