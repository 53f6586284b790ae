"""Fixtures of the agent tests: the demo knowledge base, built once per test module."""

from __future__ import annotations

import pytest
from graph_support import demo_kb

from knowledge.kb import KnowledgeBase


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    """The demo cases in an in-memory store, with a fitted router."""
    return demo_kb(tmp_path_factory.mktemp("emb"))
