"""The learned router: calibrated team (and priority) probabilities for one ticket, with evidence.

Fit once from the knowledge base (``fit``), then route each ticket from its text, embedding, nearest
precedents and the earlier cases of its requester and account (``predict``, a few milliseconds: no
refits). Cases seen after the fit (``observe``) act at once through the precedent votes, and a
corrected near-duplicate wins outright; ``needs_refit`` says when enough of them have piled up, or
one belongs to a team the models have not learned. Teams of the policy with no case yet keep the
share of tickets a new team can expect, by their descriptions. ``save`` writes the fitted models;
each observed case is appended to a journal beside them at once, so a restart keeps what was learned
since the fit without re-writing the models for every case.
"""

from __future__ import annotations

import logging
import os
import pickle
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import scipy.sparse as sp

from agent.models import Evidence, TeamScore
from knowledge.base import RoutePrediction
from knowledge.cases import Case, SimilarCase
from knowledge.cold_start import cold_start_prediction
from knowledge.features import TextIndex, TextVectorizer
from knowledge.label_model import NEIGHBOURS, NOVELTY_QUANTILE, LabelModel
from knowledge.observed import Journal, Observed, ObservedCases
from knowledge.router_evidence import route_evidence
from knowledge.votes import NEAR_DUPLICATE_AT

log = logging.getLogger(__name__)

REFIT_MIN_NEW = 50
REFIT_SHARE = 0.1  # refit once new cases reach this share of the fitted knowledge base
FORMAT = 7  # bumped whenever the saved state changes shape (7: the novelty floor)
JOURNAL = "observed.jsonl"  # cases observed since the saved fit, one JSON object a line
UNSAVED = ("model_dir", "_observed", "_new_since_fit", "_new_teams")  # journalled, or no state


TARGETS = ("team", "priority")


