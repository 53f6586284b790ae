"""Routing before anything was learned: the policy's team descriptions, plus any precedents.

An empty knowledge base cannot be calibrated, so the confidence is capped below any sensible
review threshold: a cold-start guess is a suggestion for a human, never an automatic route.
"""

from __future__ import annotations

import numpy as np

from agent.models import Evidence, TeamScore
from knowledge.base import RoutePrediction
from knowledge.cases import SimilarCase

COLD_START_CONFIDENCE_CAP = 0.35
DESCRIPTION_TEMPERATURE = 0.05  # cosine gaps between descriptions are small; sharpen them
UNIFORM_MIX = 0.5  # descriptions are a weak signal: keep half of the mass uniform


def cold_start_prediction(
    embedding: np.ndarray,
    precedents: list[SimilarCase],
    team_names: list[str] | None,
    team_descriptions: dict[str, str] | None,
    team_description_embeddings: dict[str, np.ndarray] | None,
) -> RoutePrediction:
    """Scores from description similarity, mixed with precedent votes when there are any."""
    described = team_description_embeddings or {}
    names = list(team_names) if team_names is not None else list(described)
    names += [
        p.case.team
        for p in precedents
        if p.case.team and p.case.team not in names and team_names is None
    ]
    names = list(dict.fromkeys(names))
    evidence: list[Evidence] = []
    if not names:
        evidence.append(
            Evidence(
                kind="policy",
                source="cold-start",
                detail="no fitted model, no teams given: no route",
            )
        )
        return RoutePrediction(
            teams=[], confidence=0.0, evidence=evidence, model_version="cold-start", cold_start=True
        )
    uniform = np.full(len(names), 1.0 / len(names))
    probs = uniform.copy()
    voted = [p for p in precedents if p.case.team in names]
    # the knowledge base may hold cases before the first fit: then they vote too
    why = "no router fitted yet" if voted else "knowledge base empty"
    also = ", mixed with the votes of the similar cases below" if voted else ""
    usable = [n for n in names if n in described]
    if usable:
        sims = np.array(
            [float(np.dot(described[n], embedding)) if n in described else -1.0 for n in names]
        )
        sharp = np.exp((sims - sims.max()) / DESCRIPTION_TEMPERATURE)
        probs = (1 - UNIFORM_MIX) * sharp / sharp.sum() + UNIFORM_MIX * uniform
        best = names[int(np.argmax(sims))]
        text = (team_descriptions or {}).get(best, "")
        evidence.append(
            Evidence(
                kind="policy",
                source="cold-start",
                detail=f"{why}: routed by similarity to the policy's team "
                f"descriptions (best {best}: {text[:80]!r}){also}",
                team=best,
                weight=float(sims.max()),
            )
        )
    else:
        evidence.append(
            Evidence(
                kind="policy",
                source="cold-start",
                detail=f"{why} and no team descriptions: every policy team equally likely{also}",
            )
        )
    if voted:
        votes = np.zeros(len(names))
        for p in voted:
            votes[names.index(p.case.team or "")] += max(p.similarity, 0.0)
        if votes.sum() > 0:
            probs = 0.5 * probs + 0.5 * votes / votes.sum()
        for p in voted[:3]:
            evidence.append(
                Evidence(
                    kind="precedent",
                    source=p.case.id,
                    detail=f"similar case (cosine {p.similarity:.2f}) went to {p.case.team}",
                    team=p.case.team,
                    weight=round(p.similarity, 4),
                )
            )
    ranked = sorted(zip(names, probs.tolist(), strict=True), key=lambda kv: -kv[1])
    teams = [TeamScore(team=t, score=float(min(max(p, 0.0), 1.0))) for t, p in ranked]
    return RoutePrediction(
        teams=teams,
        confidence=min(teams[0].score, COLD_START_CONFIDENCE_CAP),
        evidence=evidence,
        model_version="cold-start",
        cold_start=True,
    )
