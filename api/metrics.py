"""Prometheus metrics of one app (its own registry, so several apps can live in one process)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.models import TriageDecision

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Requests, latencies, decisions, LLM usage and errors (the intake adds its sources')."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "triage_http_requests", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "triage_http_request_seconds",
            "HTTP latency",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.decisions = Counter(
            "triage_decisions", "Decisions by team and path", ["team", "path", "review"], registry=r
        )
        self.triage_seconds = Histogram(
            "triage_graph_seconds",
            "Time inside the triage graph",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.llm_calls = Counter("triage_llm_calls", "LLM calls", registry=r)
        self.llm_tokens = Counter("triage_llm_tokens", "LLM tokens", ["kind"], registry=r)
        self.errors = Counter(
            "triage_errors", "Error answers and failed jobs by kind", ["kind"], registry=r
        )
        self.sla_actions = Counter(
            "triage_sla_actions", "SLA protocol actions", ["action"], registry=r
        )

    def decision(self, decision: TriageDecision, seconds: float) -> None:
        """Count one decision and its LLM usage."""
        self.decisions.labels(
            team=decision.team, path=decision.decided_by, review=str(decision.needs_review).lower()
        ).inc()
        self.triage_seconds.observe(seconds)
        if decision.llm.calls:
            self.llm_calls.inc(decision.llm.calls)
            self.llm_tokens.labels(kind="prompt").inc(decision.llm.prompt_tokens)
            self.llm_tokens.labels(kind="completion").inc(decision.llm.completion_tokens)

    def render(self) -> bytes:
        """The exposition text."""
        return generate_latest(self.registry)


HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Methods counted by name; any other is counted as "other"."""


class MetricsMiddleware:
    """Counts requests by route template (not raw path, so ids do not explode the labels)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "GET")
            # Any token is a method to the server: made-up ones, sent without a key, would each
            # be a series kept for the life of the process.
            method = method if method in HTTP_METHODS else "other"
            self.metrics.requests.labels(method=method, route=template, status=str(status)).inc()
            self.metrics.latency.labels(method=method, route=template).observe(
                time.perf_counter() - started
            )
