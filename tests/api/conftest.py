"""Fixtures of the API tests: the real app on the real agent (cold-start knowledge base in memory),
SQLite under tmp_path or a fresh PostgreSQL schema (`pg_url`, shared), and one API key per role."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `.venv/bin/pytest` does not put the repository on sys.path
    sys.path.insert(0, str(REPO))

from api_support import Api, AppFactory  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from agent.llm import LLMClassifier  # noqa: E402
from agent.policy import Policy, load_policy  # noqa: E402
from agent.settings import EXAMPLES_DIR, Settings  # noqa: E402
from agent.triager import Triager, memory_checkpointer  # noqa: E402
from api.auth import create_key  # noqa: E402
from api.main import create_app  # noqa: E402
from api.options import ServiceOptions  # noqa: E402
from knowledge.embeddings import Embedder, make_embedder  # noqa: E402
from knowledge.kb import KnowledgeBase  # noqa: E402
from knowledge.memory_store import InMemoryCaseStore  # noqa: E402
from knowledge.router import LearnedRouter  # noqa: E402

ROLES = ("helpdesk", "specialist", "reviewer", "admin")


@pytest.fixture(scope="session")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    """The real local embedder, cached on disk for the whole session."""
    return make_embedder("minilm-int8", tmp_path_factory.mktemp("emb") / "cache.sqlite")


@pytest.fixture(scope="session")
def example_policy() -> Policy:
    """The example policy the service starts with."""
    return load_policy(EXAMPLES_DIR / "policy.yaml")


@pytest.fixture
def make_api(tmp_path: Path, embedder: Embedder, example_policy: Policy) -> Iterator[AppFactory]:
    """Build apps (SQLite by default, or the URL given) and close them after the test."""
    opened: list[TestClient] = []

    def build(url: str | None = None, llm: LLMClassifier | None = None, **options: object) -> Api:
        data_dir = tmp_path / uuid.uuid4().hex[:8]
        settings = Settings(data_dir=data_dir, database_url=url)
        settings.ensure_dirs()
        kb = KnowledgeBase(
            InMemoryCaseStore(), embedder, LearnedRouter(model_dir=settings.model_dir)
        )
        triager = Triager(
            settings=settings,
            policy=example_policy,
            kb=kb,
            llm=llm,
            checkpointer=memory_checkpointer(),
        )
        app = create_app(settings, triager, ServiceOptions(**options))  # type: ignore[arg-type]
        db = app.state.services.db
        keys = {role: create_key(db, role, f"test-{role}")[1] for role in ROLES}
        keys["helpdesk2"] = create_key(db, "helpdesk", "test-helpdesk-2")[1]
        client = TestClient(app)
        client.__enter__()
        opened.append(client)
        return Api(app=app, client=client, keys=keys, triager=triager)

    yield build
    for client in opened:
        client.__exit__(None, None, None)
        client.app.state.services.db.close()  # type: ignore[attr-defined]


@pytest.fixture
def api(make_api: AppFactory) -> Api:
    """The app on SQLite."""
    return make_api()
