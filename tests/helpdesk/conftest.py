"""Fixtures of the helpdesk tests: the real app and agent over SQLite, with a fake helpdesk."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
for path in (str(REPO), str(HERE)):
    if path not in sys.path:  # `.venv/bin/pytest` does not put these on sys.path
        sys.path.insert(0, path)

from rt_support import Rig, RigFactory  # noqa: E402

from agent.policy import Policy, parse_policy  # noqa: E402
from agent.settings import EXAMPLES_DIR, Settings  # noqa: E402
from agent.triager import Triager, memory_checkpointer  # noqa: E402
from api.db import Database  # noqa: E402
from api.helpdesk.base import Helpdesk  # noqa: E402
from api.helpdesk.fake import FakeHelpdesk  # noqa: E402
from api.helpdesk.names import user_map  # noqa: E402
from api.helpdesk.options import HelpdeskOptions  # noqa: E402
from api.helpdesk.plugin import install  # noqa: E402
from api.helpdesk.rt_setup.state import read_env  # noqa: E402
from api.intake.options import IntakeOptions  # noqa: E402
from api.main import create_app  # noqa: E402
from api.options import ServiceOptions  # noqa: E402
from knowledge.embeddings import Embedder, make_embedder  # noqa: E402
from knowledge.kb import KnowledgeBase  # noqa: E402
from knowledge.memory_store import InMemoryCaseStore  # noqa: E402
from knowledge.router import LearnedRouter  # noqa: E402


@pytest.fixture(scope="session")
def hd_embedder(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    """The real local embedder, cached on disk for the session."""
    return make_embedder("minilm-int8", tmp_path_factory.mktemp("hd-emb") / "cache.sqlite")


# Around the clock, every day: who is assigned must not depend on when the tests run (the
# example's database team is off shift on weekends and after 18:00 UTC).
ALWAYS = {
    "timezone": "UTC",
    "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
    "start": "00:00",
    "end": "24:00",
}


@pytest.fixture(scope="session")
def hd_policy() -> Policy:
    """The example policy (its teams are RT's queues), with everyone on shift at any time."""
    data = yaml.safe_load((EXAMPLES_DIR / "policy.yaml").read_text(encoding="utf-8"))
    for team in data["teams"]:
        team["working_hours"] = ALWAYS
        for member in team.get("members", []):
            member.pop("working_hours", None)
    return parse_policy(data, "example policy, around the clock")


@pytest.fixture
def make_rig(tmp_path: Path, hd_embedder: Embedder, hd_policy: Policy) -> Iterator[RigFactory]:
    """Build an app with the connector on the given helpdesk (background threads off), on
    SQLite or the database URL given."""
    built: list[Rig] = []

    def build(
        helpdesk: Helpdesk,
        options: HelpdeskOptions | None = None,
        background: bool = False,
        webhook_secret: str | None = None,
        database_url: str | None = None,
        closed_statuses: list[str] | None = None,
    ) -> Rig:
        more = {"helpdesk_closed_statuses": closed_statuses} if closed_statuses else {}
        settings = Settings(
            data_dir=tmp_path / uuid.uuid4().hex[:8], database_url=database_url, **more
        )
        settings.ensure_dirs()
        kb = KnowledgeBase(
            InMemoryCaseStore(), hd_embedder, LearnedRouter(model_dir=settings.model_dir)
        )
        triager = Triager(
            settings=settings, policy=hd_policy, kb=kb, checkpointer=memory_checkpointer()
        )
        intake = IntakeOptions(
            webhook_secret=SecretStr(webhook_secret) if webhook_secret else None,
            intake_backoff_base_s=0.2,
        )
        app = create_app(
            settings, triager, ServiceOptions(start_background=background), intake_options=intake
        )
        opts = options or HelpdeskOptions(
            helpdesk_retry_base_s=0.01, helpdesk_retry_cap_s=0.05, **more
        )
        connector = install(app, settings, opts, helpdesk)
        assert connector is not None
        rig = Rig(app=app, triager=triager, connector=connector)
        built.append(rig)
        return rig

    yield build
    for rig in built:
        rig.connector.delivery.stop()
        rig.connector.backflow.stop()
        rig.app.state.intake.stop()  # its source-health timer writes to the database
        rig.services.db.close()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """A migrated SQLite database of this test's own, with no app around it."""
    database = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    database.migrate()
    try:
        yield database
    finally:
        database.close()


@pytest.fixture
def fake(hd_policy: Policy) -> FakeHelpdesk:
    """A fake helpdesk with the policy's queues and people."""
    return FakeHelpdesk(
        queues=["General", *hd_policy.team_names], users=list(user_map(hd_policy).values())
    )


@pytest.fixture(scope="session")
def rt_env() -> Iterator[dict[str, str]]:
    """A running Request Tracker: the one already up, else one `.ci/rt up` starts (and stops)."""
    script = REPO / ".ci" / "rt"
    started = subprocess.run([script, "status"], capture_output=True).returncode != 0
    if started:
        up = subprocess.run([script, "up"], capture_output=True, text=True)
        if up.returncode != 0:
            pytest.fail(f".ci/rt up failed:\n{up.stderr[-2000:]}")
    env = read_env()
    yield env
    if started:
        subprocess.run([script, "down"], capture_output=True)
