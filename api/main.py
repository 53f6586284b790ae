"""Build the FastAPI app: store, migrations, the agent, intake, SLA watch, routers, middleware."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import yaml
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from agent import __version__
from agent.config_yaml import read_text
from agent.errors import PolicyError
from agent.policy import Policy
from agent.settings import Settings
from api import heartbeat
from api.adoption import Adoption
from api.corrections import ReviewLearning
from api.db import Database
from api.deps import Services
from api.dryrun import Fork
from api.engine import LockedEngine, TriageEngine, fork_triager
from api.errors import install_error_handlers
from api.hooks import HelpdeskEventHandler
from api.intake.options import IntakeOptions
from api.intake.setup import build_intake
from api.learned import LearnedFollower
from api.ledger import Ledger
from api.loads import DbLoads
from api.metrics import Metrics, MetricsMiddleware
from api.middleware import BodyLimitMiddleware
from api.options import ServiceOptions
from api.policies import PolicyStore
from api.refit import Refitter, SavedRouterFollower
from api.routers import (
    dead_letters,
    feedback,
    health,
    intake,
    knowledge,
    kpis,
    policy,
    review,
    sla,
    tickets,
    triage,
)
from api.service import TriageService
from api.sla import SlaWatch
from api.store import TicketStore


def build_services(
    settings: Settings,
    triager: TriageEngine | None = None,
    options: ServiceOptions | None = None,
    fork: Fork | None = None,
) -> Services:
    """Open the store (migrated), activate the stored policy, wire the agent and the SLA watch."""
    options = options or ServiceOptions.from_settings(settings)
    db = Database(settings.sqlalchemy_url)
    db.migrate()
    policies = PolicyStore(db)
    loads = DbLoads(db)
    if triager is None:
        from agent.triager import Triager

        text = read_text(settings.policy_path, "policy", PolicyError)
        _, policy = policies.bootstrap(text, str(settings.policy_path))
        triager = Triager.from_settings(settings, policy=policy)
    else:
        text = yaml.safe_dump(
            triager.policy.model_dump(mode="json"), sort_keys=False, allow_unicode=True
        )
        _, policy = policies.bootstrap(text, "the given triager's policy")
    if hasattr(triager, "loads"):
        # Assignments must count the open tickets in the database, not a per-process dict.
        triager.loads = loads
    triager.set_policy(policy)
    engine = LockedEngine(triager)
    metrics = Metrics()
    store, ledger = TicketStore(db), Ledger(db)
    learned = LearnedFollower(db)
    routers = SavedRouterFollower()

    def follow_policy() -> None:
        policies.follow(engine, options.policy_check_s)
        learned.follow(engine, options.policy_check_s)
        routers.follow(engine, options.policy_check_s)

    def current_policy() -> Policy:
        follow_policy()
        return engine.policy

    service = TriageService(
        store,
        ledger,
        engine,
        metrics,
        loads=loads,
        replay_wait_s=options.replay_wait_s,
        alive_every_s=heartbeat.every_s(options.adopt_after_s),
        follow_policy=follow_policy,
    )
    watch = SlaWatch(
        db,
        current_policy,
        metrics,
        interval_s=options.sla_check_interval_s,
        warn_fraction=options.sla_warn_fraction,
        webhook_timeout_s=options.webhook_timeout_s,
        claim_stale_after_s=service.claims.stale_after_s,
    )
    return Services(
        settings=settings,
        options=options,
        db=db,
        store=store,
        ledger=ledger,
        policies=policies,
        engine=engine,
        service=service,
        sla=watch,
        loads=loads,
        metrics=metrics,
        fork=fork or fork_triager,
        refitter=Refitter(engine, metrics, options.refit_check_s),
        # a reviewed decision left unlearned is one of an abandoned review: looked for as often
        learning=ReviewLearning(service.corrections, options.adopt_after_s),
    )


def settle_heap() -> None:
    """Collect once, then leave the objects made at startup out of later collections.

    A full collection walks every tracked object (~300k after startup: modules, policy,
    models), ~200 ms on 2 cores during which no request or worker runs; an urgent ticket
    caught behind one waited that long. Frozen objects are still freed by reference counting.
    """
    gc.collect()
    gc.freeze()


def create_app(
    settings: Settings,
    triager: TriageEngine | None = None,
    options: ServiceOptions | None = None,
    fork: Fork | None = None,
    intake_options: IntakeOptions | None = None,
) -> FastAPI:
    """The service; ``triager`` defaults to the embedded agent built from the settings."""
    services = build_services(settings, triager, options, fork)
    handlers: dict[str, HelpdeskEventHandler] = {}
    entry = build_intake(services, intake_options, handlers)
    adoption = Adoption(services.store, entry, services.options.adopt_after_s)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if services.options.start_background:
            adoption.start()
            services.sla.start()
            services.refitter.start()
            services.learning.start()
            entry.start()
            services.db.start_checkpoints()
            settle_heap()
        try:
            yield
        finally:
            adoption.stop()
            entry.stop()
            services.refitter.stop()
            services.learning.stop()
            services.sla.stop()
            services.db.stop_checkpoints()
            gc.unfreeze()

    app = FastAPI(
        title="Escalation triage agent",
        version=__version__,
        description="Routes helpdesk tickets to first line or the right specialist, with reasons.",
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.metrics = services.metrics
    app.state.intake = entry
    app.state.adoption = adoption
    # Extension points of api/hooks.py: plugins append listeners and register handlers here.
    app.state.decision_listeners = services.service.listeners
    # The decision-time protocol: priorities that say notify_oncall page at once.
    services.service.listeners.append(services.sla)
    app.state.helpdesk_handlers = handlers
    if settings.helpdesk_url:
        from api.helpdesk.plugin import install as install_helpdesk

        install_helpdesk(app, settings)
    install_error_handlers(app)
    modules = (
        triage,
        tickets,
        review,
        feedback,
        knowledge,
        kpis,
        policy,
        sla,
        intake,
        dead_letters,
        health,
    )
    for module in modules:
        app.include_router(module.router)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        )
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        path_limits={"/v1/intake/email": settings.email_max_body_bytes},
    )
    app.add_middleware(MetricsMiddleware, metrics=services.metrics)
    return app
