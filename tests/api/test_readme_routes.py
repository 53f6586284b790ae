"""README's endpoint table and the OpenAPI at /docs name every route of the app, found from the
app itself, so a route added to the code cannot stay undocumented."""

from __future__ import annotations

import re
from pathlib import Path

from api_support import AppFactory

README = Path(__file__).resolve().parents[2] / "README.md"
METHODS = {"GET", "POST", "PUT", "DELETE", "PATCH"}


def _readme_endpoints() -> set[tuple[str, str]]:
    """(method, path) of every endpoint in the first cell of README's endpoint table; a cell may
    name several (`GET/PUT /v1/policy`) and later paths take the last method named
    (`GET /healthz`, `/readyz`); a query string is not part of the path. Path parameters are
    compared by position, not name."""
    found: set[tuple[str, str]] = set()
    for line in README.read_text(encoding="utf-8").splitlines():
        if not line.startswith("| `"):
            continue
        methods: list[str] = []
        for code in re.findall(r"`([^`]+)`", line.split("|")[1]):
            head, _, path = code.partition("?")[0].rpartition(" ")
            if head:
                methods = [m for m in head.split("/") if m in METHODS]
            if path.startswith("/") and methods:
                found.update((m, re.sub(r"\{\w+\}", "{}", path)) for m in methods)
    return found


def test_the_readme_table_names_every_route(make_api: AppFactory) -> None:
    spec = make_api().client.get("/openapi.json").json()
    routes = {
        (method.upper(), re.sub(r"\{\w+\}", "{}", path))
        for path, operations in spec["paths"].items()
        for method in operations
    }
    listed = _readme_endpoints()
    assert ("GET", "/v1/triage") not in listed and ("POST", "/v1/triage") in listed
    assert sorted(routes - listed) == []


def test_every_route_in_the_openapi_has_a_summary(make_api: AppFactory) -> None:
    spec = make_api().client.get("/openapi.json").json()
    unsummarised = [
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if not operation.get("summary")
    ]
    assert spec["paths"] and unsummarised == []


def test_the_readme_table_names_the_fields_of_a_review_and_a_feedback(
    make_api: AppFactory,
) -> None:
    spec = make_api().client.get("/openapi.json").json()
    rows = {
        line.split("|")[1].strip(): line
        for line in README.read_text(encoding="utf-8").splitlines()
        if line.startswith("| `")
    }
    for row, schema in (
        ("`GET /v1/review`, `POST /v1/review/{id}`", "ReviewIn"),
        ("`POST /v1/tickets/{id}/feedback`", "FeedbackIn"),
    ):
        fields = spec["components"]["schemas"][schema]["properties"]
        row_text = rows[row]
        unnamed = [n for n in fields if f"`{n}" not in row_text and f'"{n}"' not in row_text]
        assert fields and unnamed == [], (schema, unnamed)
