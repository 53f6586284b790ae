"""Dependencies of the handlers, as ``Annotated`` aliases: the services and the caller by role."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPBearer

from agent.settings import Settings
from api.auth import Principal, Role, authenticate
from api.db import Database
from api.dryrun import Fork
from api.engine import LockedEngine
from api.ledger import Ledger
from api.loads import DbLoads
from api.metrics import Metrics
from api.options import ServiceOptions
from api.policies import PolicyStore
from api.refit import Refitter
from api.service import TriageService
from api.sla import SlaWatch
from api.store import TicketStore

# Declares the scheme in OpenAPI; the header itself is checked by authenticate().
bearer = HTTPBearer(
    auto_error=False, description="Authorization: Bearer KEY (see `triage keys create`)"
)


@dataclass
class Services:
    """Everything the handlers use, built once per app."""

    settings: Settings
    options: ServiceOptions
    db: Database
    store: TicketStore
    ledger: Ledger
    policies: PolicyStore
    engine: LockedEngine
    service: TriageService
    sla: SlaWatch
    loads: DbLoads
    metrics: Metrics
    fork: Fork
    refitter: Refitter


def get_services(request: Request) -> Services:
    """The app's services."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_caller(
    request: Request, services: ServicesDep, _scheme: object = Security(bearer)
) -> Principal:
    """The authenticated caller (401 without a valid key)."""
    return authenticate(services.db, request.headers.get("authorization"))


Caller = Annotated[Principal, Depends(get_caller)]


def needs(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency that lets only these roles (and admin) through (403 otherwise)."""

    def check(caller: Caller) -> Principal:
        caller.require(*roles)
        return caller

    return check


Intake = Annotated[Principal, Depends(needs("helpdesk"))]
Reader = Annotated[Principal, Depends(needs("helpdesk", "specialist", "reviewer"))]
Specialist = Annotated[Principal, Depends(needs("specialist", "reviewer"))]
Reviewer = Annotated[Principal, Depends(needs("reviewer"))]
Admin = Annotated[Principal, Depends(needs())]


def ensure_can_read(services: Services, caller: Principal, ticket_id: str) -> None:
    """Helpdesk keys read only the tickets they submitted; other roles read all."""
    if caller.submitter_scope is not None:
        caller.require_submitter(services.store.owner(ticket_id), "tickets")
