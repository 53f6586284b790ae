"""One request path through a real uvicorn on loopback, with a real HTTP client."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import uvicorn
from api_support import TICKET_DB, free_port

from agent.policy import Policy
from agent.settings import Settings
from agent.triager import Triager, memory_checkpointer
from api.auth import create_key
from api.main import create_app
from knowledge.embeddings import Embedder
from knowledge.kb import KnowledgeBase
from knowledge.memory_store import InMemoryCaseStore
from knowledge.router import LearnedRouter


def test_served_by_uvicorn(tmp_path: Path, embedder: Embedder, example_policy: Policy) -> None:
    settings = Settings(data_dir=tmp_path)
    kb = KnowledgeBase(InMemoryCaseStore(), embedder, LearnedRouter(model_dir=settings.model_dir))
    triager = Triager(
        settings=settings, policy=example_policy, kb=kb, checkpointer=memory_checkpointer()
    )
    app = create_app(settings, triager)
    _, key = create_key(app.state.services.db, "helpdesk")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            assert client.get("/healthz").json() == {"status": "ok"}
            headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "uv-1"}
            first = client.post("/v1/triage", json=TICKET_DB, headers=headers)
            again = client.post("/v1/triage", json=TICKET_DB, headers=headers)
            assert first.status_code == 200
            assert first.json()["team"] == "database"
            assert again.json() == first.json()
            assert client.post("/v1/triage", json=TICKET_DB).status_code == 401
            big = client.post(
                "/v1/triage", json={"subject": "x", "body": "y" * 1_100_000}, headers=headers
            )
            assert big.status_code == 413
    finally:
        server.should_exit = True
        thread.join(10)
        app.state.services.db.close()
