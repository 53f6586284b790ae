"""One place that maps the product's exception tree to HTTP answers.

    InputError (PolicyError) 422 · NotFoundError 404 · AuthError 401 · ForbiddenError 403
    ConflictError 409 · CapacityError 429 + Retry-After · UpstreamError 502
    RequestValidationError 422 naming each bad field, or the JSON Content-Type a body lacked ·
    a body that is not UTF-8 JSON, or nests deeper than the parser goes, 422 · anything else 500
    without internals

Every body is ``{"error": <kind>, "detail": <message>}``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from agent.errors import (
    AuthError,
    CapacityError,
    ConflictError,
    ForbiddenError,
    InputError,
    NotFoundError,
    TriageError,
    UpstreamError,
)
from agent.json_input import body_error

log = logging.getLogger(__name__)

# Most specific first: the first isinstance match decides.
STATUS: tuple[tuple[type[TriageError], int, str], ...] = (
    (ForbiddenError, 403, "forbidden"),
    (AuthError, 401, "unauthorized"),
    (InputError, 422, "invalid_input"),
    (NotFoundError, 404, "not_found"),
    (ConflictError, 409, "conflict"),
    (CapacityError, 429, "capacity"),
    (UpstreamError, 502, "upstream"),
)


def error_body(kind: str, detail: str, **extra: Any) -> dict[str, Any]:
    """The JSON shape of every error answer."""
    return {"error": kind, "detail": detail, **extra}


def status_of(exc: TriageError) -> tuple[int, str]:
    """HTTP status and error kind of a product exception."""
    for cls, status, kind in STATUS:
        if isinstance(exc, cls):
            return status, kind
    return 500, "internal"


def describe_validation(errors: Sequence[Any]) -> str:
    """One readable part per bad field, e.g. ``body.subject: String should have ...``."""
    lines = []
    for err in errors:
        loc = ".".join(str(p) for p in err.get("loc", ())) or "body"
        lines.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "; ".join(lines) or "invalid request"


def _count_error(request: Request, kind: str) -> None:
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.errors.labels(kind=kind).inc()


async def _triage_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TriageError)
    status, kind = status_of(exc)
    _count_error(request, kind)
    headers: dict[str, str] = {}
    if isinstance(exc, CapacityError):
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if status >= 500:
        log.warning("%s on %s %s: %s", kind, request.method, request.url.path, exc)
    return JSONResponse(error_body(kind, str(exc)), status_code=status, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    _count_error(request, "invalid_input")
    errors = [
        {
            "loc": list(e.get("loc", ())),
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ]
    detail = _not_json(request, errors) or describe_validation(errors)
    return JSONResponse(error_body("invalid_input", detail, errors=errors), status_code=422)


def _not_json(request: Request, errors: Sequence[Any]) -> str | None:
    """Why a JSON body was not read: it came as another media type (curl -d's default form).

    FastAPI reads a body as JSON only under a JSON Content-Type; otherwise the model sees the
    bytes and says "Input should be a valid dictionary", true of the bytes but no help.
    """
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not media or media == "application/json" or media.endswith("+json"):
        return None
    if not any(e["loc"] == ["body"] for e in errors):
        return None
    return f"body: send it as JSON with Content-Type: application/json (it came as {media})"


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    cause = exc.__cause__
    if exc.status_code == 400 and isinstance(cause, UnicodeDecodeError | RecursionError):
        # FastAPI's JSON body reader gave up (a generic 400): say why, like any bad payload.
        try:
            body = await request.body()  # read once already, so served from the request
        except RuntimeError:
            body = b""  # the stream is gone: the message just cannot name the field
        return await _triage_error(request, body_error(cause, body, "body"))
    kind = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
        exc.status_code, "http"
    )
    _count_error(request, kind)
    return JSONResponse(
        error_body(kind, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    _count_error(request, "internal")
    # The traceback goes to the log; the caller learns nothing about internals.
    log.error(
        "unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path, exc_info=exc
    )
    return JSONResponse(error_body("internal", "internal error"), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on the app."""
    app.add_exception_handler(TriageError, _triage_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
