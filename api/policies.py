"""Policy versions in the database: validate, version, activate; and dry-runs of a candidate."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from agent.errors import ConflictError, InputError, NotFoundError, PolicyError
from agent.policy import Policy, load_policy, loads_policy
from api.db import Database
from api.engine import LockedEngine
from api.schemas import PolicyVersionView
from api.tables import PolicyRow, utcnow

log = logging.getLogger(__name__)


class PolicyStore:
    """Versioned policies; exactly one active."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # One activation at a time: two at once both took the next version number (one failed
        # with a database error) and the engine could end up routing with the one not stored
        # as active.
        self._activating = threading.Lock()
        self._followed_at = float("-inf")
        self._refused: str | None = None

    def active(self) -> tuple[PolicyVersionView, Policy] | None:
        """The active version and its parsed policy, or None before the first one."""
        with self.db.session() as session:
            row = session.scalars(select(PolicyRow).where(PolicyRow.active.is_(True))).first()
            if row is None:
                return None
            try:
                policy = loads_policy(row.yaml_text, f"policy v{row.version}")
            except PolicyError as exc:
                # A version stored before a newer release tightened validation.
                raise PolicyError(
                    f"the active policy, version {row.version} in the database, does not "
                    f"validate:\n{exc}\nfix the file and activate it with "
                    "`triage policy activate FILE`"
                ) from None
            return _view(row, with_yaml=True), policy

    def bootstrap(self, path_text: str, source: str) -> tuple[PolicyVersionView, Policy]:
        """The active policy; on first start, the policy file becomes version 1.

        Later edits to the file do not apply by themselves (the stored version may be newer,
        from PUT /v1/policy); a file that says something else is named, so an edit followed by
        a restart is not taken silently for a change.
        """
        found = self.active()
        if found is None:
            return self.save(path_text, f"file:{source}", source)
        view, policy = found
        if view.fingerprint != policy.fingerprint:
            view = self._refingerprint(view, policy)
        try:
            differs = loads_policy(path_text, source).fingerprint != policy.fingerprint
        except PolicyError:
            differs = True
        if differs:
            log.warning(
                "%s differs from the active policy, version %d (%s), which the service routes "
                "with; to route with the file: triage policy activate %s (or PUT /v1/policy)",
                source,
                view.version,
                view.created_by,
                source,
            )
        return view, policy

    def _refingerprint(self, view: PolicyVersionView, policy: Policy) -> PolicyVersionView:
        """Store the fingerprint this release reads the active version's YAML to.

        A release that adds a field with a default hashes the same YAML differently: the stored
        fingerprint would never equal the running policy's, so the version would show
        ``live: false`` for good and every process would take it up again every few seconds.
        """
        with self.db.session() as session:
            session.execute(
                update(PolicyRow)
                .where(PolicyRow.version == view.version)
                .values(fingerprint=policy.fingerprint)
            )
        log.info(
            "policy version %d reads to fingerprint %s in this release (stored: %s)",
            view.version,
            policy.fingerprint,
            view.fingerprint,
        )
        return view.model_copy(update={"fingerprint": policy.fingerprint})

    def activate(
        self, yaml_text: str, author: str, source: str, engine: LockedEngine
    ) -> PolicyVersionView:
        """Validate, route with it and store it as the active version; the engine keeps its
        policy when it is refused (the engine may refuse it too, e.g. the LLM prompt budget)."""
        candidate = loads_policy(yaml_text, source)
        with self._activating:
            previous = engine.policy
            engine.set_policy(candidate)
            try:
                view, _ = self._store(yaml_text, candidate, author)
            except Exception:
                engine.set_policy(previous)  # the store refused it: keep serving the old one
                raise
            return view

    def follow(self, engine: LockedEngine, every_s: float) -> None:
        """Route with the active stored version when another process activated it (a PUT to
        another API process, or triage policy activate); looks at most every ``every_s``."""
        with self._activating:
            now = time.monotonic()
            if now - self._followed_at < every_s:
                return
            self._followed_at = now
            with self.db.session() as session:
                active = session.scalar(
                    select(PolicyRow.fingerprint).where(PolicyRow.active.is_(True))
                )
            if active is None or active in (engine.policy.fingerprint, self._refused):
                return
            try:
                found = self.active()
                if found is not None:
                    engine.set_policy(found[1])
            except InputError as exc:
                # this process keeps routing with the policy it has; GET /v1/policy says so
                self._refused = active  # said once, not every few seconds
                log.warning("the active policy was not taken up here: %s", exc)

    def save(
        self, yaml_text: str, author: str, source: str = "request"
    ) -> tuple[PolicyVersionView, Policy]:
        """Validate (PolicyError names the path), store as the next version and make it active."""
        return self._store(yaml_text, loads_policy(yaml_text, source), author)

    def _store(
        self, yaml_text: str, policy: Policy, author: str
    ) -> tuple[PolicyVersionView, Policy]:
        try:
            return self._insert(yaml_text, policy, author)
        except IntegrityError:
            # another process stored a version at the same moment: it took the number
            raise ConflictError(
                "another policy version was stored at the same time; retry"
            ) from None

    def _insert(
        self, yaml_text: str, policy: Policy, author: str
    ) -> tuple[PolicyVersionView, Policy]:
        with self.db.session() as session:
            latest = session.scalar(select(func.max(PolicyRow.version))) or 0
            session.execute(
                update(PolicyRow).where(PolicyRow.active.is_(True)).values(active=False)
            )
            row = PolicyRow(
                version=latest + 1,
                yaml_text=yaml_text,
                fingerprint=policy.fingerprint,
                active=True,
                created_by=author,
                created_at=utcnow(),
            )
            session.add(row)
            session.flush()
            return _view(row, with_yaml=True), policy

    def versions(self) -> list[PolicyVersionView]:
        """Every version, newest first, without the YAML."""
        with self.db.session() as session:
            rows = session.scalars(select(PolicyRow).order_by(PolicyRow.version.desc())).all()
            return [_view(r, with_yaml=False) for r in rows]

    def get(self, version: int) -> PolicyVersionView:
        """One version with its YAML."""
        with self.db.session() as session:
            row = session.get(PolicyRow, version)
            if row is None:
                raise NotFoundError(f"no policy version {version}")
            return _view(row, with_yaml=True)


def read_policy_file(path: str) -> tuple[str, Policy]:
    """The policy file's text, validated."""
    policy = load_policy(path)
    with open(path, encoding="utf-8") as handle:
        return handle.read(), policy


def _view(row: PolicyRow, with_yaml: bool) -> PolicyVersionView:
    return PolicyVersionView(
        version=row.version,
        fingerprint=row.fingerprint,
        active=row.active,
        created_by=row.created_by,
        created_at=row.created_at,
        yaml=row.yaml_text if with_yaml else None,
    )
