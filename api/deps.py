"""Dependencies of the handlers, as ``Annotated`` aliases: the services and the caller by role."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path, Request, Response, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer

from agent.settings import Settings
from api.auth import Principal, Role, authenticate
from api.corrections import ReviewLearning
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
    learning: ReviewLearning


def get_services(request: Request) -> Services:
    """The app's services."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
# A ticket named in the URL: no NUL, which no ticket id has (agent.models.Ticket) and PostgreSQL
# cannot even compare (the lookup failed with a 500 there, a 404 on SQLite).
TicketId = Annotated[str, Path(pattern=r"^[^\x00]+$", description="The ticket's id")]
# A stored row named by its number (a dead letter, a kept payload): the ids are 32-bit integers,
# and PostgreSQL failed a lookup of a larger one with a 500.
RowId = Annotated[int, Path(le=2_147_483_647, description="The row's id")]


def get_caller(
    request: Request, services: ServicesDep, _scheme: object = Security(bearer)
) -> Principal:
    """The authenticated caller (401 without a valid key); once per request."""
    known: Principal | None = getattr(request.state, "caller", None)
    if known is None:
        known = authenticate(services.db, request.headers.get("authorization"))
        request.state.caller = known
    return known


Caller = Annotated[Principal, Depends(get_caller)]


class RoleCheck:
    """A dependency that lets only these roles (and admin) through (403 otherwise)."""

    def __init__(self, roles: tuple[Role, ...]) -> None:
        self.roles = roles

    def __call__(self, caller: Caller) -> Principal:
        caller.require(*self.roles)
        return caller

    def admit(self, request: Request) -> None:
        """The same check straight on a request, outside FastAPI's dependency solving."""
        self(get_caller(request, get_services(request)))


def needs(*roles: Role) -> RoleCheck:
    """A dependency that lets only these roles (and admin) through (403 otherwise)."""
    return RoleCheck(roles)


class KeyFirstRoute(APIRoute):
    """A route that checks the caller's key and role before FastAPI reads the body.

    FastAPI parses a JSON body before it solves any dependency: without this a request with no
    key but a broken body would be answered 422 about its body, read for anyone, not 401.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        check = _role_check(self.dependant)
        if check is None:
            return handler

        async def key_first(request: Request) -> Response:
            await run_in_threadpool(check.admit, request)
            return await handler(request)

        return key_first


def _role_check(dependant: Dependant) -> RoleCheck | None:
    """The route's role check, wherever it sits among its dependencies."""
    for sub in dependant.dependencies:
        if isinstance(sub.call, RoleCheck):
            return sub.call
        found = _role_check(sub)
        if found is not None:
            return found
    return None


Intake = Annotated[Principal, Depends(needs("helpdesk"))]
Reader = Annotated[Principal, Depends(needs("helpdesk", "specialist", "reviewer"))]
Specialist = Annotated[Principal, Depends(needs("specialist", "reviewer"))]
Reviewer = Annotated[Principal, Depends(needs("reviewer"))]
Admin = Annotated[Principal, Depends(needs())]


def ensure_can_read(services: Services, caller: Principal, ticket_id: str) -> None:
    """Helpdesk keys read only the tickets they submitted; other roles read all."""
    if caller.submitter_scope is not None:
        caller.require_submitter(services.store.owner(ticket_id), "tickets")
