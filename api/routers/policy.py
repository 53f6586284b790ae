"""The routing policy for admins: read, replace (validate, version, activate), dry-run."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from agent.policy import loads_policy
from api.deps import Admin, KeyFirstRoute, Services, ServicesDep
from api.dryrun import dry_run
from api.schemas import DryRunIn, DryRunOut, PolicyIn, PolicyVersionView

router = APIRouter(prefix="/v1", tags=["policy"], route_class=KeyFirstRoute)

SOURCE = "policy"


@router.get(
    "/policy", response_model=PolicyVersionView, summary="The active policy (or one version)"
)
def get_policy(
    caller: Admin, services: ServicesDep, version: Annotated[int | None, Query(ge=1)] = None
) -> PolicyVersionView:
    """The active version with its YAML, or the version asked for."""
    if version is not None:
        return _live(services.policies.get(version), services)
    found = services.policies.active()
    assert found is not None, "the policy is bootstrapped at start"
    return _live(found[0], services)


@router.get(
    "/policy/versions", response_model=list[PolicyVersionView], summary="Every policy version"
)
def versions(caller: Admin, services: ServicesDep) -> list[PolicyVersionView]:
    """Newest first, without the YAML."""
    return [_live(v, services) for v in services.policies.versions()]


def _live(view: PolicyVersionView, services: Services) -> PolicyVersionView:
    """Say whether the running service routes with that version."""
    services.service.follow_policy()
    running = services.engine.policy.fingerprint
    return view.model_copy(update={"live": view.fingerprint == running})


@router.put("/policy", response_model=PolicyVersionView, summary="Validate, version and activate")
def put_policy(body: PolicyIn, caller: Admin, services: ServicesDep) -> PolicyVersionView:
    """422 naming the path of the first problem; otherwise the new active version."""
    view = services.policies.activate(body.yaml, caller.name, SOURCE, services.engine)
    # a team gone from the policy leaves its open tickets with it: say which
    dropped = services.store.open_outside(services.engine.policy.team_names)
    return _live(view, services).model_copy(update={"open_tickets_of_dropped_teams": dropped})


@router.post(
    "/policy/dry-run", response_model=DryRunOut, summary="What a candidate policy would change"
)
def policy_dry_run(body: DryRunIn, caller: Admin, services: ServicesDep) -> DryRunOut:
    """Replay the last N stored tickets through the candidate; list the decisions it changes."""
    candidate = loads_policy(body.yaml, SOURCE)
    services.service.follow_policy()  # compared with the active version, wherever activated
    return dry_run(services.engine, services.store, candidate, body.last, services.fork)