class LearnedRouter:
    """Stacked text, embedding, precedent and history models behind one calibrated answer."""

    def __init__(self, model_dir: Path | None = None) -> None:
        self.model_dir = model_dir
        self.version = "unfitted"
        self._vectorizer: TextVectorizer | None = None
        self._team: LabelModel | None = None
        self._priority: LabelModel | None = None
        self._index: TextIndex | None = None
        self._observed = ObservedCases()
        self._new_since_fit = 0
        self._new_teams: set[str] = set()
        self._fitted_cases = 0

    @property
    def is_fitted(self) -> bool:
        return self._team is not None and bool(self._team.classes)

    @property
    def new_since_fit(self) -> int:
        """Cases observed since the last fit (they act through precedents until a refit)."""
        return self._new_since_fit

    @property
    def needs_refit(self) -> bool:
        """True once enough cases arrived after the fit, or a case of a team the fitted models
        do not know (or cases exist but nothing was fitted)."""
        if not self.is_fitted:
            return self._new_since_fit > 0
        return bool(self._new_teams) or self._new_since_fit >= max(
            REFIT_MIN_NEW, REFIT_SHARE * self._fitted_cases
        )

    def fit(
        self,
        cases: list[Case],
        embeddings: np.ndarray,
        team_descriptions: dict[str, np.ndarray] | None = None,
    ) -> dict[str, Any]:
        """Train every model on the labelled cases; returns a report of what was learned."""
        start = time.perf_counter()
        if len(cases) != len(embeddings):
            raise ValueError(f"{len(cases)} cases but {len(embeddings)} embedding rows")
        report: dict[str, Any] = {"n": len(cases)}
        labelled = [c for c in cases if c.team or c.priority]
        vectors = embeddings[[i for i, c in enumerate(cases) if c.team or c.priority]]
        self._vectorizer = TextVectorizer()
        self._team = self._priority = None
        self._index = None
        matrix = sp.csr_matrix((0, 0), dtype=np.float32)
        if labelled:
            matrix = self._vectorizer.fit_transform([c.text for c in labelled])
            self._index = TextIndex(matrix, self._vectorizer.word_dims)
            self._index.labels = {t: [getattr(c, t) for c in labelled] for t in TARGETS}
        for target in TARGETS:
            rows = [j for j, c in enumerate(labelled) if getattr(c, target)]
            if not rows or self._index is None:
                report[target] = {"n": 0, "mode": "not learned (no labelled cases)"}
                continue
            model = LabelModel()
            text_x, emb = matrix[rows], vectors[rows]
            report[target] = model.fit(
                text_x,
                text_x[:, : self._vectorizer.word_dims],
                emb,
                [getattr(labelled[j], target) for j in rows],
                [labelled[j].requester for j in rows],
                [labelled[j].account_id for j in rows],
                team_descriptions if target == "team" else None,
            )
            setattr(self, f"_{target}", model)
        self._observed = ObservedCases()
        self._new_since_fit = 0
        self._new_teams = set()
        self._fitted_cases = len(cases)
        self.version = f"router-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
        report["version"] = self.version
        report["fit_seconds"] = round(time.perf_counter() - start, 2)
        return report

    def observe(self, cases: list[Case], embeddings: np.ndarray) -> None:
        """Take new or corrected cases into account at once; count them towards a refit.

        A fitted router with a model directory also appends them to its journal.
        """
        seen = [
            Observed(case, embedding)
            for case, embedding in zip(cases, embeddings, strict=True)
            if case.team or case.priority
        ]
        self._remember(seen)
        if seen and self.model_dir is not None and self.is_fitted:
            self._journal().append(self.version, seen)

    def _remember(self, seen: list[Observed]) -> None:
        known = self._team.index if self._team is not None else {}
        for s in seen:
            # a case corrected again is still one new case: it replaces what was observed of it
            self._new_since_fit += s.case.id not in self._observed
            self._observed.add(s)
            if s.case.team and s.case.team not in known:
                self._new_teams.add(s.case.team)

    def observed_cases(self) -> list[Case]:
        """The cases observed since the fit (journalled, for a router with a model directory)."""
        return self._observed.cases()

    def _journal(self) -> Journal:
        assert self.model_dir is not None
        return Journal(self.model_dir / JOURNAL)

    def predict(
        self,
        *,
        text: str,
        embedding: np.ndarray,
        neighbours: list[SimilarCase],
        requester_cases: list[Case],
        account_cases: list[Case] | None = None,
        team_names: list[str] | None = None,
        team_descriptions: dict[str, str] | None = None,
        team_description_embeddings: dict[str, np.ndarray] | None = None,
    ) -> RoutePrediction:
        """Calibrated team and priority scores for one new ticket, with the evidence behind them.

        ``requester_cases`` are the requester's earlier cases, ``account_cases`` those of the
        requester's account (the requester's own among them).
        """
        precedents = self._merge_observed(embedding, neighbours)
        history = [self._observed.get(c.id, c) for c in requester_cases]
        account = [self._observed.get(c.id, c) for c in account_cases or []]
        if not self.is_fitted or self._team is None or self._vectorizer is None:
            return cold_start_prediction(
                embedding, precedents, team_names, team_descriptions, team_description_embeddings
            )
        text_x = self._vectorizer.transform([text])
        sims = [p.similarity for p in precedents]
        worded = self._index.search(text_x, NEIGHBOURS) if self._index else ([], [])
        probs = dict(
            zip(
                self._team.classes,
                self._team.predict_proba(
                    text_x,
                    embedding,
                    [
                        ([p.case.team for p in precedents], sims),
                        (
                            self._index.labels_of("team", worded[0]) if self._index else [],
                            worded[1],
                        ),
                    ],
                    [c.team for c in history],
                    [c.team for c in account],
                    team_description_embeddings,
                ).tolist(),
                strict=True,
            )
        )
        probs = self._corrected_duplicate(probs, precedents)
        extra: list[Evidence] = []
        if team_names is not None:
            probs = {t: probs.get(t, 0.0) for t in team_names}
            total = sum(probs.values())
            if total <= 1e-9:  # the model knows none of the policy's teams
                return cold_start_prediction(
                    embedding,
                    precedents,
                    team_names,
                    team_descriptions,
                    team_description_embeddings,
                )
            probs = {t: p / total for t, p in probs.items()}
            unseen = [t for t in team_names if t not in self._team.index]
            if unseen:
                probs, note = self._with_unseen_teams(
                    probs, unseen, embedding, team_descriptions, team_description_embeddings
                )
                extra.append(note)
        novelty = self._novelty(sims)
        if novelty is not None:
            extra.append(novelty)
        teams = _ranked(probs)
        priorities: list[TeamScore] = []
        if self._priority is not None and self._priority.classes:
            prio = self._priority.predict_proba(
                text_x,
                embedding,
                [
                    ([p.case.priority for p in precedents], sims),
                    (
                        self._index.labels_of("priority", worded[0]) if self._index else [],
                        worded[1],
                    ),
                ],
                [c.priority for c in history],
                [c.priority for c in account],
            )
            priorities = _ranked(dict(zip(self._priority.classes, prio.tolist(), strict=True)))
        return RoutePrediction(
            teams=teams,
            priorities=priorities,
            confidence=teams[0].score * self._team.confidence_scale if teams else 0.0,
            evidence=route_evidence(self.version, teams, precedents, history, account) + extra,
            model_version=self.version,
            novel=novelty is not None,
        )

    def _novelty(self, similarities: list[float]) -> Evidence | None:
        """Evidence that the ticket is unlike any past case, or None when it is not."""
        floor = self._team.novelty_floor if self._team is not None else None
        nearest = max(similarities, default=0.0)
        if floor is None or nearest >= floor:
            return None
        return Evidence(
            kind="model",
            source="novelty",
            detail=f"unlike any past case: the nearest is {nearest:.2f} similar in meaning, where "
            f"{1 - NOVELTY_QUANTILE:.0%} of past cases have one at least {floor:.2f} similar",
            weight=round(nearest, 4),
        )

    def _merge_observed(
        self, embedding: np.ndarray, neighbours: list[SimilarCase]
    ) -> list[SimilarCase]:
        """Neighbours with observed labels applied, plus observed cases closer than the k-th."""
        merged = {
            n.case.id: SimilarCase(case=self._observed[n.case.id], similarity=n.similarity)
            if n.case.id in self._observed
            else n
            for n in neighbours
        }
        # the k nearest observed cases not among the neighbours are within the k + len(merged)
        for case, sim in self._observed.nearest(embedding, NEIGHBOURS + len(merged)):
            if case.id not in merged:
                merged[case.id] = SimilarCase(case=case, similarity=sim)
        return sorted(merged.values(), key=lambda n: -n.similarity)[:NEIGHBOURS]

    def _with_unseen_teams(
        self,
        probs: dict[str, float],
        unseen: list[str],
        embedding: np.ndarray,
        team_descriptions: dict[str, str] | None,
        team_description_embeddings: dict[str, np.ndarray] | None,
    ) -> tuple[dict[str, float], Evidence]:
        """Policy teams with no case yet get the Good-Turing estimate of the share of tickets
        that belong to a team not seen so far (the share of cases whose team was seen once),
        split among them by their descriptions as in the cold start."""
        assert self._team is not None
        mass = self._team.unseen_share
        cold = cold_start_prediction(
            embedding, [], unseen, team_descriptions, team_description_embeddings
        )
        out = {t: p * (1.0 - mass) for t, p in probs.items()}
        for score in cold.teams:  # added: a corrected near-duplicate may already vouch for one
            out[score.team] += mass * score.score
        best = max(unseen, key=lambda t: out[t])
        note = Evidence(
            kind="policy",
            source="cold-start",
            detail=f"{len(unseen)} of the policy's {len(probs)} teams have no cases yet: "
            f"{mass:.0%} of the probability by their descriptions (best {best})",
            team=best,
            weight=round(mass, 4),
        )
        return out, note

    def _corrected_duplicate(
        self, probs: dict[str, float], precedents: list[SimilarCase]
    ) -> dict[str, float]:
        """A near-duplicate labelled after the fit wins: the models have not learned it yet."""
        if not precedents or precedents[0].case.id not in self._observed:
            return probs
        top = precedents[0]
        if top.similarity < NEAR_DUPLICATE_AT or not top.case.team:
            return probs
        target = 0.9 * top.similarity
        rest = sum(p for t, p in probs.items() if t != top.case.team)
        share = 1.0 - max(target, probs.get(top.case.team, 0.0))
        out = {
            t: (p / rest * share if rest > 0 else 0.0)
            for t, p in probs.items()
            if t != top.case.team
        }
        out[top.case.team] = 1.0 - share
        return out

    def save(self) -> Path | None:
        """Write the fitted models and a fresh journal under model_dir; returns the model file.

        A router without a model directory lives in memory only (an eval's throw-away knowledge
        base): nothing is written and None is returned.
        """
        if self.model_dir is None:
            return None
        self.model_dir.mkdir(parents=True, exist_ok=True)
        path = self.model_dir / "router.joblib"
        state = {k: v for k, v in self.__dict__.items() if k not in UNSAVED}
        # written aside and moved in whole: a save cut short must not tear the working model
        partial = path.with_suffix(".joblib.tmp")
        try:
            joblib.dump({"format": FORMAT, "state": state}, partial)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, path)
        self._journal().rewrite(self.version, self._observed.values())
        return path

    def load(self) -> bool:
        """Load the saved models; False when there is nothing (compatible) to load."""
        path = self.model_dir / "router.joblib" if self.model_dir else None
        if path is None or not path.exists():
            return False
        try:
            saved = joblib.load(path)
        except (AttributeError, ModuleNotFoundError, EOFError, pickle.UnpicklingError) as exc:
            # saved by an incompatible version, or cut short: refit rather than fail to start
            log.warning("ignoring saved router %s (%s); it will be refitted", path, exc)
            return False
        found = saved.get("format") if isinstance(saved, dict) else None
        if found != FORMAT:
            log.warning("ignoring saved router %s: format %r, expected %r", path, found, FORMAT)
            return False
        self._new_since_fit = 0
        self._new_teams = set()
        self.__dict__.update(saved["state"])
        self._observed = ObservedCases()
        self._remember(self._journal().read(self.version))
        return True


def _ranked(probs: dict[str, float]) -> list[TeamScore]:
    ordered = sorted(probs.items(), key=lambda kv: -kv[1])
    return [TeamScore(team=t, score=float(min(max(p, 0.0), 1.0))) for t, p in ordered]
