"""Wiring only: the triage graph's nodes, edges and compilation."""

from __future__ import annotations

from itertools import pairwise
from typing import Literal

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agent.deps import Deps
from agent.nodes import Nodes
from agent.state import TriageInput, TriageState

ORDER = ("normalize", "rules", "retrieve", "classify", "route", "priority", "brief")
"""The steps every ticket takes, in order; each is one superstep and one checkpoint."""

REVIEW: Literal["review"] = "review"
"""Taken only when the decision abstains: the run waits there for a human."""


def after_brief(state: TriageState) -> Literal["review", "__end__"]:
    """Abstained decisions wait for review; the rest are done."""
    return REVIEW if state["decision"].needs_review else "__end__"


def build_graph(deps: Deps, checkpointer: BaseCheckpointSaver | None = None) -> CompiledStateGraph:
    """normalize → rules → retrieve → classify → route → priority → brief (→ review)."""
    nodes = Nodes(deps)
    builder = StateGraph(TriageState, input_schema=TriageInput)
    for name in (*ORDER, REVIEW):
        builder.add_node(name, getattr(nodes, name))
    builder.add_edge(START, ORDER[0])
    for first, second in pairwise(ORDER):
        builder.add_edge(first, second)
    builder.add_conditional_edges(ORDER[-1], after_brief, [REVIEW, END])
    builder.add_edge(REVIEW, END)
    return builder.compile(checkpointer=checkpointer, name="triage")


def make_graph() -> CompiledStateGraph:
    """Graph factory for LangGraph's own tooling (langgraph.json): settings from the environment."""
    from agent.triager import Triager

    return Triager.from_settings().graph
