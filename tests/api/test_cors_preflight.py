"""With a CORS allow-list, a browser on a listed origin may call every route the API has."""

from __future__ import annotations

import pytest
from api_support import AppFactory

ORIGIN = "https://desk.example.com"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/review"),
        ("POST", "/v1/triage"),
        ("PUT", "/v1/policy"),
        ("DELETE", "/v1/dead-letters/1"),
    ],
)
def test_a_listed_origin_may_send_each_method_the_api_has(
    make_api: AppFactory, monkeypatch: pytest.MonkeyPatch, method: str, path: str
) -> None:
    monkeypatch.setenv("TRIAGE_CORS_ORIGINS", f'["{ORIGIN}"]')
    api = make_api()
    asked = {"Origin": ORIGIN, "Access-Control-Request-Method": method}
    preflight = api.client.options(path, headers=asked)
    assert preflight.status_code == 200, preflight.text
    assert method in preflight.headers["access-control-allow-methods"]
    elsewhere = api.client.options(path, headers={**asked, "Origin": "https://evil.example"})
    assert elsewhere.status_code == 400
    assert "access-control-allow-origin" not in elsewhere.headers
