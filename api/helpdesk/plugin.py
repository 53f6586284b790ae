"""Wire the helpdesk connector into the app: ``install(app, settings)``.

Registers the outbox listener (app.state.decision_listeners), the event handler
(app.state.helpdesk_handlers["rt"]), the enricher (app.state.helpdesk_enrich and
``api.helpdesk.enrich``), and starts/stops the delivery, back-flow and catch-up threads with the
app (catch-up: RT transactions the webhook missed, fed through the webhook's path).
``install_worker(services)`` connects a worker process without an app: its decisions get outbox
rows and its tickets are enriched, while delivery, back-flow and catch-up stay with the API process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

import api.helpdesk as package
from agent.settings import Settings
from api.deps import Services
from api.helpdesk.accounts import load_accounts
from api.helpdesk.backflow import BackflowWorker
from api.helpdesk.base import Helpdesk, HelpdeskError
from api.helpdesk.catchup import CatchUp
from api.helpdesk.delivery import DeliveryLoop
from api.helpdesk.event_log import EventLog, RTEventHandler
from api.helpdesk.history import Enricher
from api.helpdesk.listener import OutboxListener
from api.helpdesk.open_state import Resubmit
from api.helpdesk.options import HelpdeskOptions
from api.helpdesk.outbox import Outbox
from api.helpdesk.rt import RTHelpdesk
from api.helpdesk.rt_events import RTEventReader
from api.intake.events import HelpdeskWebhook
from api.intake.setup import Intake

log = logging.getLogger(__name__)


@dataclass
class Connector:
    """Everything the plugin built, kept on app.state.helpdesk for tests and health checks."""

    helpdesk: Helpdesk
    outbox: Outbox
    listener: OutboxListener
    delivery: DeliveryLoop
    backflow: BackflowWorker
    handler: RTEventHandler
    enricher: Enricher
    catchup: CatchUp | None = None

    def readiness(self) -> dict[str, Any]:
        """The /readyz entry: reachable or not, and the outbox backlog (not required)."""
        backlog = f"{self.outbox.pending_count()} pending"
        if self.catchup is not None:
            backlog = f"{backlog}; {self.catchup.readiness()}"
        try:
            version = self.helpdesk.ping()
        except HelpdeskError as exc:
            return {"ok": False, "required": False, "detail": f"{exc}; {backlog}"}
        return {"ok": True, "required": False, "detail": f"{version}; {backlog}"}


def build_connector(
    services: Services,
    helpdesk: Helpdesk,
    options: HelpdeskOptions,
    webhook: HelpdeskWebhook | None = None,
    resubmit: Resubmit | None = None,
) -> Connector:
    """The connector's parts over the service's database, on any Helpdesk implementation.

    The catch-up needs RT's REST2 and the webhook to feed: without either there is none. A
    failed ticket the helpdesk opens again is tried again through ``resubmit`` (the intake's).
    """
    wake = threading.Event()
    outbox = Outbox(services.db)
    listener = OutboxListener(outbox, lambda: services.engine.policy, "rt", wake)
    delivery = DeliveryLoop(
        outbox,
        helpdesk,
        base_s=options.helpdesk_retry_base_s,
        cap_s=options.helpdesk_retry_cap_s,
        poll_s=options.helpdesk_poll_s,
        wake=wake,
        closed=options.helpdesk_closed_statuses,
    )
    closed = options.helpdesk_closed_statuses
    backflow = BackflowWorker(
        services, helpdesk, "rt", options.helpdesk_poll_s, resubmit=resubmit, closed=closed
    )
    handler = RTEventHandler(EventLog(services.db, closed), backflow.wake)
    accounts = load_accounts(options.helpdesk_accounts_file)
    enricher = Enricher(
        helpdesk,
        accounts,
        "rt:",
        options.helpdesk_history_limit,
        owned=outbox.from_webhook,
        closed=closed,
    )
    catchup = None
    if isinstance(helpdesk, RTHelpdesk) and webhook is not None:
        reader = RTEventReader(helpdesk)
        catchup = CatchUp(services.db, reader, webhook, poll_s=options.helpdesk_catchup_s)
    return Connector(helpdesk, outbox, listener, delivery, backflow, handler, enricher, catchup)


def _rt(options: HelpdeskOptions) -> Helpdesk:
    assert options.helpdesk_url and options.helpdesk_token  # checked by the caller
    return RTHelpdesk(
        options.helpdesk_url,
        options.helpdesk_token.get_secret_value(),
        timeout_s=options.helpdesk_timeout_s,
        bot_user=options.helpdesk_bot_user,
    )


def _connect(
    services: Services,
    settings: Settings,
    options: HelpdeskOptions | None,
    helpdesk: Helpdesk | None,
    intake: Intake | None = None,
) -> Connector | None:
    """The connector over the service, enriching its tickets; None when none is configured.
    With the intake, it also catches up on the RT transactions its webhook missed, and tries
    again a failed ticket RT opens again."""
    options = options or HelpdeskOptions.from_settings(settings)
    if helpdesk is None:
        if not options.configured:
            log.info("no helpdesk configured (helpdesk_url/helpdesk_token): connector off")
            return None
        helpdesk = _rt(options)
    webhook, resubmit = (intake.webhook, intake.resubmitted) if intake else (None, None)
    connector = build_connector(services, helpdesk, options, webhook, resubmit)
    # Queued tickets are enriched by the worker before triage, never inside the webhook call.
    services.service.enrichers.append(connector.enricher.enrich)
    package.use(connector.enricher.enrich)
    return connector


def install_worker(
    services: Services, options: HelpdeskOptions | None = None, helpdesk: Helpdesk | None = None
) -> Connector | None:
    """Connect a worker process: outbox rows for its decisions and enriched tickets.

    Delivery, back-flow and catch-up are left to the API process, whose loops poll the shared
    database and apply the rows written here; this process has no app to start and stop them
    with. A second delivery or back-flow loop would be safe: each outbox row and helpdesk event is
    claimed before it is applied (``lease.claim``), so processes on one database never apply one
    twice.
    """
    connector = _connect(services, services.settings, options, helpdesk)
    if connector is None:
        return None
    services.service.listeners.append(connector.listener)
    connector.listener.sweep(services.db)
    return connector


def install(
    app: FastAPI,
    settings: Settings,
    options: HelpdeskOptions | None = None,
    helpdesk: Helpdesk | None = None,
) -> Connector | None:
    """Connect the app to the helpdesk; a no-op (None) when no helpdesk is configured."""
    services: Services = app.state.services
    intake = getattr(app.state, "intake", None)
    connector = _connect(services, settings, options, helpdesk, intake)
    if connector is None:
        return None
    if not hasattr(app.state, "decision_listeners"):
        app.state.decision_listeners = []
    if not hasattr(app.state, "helpdesk_handlers"):
        app.state.helpdesk_handlers = {}
    app.state.decision_listeners.append(connector.listener)
    app.state.helpdesk_handlers["rt"] = connector.handler
    app.state.helpdesk_enrich = connector.enricher.enrich
    app.state.helpdesk = connector
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(the_app: FastAPI) -> AsyncIterator[Any]:
        async with inner(the_app) as state:
            if services.options.start_background:
                connector.listener.sweep(services.db)
                connector.delivery.start()
                connector.backflow.start()
                if connector.catchup is not None:
                    connector.catchup.start()  # its first pass runs at once
            try:
                yield state
            finally:
                connector.delivery.stop()
                connector.backflow.stop()
                if connector.catchup is not None:
                    connector.catchup.stop()
                package.use(None)

    app.router.lifespan_context = lifespan
    log.info(
        "helpdesk connector on: %s",
        getattr(connector.helpdesk, "base_url", connector.helpdesk.name),
    )
    return connector
