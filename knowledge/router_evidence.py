"""The evidence behind a learned route: model scores, voting precedents, requester and account
history."""

from __future__ import annotations

from collections.abc import Sequence

from agent.models import Evidence, TeamScore
from knowledge.cases import Case, SimilarCase


def route_evidence(
    version: str,
    teams: list[TeamScore],
    precedents: list[SimilarCase],
    history: list[Case],
    account: Sequence[Case] = (),
) -> list[Evidence]:
    """The model's top scores, the precedents that voted, the requester's and account's history."""
    top = ", ".join(f"{t.team} {t.score:.2f}" for t in teams[:3])
    evidence = [
        Evidence(
            kind="model",
            source=version,
            detail=f"stacked text/embedding/precedent/history model: {top}",
            team=teams[0].team if teams else None,
            weight=teams[0].score if teams else None,
        )
    ]
    for p in [p for p in precedents if p.case.team][:3]:
        evidence.append(
            Evidence(
                kind="precedent",
                source=p.case.id,
                detail=f"similar case (cosine {p.similarity:.2f}) went to {p.case.team}",
                team=p.case.team,
                weight=round(p.similarity, 4),
            )
        )
    sources: tuple[tuple[str, Sequence[Case]], ...] = (("requester", history), ("account", account))
    for source, cases in sources:
        labels = [c.team for c in cases if c.team]
        if labels:
            best = max(set(labels), key=labels.count)
            evidence.append(
                Evidence(
                    kind="history",
                    source=source,
                    detail=f"{labels.count(best)} of the {source}'s {len(labels)} earlier cases "
                    f"went to {best}",
                    team=best,
                    weight=round(labels.count(best) / len(labels), 4),
                )
            )
    return evidence
