"""Liveness, readiness (each dependency named) and Prometheus metrics; open without a key."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from api.deps import Services, ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict[str, str]:
    """Always 200 while the process serves requests."""
    return {"status": "ok"}


@router.get("/readyz", summary="Dependencies, each named")
def readyz(services: ServicesDep, request: Request) -> JSONResponse:
    """503 when a required dependency (store, knowledge base, intake queue) is not ready."""
    checks = {
        "store": _check_store(services),
        "knowledge_base": _check_kb(services),
        "llm": _check_llm(services),
        "helpdesk": _check_helpdesk(request),
        "intake": _check_intake(services, request),
    }
    ready = all(c["ok"] for c in checks.values() if c["required"])
    body = {"ready": ready, "checks": checks, "sources": _sources(request)}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics")
def metrics(services: ServicesDep) -> Response:
    """Requests, latencies, decisions by team and path, LLM use, intake sources, errors."""
    return Response(services.metrics.render(), media_type=CONTENT_TYPE_LATEST)


def _failed(exc: Exception, required: bool = True) -> dict[str, Any]:
    return {"ok": False, "required": required, "detail": f"{type(exc).__name__}: {str(exc)[:200]}"}


def _check_helpdesk(request: Request) -> dict[str, Any]:
    connector = getattr(request.app.state, "helpdesk", None)
    if connector is None:
        return {"ok": True, "required": False, "detail": "not configured"}
    readiness: dict[str, Any] = connector.readiness()
    return readiness


def _check_store(services: Services) -> dict[str, Any]:
    try:
        services.db.ping()
    except Exception as exc:
        return _failed(exc)
    return {"ok": True, "required": True, "detail": services.db.redacted_url.split("://")[0]}


def _check_kb(services: Services) -> dict[str, Any]:
    kb = getattr(services.engine.triager, "kb", None)
    store = getattr(kb, "store", None)
    if store is None:
        return {"ok": True, "required": True, "detail": "no case store (test engine)"}
    try:
        count = store.count()
    except Exception as exc:
        return _failed(exc)
    return {"ok": True, "required": True, "detail": f"{count} cases"}


def _check_intake(services: Services, request: Request) -> dict[str, Any]:
    intake = getattr(request.app.state, "intake", None)
    if intake is None:
        return {"ok": True, "required": False, "detail": "not installed"}
    try:
        depth = intake.queue.depth()
        states = intake.health.snapshot()
        failing = [s.source for s in states if s.failing]
        dead = intake.dead_letters.open_count()
        stuck = intake.stuck_s(states)
        hung = intake.workers.stuck()
    except Exception as exc:
        return _failed(exc)
    size = intake.options.intake_queue_size
    running = intake.workers.alive or not intake.options.intake_workers
    running = running or not services.options.start_background
    detail = f"{intake.options.intake_queue} queue {depth}/{size}, {dead} dead letters"
    if failing:
        detail += f"; failing sources: {', '.join(failing)}"
    if stuck is not None:
        # Workers in another process (or hung ones) that nobody sees from here.
        detail += f"; no worker took a due ticket for {stuck:.0f} s"
    if hung:
        limit = intake.options.intake_max_run_s
        runs = ", ".join(f"{r.ticket_id} for {r.running_s:.0f} s" for r in hung)
        detail += f"; runs stuck past TRIAGE_INTAKE_MAX_RUN_S ({limit:g} s), given up: {runs}"
    # A failing source is reported, not fatal: the others still flow. So does a stuck run
    # another thread stands in for; one nobody stands in for holds a worker the queue lacks.
    return {
        "ok": running and depth < size and stuck is None and all(r.stood_in for r in hung),
        "required": True,
        "detail": detail,
        "failing_sources": failing,
        "stuck_runs": [
            {"ticket_id": r.ticket_id, "running_s": round(r.running_s, 1), "stood_in": r.stood_in}
            for r in hung
        ],
    }


def _sources(request: Request) -> list[dict[str, Any]]:
    intake = getattr(request.app.state, "intake", None)
    if intake is None:
        return []
    try:
        return [s.model_dump(mode="json") for s in intake.health.snapshot()]
    except Exception as exc:
        return [{"error": f"{type(exc).__name__}: {str(exc)[:200]}"}]


def _check_llm(services: Services) -> dict[str, Any]:
    settings = services.settings
    if not settings.llm_configured:
        return {"ok": True, "required": False, "detail": "not configured (learned router only)"}
    if not settings.llm_base_url:
        return {
            "ok": True,
            "required": False,
            "detail": "configured (default endpoint, not probed)",
        }
    try:
        # Any HTTP answer means reachable; no key is sent, so a 401 is fine.
        httpx.get(settings.llm_base_url.rstrip("/") + "/models", timeout=2.0)
    except httpx.HTTPError as exc:
        return _failed(exc, required=False)
    return {"ok": True, "required": False, "detail": f"reachable ({settings.llm_model})"}
