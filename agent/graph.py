"""Wiring only: the triage graph's nodes, edges and compilation."""

from __future__ import annotations

from itertools import pairwise

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agent.deps import Deps
from agent.nodes import Nodes
from agent.state import TriageInput, TriageState

ORDER = (
    "normalize",
    "rules",
    "retrieve",
    "classify",
    "route",
    "priority",
    "decide",
    "brief",
    "review",
)


def build_graph(deps: Deps, checkpointer: BaseCheckpointSaver | None = None) -> CompiledStateGraph:
    """normalize → rules → retrieve → classify → route → priority → decide → brief → review."""
    nodes = Nodes(deps)
    builder = StateGraph(TriageState, input_schema=TriageInput)
    for name in ORDER:
        builder.add_node(name, getattr(nodes, name))
    builder.add_edge(START, ORDER[0])
    for first, second in pairwise(ORDER):
        builder.add_edge(first, second)
    builder.add_edge(ORDER[-1], END)
    return builder.compile(checkpointer=checkpointer, name="triage")


def make_graph() -> CompiledStateGraph:
    """Graph factory for LangGraph's own tooling (langgraph.json): settings from the environment."""
    from agent.triager import Triager

    return Triager.from_settings().graph
