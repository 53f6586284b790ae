"""The learned router on small self-written data: learning, calibration, cold start, feedback."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import joblib
import numpy as np
import pytest

from knowledge.base import RoutePrediction
from knowledge.cases import Case, SimilarCase
from knowledge.observed import Observed, ObservedCases
from knowledge.router import LearnedRouter

DIM = 64
TEAMS = {
    "Network": ["vpn", "wifi", "router", "switch", "latency", "firewall", "dns", "packet"],
    "Printing": ["printer", "toner", "paper", "jam", "scanner", "tray", "cartridge", "spooler"],
    "Access": ["password", "locked", "login", "account", "reset", "mfa", "token", "permission"],
    "Billing": [
        "invoice",
        "refund",
        "charge",
        "payment",
        "receipt",
        "credit",
        "subscription",
        "vat",
    ],
}
FILLER = [
    "please",
    "help",
    "today",
    "issue",
    "urgent",
    "thanks",
    "again",
    "office",
    "user",
    "since",
]


def embed(text: str) -> np.ndarray:
    """A deterministic bag-of-words embedding: texts sharing words point the same way."""
    vec = np.zeros(DIM, dtype=np.float32)
    for word in text.lower().split():
        digest = hashlib.sha256(word.encode()).digest()
        vec[digest[0] % DIM] += 1.0 if digest[1] % 2 else -1.0
    norm = np.linalg.norm(vec)
    return vec / norm if norm else vec


def make_cases(per_team: int, seed: int = 0, with_priority: bool = True) -> list[Case]:
    rng = random.Random(seed)
    cases = []
    for team, words in TEAMS.items():
        for i in range(per_team):
            text = " ".join(rng.sample(words, 3) + rng.sample(FILLER, 3))
            priority = "high" if team in ("Network", "Access") else "low"
            cases.append(
                Case(
                    id=f"{team}-{seed}-{i}",
                    subject=text,
                    team=team,
                    priority=priority if with_priority else None,
                    requester=f"user-{i % 5}",
                )
            )
    return cases


def embed_cases(cases: list[Case]) -> np.ndarray:
    return np.stack([embed(c.text) for c in cases])


def neighbours_of(vector: np.ndarray, cases: list[Case], k: int = 10) -> list[SimilarCase]:
    sims = embed_cases(cases) @ vector
    order = np.argsort(-sims)[:k]
    return [SimilarCase(case=cases[i], similarity=float(sims[i])) for i in order]


def route(
    router: LearnedRouter, text: str, kb: list[Case], team_names: list[str] | None = None
) -> RoutePrediction:
    vector = embed(text)
    neighbours = neighbours_of(vector, kb)
    return router.predict(
        text=text,
        embedding=vector,
        neighbours=neighbours,
        requester_cases=[],
        team_names=team_names,
    )


@pytest.fixture(scope="module")
def kb() -> list[Case]:
    return make_cases(per_team=15)


@pytest.fixture(scope="module")
def fitted(kb: list[Case]) -> LearnedRouter:
    router = LearnedRouter()
    router.fit(kb, embed_cases(kb))
    return router


def test_learns_separable_teams(fitted: LearnedRouter, kb: list[Case]) -> None:
    fresh = make_cases(per_team=5, seed=99)
    right = [route(fitted, c.text, kb).team == c.team for c in fresh]
    assert sum(right) / len(right) >= 0.95
    assert fitted.is_fitted


def test_fit_report_names_what_was_learned(kb: list[Case]) -> None:
    report = LearnedRouter().fit(kb, embed_cases(kb))
    team = report["team"]
    assert isinstance(team, dict)
    assert team["mode"] == "stacked"
    assert team["classes"] == 4
    assert 0.0 <= team["ece"] <= 1.0


def test_confidence_is_a_probability_and_drops_on_garbage(
    fitted: LearnedRouter, kb: list[Case]
) -> None:
    clear = route(fitted, "printer toner jam on the tray", kb)
    garbage = route(fitted, "qwxz plorb vintage zebra marmalade", kb)
    for prediction in (clear, garbage):
        assert 0.0 <= prediction.confidence <= 1.0
        assert abs(sum(t.score for t in prediction.teams) - 1.0) < 1e-6
    assert clear.team == "Printing"
    assert garbage.confidence < clear.confidence


def test_a_ticket_unlike_any_past_case_is_flagged_novel_and_says_why(
    fitted: LearnedRouter, kb: list[Case]
) -> None:
    fresh = make_cases(per_team=5, seed=99)
    flagged = [route(fitted, c.text, kb).novel for c in fresh]
    assert sum(flagged) <= 1  # tickets like the past ones pass (the floor admits ~1 % of them)
    garbage = route(fitted, "qwxz plorb vintage zebra marmalade", kb)
    assert garbage.novel
    note = [e for e in garbage.evidence if e.source == "novelty"]
    assert note and note[0].detail.startswith("unlike any past case")
    floor = fitted._team.novelty_floor if fitted._team else None
    assert floor is not None and 0.0 < floor < 1.0


def test_evidence_names_model_precedents_and_history(fitted: LearnedRouter, kb: list[Case]) -> None:
    text = "vpn dns firewall"
    vector = embed(text)
    history = [c for c in kb if c.team == "Network"][:4]
    prediction = fitted.predict(
        text=text, embedding=vector, neighbours=neighbours_of(vector, kb), requester_cases=history
    )
    kinds = [e.kind for e in prediction.evidence]
    assert kinds[0] == "model"
    assert "precedent" in kinds
    assert "history" in kinds
    assert prediction.model_version == fitted.version


def test_an_accounts_history_routes_its_new_requesters(kb: list[Case]) -> None:
    # Two customer accounts have their own team; their tickets read like anybody's, and each of
    # their requesters wrote only once, so only the account tells them apart.
    rng = random.Random(7)
    topics = list(TEAMS.values())
    dedicated = [
        Case(
            id=f"acct-{i}",
            subject=" ".join(rng.sample(rng.choice(topics), 3) + rng.sample(FILLER, 3)),
            team="Enterprise",
            priority="high",
            requester=f"contact-{i}",
            account_id=("acme", "globex")[i % 2],
        )
        for i in range(40)
    ]
    cases = kb + dedicated
    router = LearnedRouter()
    report = router.fit(cases, embed_cases(cases))
    team_report = report["team"]
    assert isinstance(team_report, dict) and team_report["mode"].startswith("stacked")
    assert team_report["weights"]["account_share"] > 0  # learned, not set
    text = "vpn latency dns please help today"
    vector = embed(text)
    neighbours = neighbours_of(vector, cases)
    acme = [c for c in dedicated if c.account_id == "acme"][:20]
    plain = router.predict(text=text, embedding=vector, neighbours=neighbours, requester_cases=[])
    assert plain.team == "Network"
    ours = router.predict(
        text=text, embedding=vector, neighbours=neighbours, requester_cases=[], account_cases=acme
    )
    assert ours.team == "Enterprise"
    assert any(e.kind == "history" and e.source == "account" for e in ours.evidence)


def test_team_names_restrict_and_renormalise(fitted: LearnedRouter, kb: list[Case]) -> None:
    prediction = route(fitted, "printer toner jam", kb, team_names=["Billing", "Access"])
    assert {t.team for t in prediction.teams} == {"Billing", "Access"}
    assert abs(sum(t.score for t in prediction.teams) - 1.0) < 1e-6


def test_priority_is_learned(fitted: LearnedRouter, kb: list[Case]) -> None:
    prediction = route(fitted, "password locked account reset", kb)
    assert prediction.priorities
    assert prediction.priorities[0].team == "high"


def test_cold_start_routes_by_team_descriptions() -> None:
    router = LearnedRouter()
    descriptions = {
        "Printing": "printer toner paper jam scanner",
        "Billing": "invoice refund payment charge",
    }
    vectors = {name: embed(f"{name}: {text}") for name, text in descriptions.items()}
    text = "the printer has a paper jam"
    prediction = router.predict(
        text=text,
        embedding=embed(text),
        neighbours=[],
        requester_cases=[],
        team_names=list(descriptions),
        team_descriptions=descriptions,
        team_description_embeddings=vectors,
    )
    assert prediction.cold_start
    assert prediction.team == "Printing"
    assert prediction.confidence <= 0.35
    assert prediction.evidence[0].kind == "policy"


def test_corrected_near_duplicate_wins_right_after_observe(kb: list[Case]) -> None:
    router = LearnedRouter()
    router.fit(kb, embed_cases(kb))
    original = next(c for c in kb if c.team == "Printing")
    assert route(router, original.text, kb).team == "Printing"
    corrected = original.model_copy(update={"team": "Billing", "label_source": "review"})
    router.observe([corrected], embed_cases([corrected]))
    # the store may still hand back the old label, or not return the case at all
    assert route(router, original.text, kb).team == "Billing"
    others = [c for c in kb if c.id != original.id]
    assert route(router, original.text, others).team == "Billing"


def test_a_novel_ticket_once_reviewed_is_a_precedent_for_the_next_like_it(kb: list[Case]) -> None:
    router = LearnedRouter()
    router.fit(kb, embed_cases(kb))
    text = "qwxz plorb vintage zebra marmalade"
    assert route(router, text, kb).novel
    reviewed = Case(id="reviewed-1", subject=text, team="Access", label_source="review")
    router.observe([reviewed], embed_cases([reviewed]))
    again = route(router, text + " again", kb)
    assert not again.novel
    assert any(e.kind == "precedent" and e.source == "reviewed-1" for e in again.evidence)


def test_observed_cases_give_the_nearest_as_a_full_comparison_would() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(40, DIM)).astype(np.float32)
    observed = ObservedCases()
    for i, vector in enumerate(vectors):  # past the first 16 rows: the matrix has to grow
        observed.add(Observed(Case(id=f"c{i}", text=f"case {i}", team="Network"), vector))
    observed.add(Observed(Case(id="c5", text="case 5 again", team="Billing"), vectors[7]))
    observed.add(Observed(Case(id="c9", text="twin of 7", team="Access"), vectors[7]))
    vectors[5] = vectors[9] = vectors[7]  # re-observed ids keep their rows, with the new vector
    assert len(observed) == 40
    query = rng.normal(size=DIM)
    nearest = observed.nearest(query, 6)
    sims = vectors @ query.astype(np.float32)
    expected = sorted(range(40), key=lambda i: (-sims[i], i))[:6]
    assert [case.id for case, _ in nearest] == [f"c{i}" for i in expected]
    assert [sim for _, sim in nearest] == pytest.approx([float(sims[i]) for i in expected])
    ties = [case.id for case, _ in observed.nearest(vectors[7], 3)]
    assert ties == ["c5", "c7", "c9"]  # equally similar: in the order first observed
    assert observed["c5"].team == "Billing"
    again = {seen.case.id: seen.embedding for seen in observed.values()}
    assert np.array_equal(again["c5"], vectors[7]) and np.array_equal(again["c39"], vectors[39])
    assert len(observed.nearest(query, 100)) == 40
    with pytest.raises(ValueError, match="dimensional"):
        observed.add(Observed(Case(id="odd", text="x", team="Network"), np.ones(3)))


def test_observe_counts_towards_a_refit(kb: list[Case]) -> None:
    router = LearnedRouter()
    router.fit(kb, embed_cases(kb))
    assert not router.needs_refit
    new = make_cases(per_team=13, seed=5)
    router.observe(new, embed_cases(new))
    assert router.needs_refit


@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_tiny_knowledge_base_does_not_crash(size: int) -> None:
    cases = make_cases(per_team=2)[:size]
    router = LearnedRouter()
    report = router.fit(cases, embed_cases(cases))
    team = report["team"]
    assert isinstance(team, dict)
    assert "votes-only" in str(team["mode"])
    prediction = route(router, cases[0].text, cases)
    assert prediction.team == cases[0].team
    assert 0.0 <= prediction.confidence < 0.9  # too few cases to be sure of anything


def test_a_knowledge_base_too_small_to_know_what_is_usual_flags_nothing_novel() -> None:
    cases = make_cases(per_team=2)
    router = LearnedRouter()
    router.fit(cases, embed_cases(cases))
    assert not route(router, "qwxz plorb vintage zebra marmalade", cases).novel


def test_version_changes_on_every_fit(kb: list[Case]) -> None:
    router = LearnedRouter()
    router.fit(kb[:30], embed_cases(kb[:30]))
    first = router.version
    router.fit(kb[:30], embed_cases(kb[:30]))
    assert router.version != first


def test_save_load_round_trip_gives_identical_predictions(
    tmp_path: Path, fitted: LearnedRouter, kb: list[Case]
) -> None:
    fitted.model_dir = tmp_path
    fitted.save()
    loaded = LearnedRouter(model_dir=tmp_path)
    assert loaded.load()
    assert loaded.version == fitted.version
    for text in ("vpn latency", "refund invoice", "something else entirely"):
        assert route(loaded, text, kb) == route(fitted, text, kb)


def test_observed_cases_survive_a_restart_without_resaving_the_models(
    tmp_path: Path, kb: list[Case]
) -> None:
    router = LearnedRouter(model_dir=tmp_path)
    router.fit(kb, embed_cases(kb))
    saved = router.save()
    assert saved is not None
    written = saved.stat().st_mtime_ns
    original = next(c for c in kb if c.team == "Printing")
    corrected = original.model_copy(update={"team": "Billing", "label_source": "specialist"})
    router.observe([corrected], embed_cases([corrected]))
    assert saved.stat().st_mtime_ns == written  # one journal line, not 74 MB of models
    restarted = LearnedRouter(model_dir=tmp_path)
    assert restarted.load()
    assert route(restarted, original.text, kb).team == "Billing"
    assert route(restarted, original.text, kb) == route(router, original.text, kb)


def test_journal_keeps_only_this_fit_and_skips_a_torn_line(tmp_path: Path, kb: list[Case]) -> None:
    router = LearnedRouter(model_dir=tmp_path)
    router.fit(kb, embed_cases(kb))
    original = next(c for c in kb if c.team == "Printing")
    corrected = original.model_copy(update={"team": "Billing", "label_source": "specialist"})
    router.observe([corrected], embed_cases([corrected]))
    router.save()  # a full save carries the observed case over into a fresh journal
    journal = tmp_path / "observed.jsonl"
    stale = json.dumps({"fit": "router-older", "case": original.model_dump(mode="json")})
    with journal.open("a", encoding="utf-8") as fh:
        fh.write(stale + "\n" + '{"fit": "' + router.version + '", "case": {"id": "x"')
    restarted = LearnedRouter(model_dir=tmp_path)
    assert restarted.load()
    assert route(restarted, original.text, kb).team == "Billing"
    router.fit(kb, embed_cases(kb))  # a refit learns the cases anew: the journal starts over
    router.save()
    assert journal.read_text(encoding="utf-8") == ""
    again = LearnedRouter(model_dir=tmp_path)
    assert again.load()
    assert route(again, original.text, kb).team == "Printing"


def test_a_case_observed_after_a_torn_line_survives_a_restart(
    tmp_path: Path, kb: list[Case]
) -> None:
    """A crash mid-append leaves a line without its newline: the next correction must not be
    glued onto it and skipped with it."""
    router = LearnedRouter(model_dir=tmp_path)
    router.fit(kb, embed_cases(kb))
    router.save()
    with (tmp_path / "observed.jsonl").open("a", encoding="utf-8") as fh:
        fh.write('{"fit": "' + router.version + '", "case": {"id": "x"')
    running = LearnedRouter(model_dir=tmp_path)
    assert running.load()
    original = next(c for c in kb if c.team == "Printing")
    corrected = original.model_copy(update={"team": "Billing", "label_source": "specialist"})
    running.observe([corrected], embed_cases([corrected]))
    restarted = LearnedRouter(model_dir=tmp_path)
    assert restarted.load()
    assert route(restarted, original.text, kb).team == "Billing"


def test_load_without_a_saved_model_says_so(tmp_path: Path) -> None:
    router = LearnedRouter(model_dir=tmp_path)
    assert not router.load()
    assert not router.is_fitted


@pytest.mark.parametrize("kept", [100, 5_000, 90_000])
def test_load_ignores_a_torn_model_file(tmp_path: Path, kb: list[Case], kept: int) -> None:
    """A model file cut short (a disk that filled, a copy that stopped) is refitted, not a crash."""
    router = LearnedRouter(model_dir=tmp_path)
    router.fit(kb, embed_cases(kb))
    saved = router.save()
    assert saved is not None
    whole = saved.read_bytes()
    saved.write_bytes(whole[: min(kept, len(whole) - 1)])
    restarted = LearnedRouter(model_dir=tmp_path)
    assert not restarted.load()
    assert not restarted.is_fitted


def test_a_save_that_fails_leaves_the_saved_router_whole(tmp_path: Path, kb: list[Case]) -> None:
    router = LearnedRouter(model_dir=tmp_path)
    router.fit(kb, embed_cases(kb))
    router.save()
    version = router.version
    router.fit(kb[:-3], embed_cases(kb[:-3]))
    router.unpicklable = lambda: None  # fails part-way through writing, as a full disk would
    with pytest.raises(Exception, match="pickle"):
        router.save()
    restarted = LearnedRouter(model_dir=tmp_path)
    assert restarted.load() and restarted.version == version
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "observed.jsonl",
        "router.joblib",
    ]


def test_load_ignores_a_model_saved_in_another_format(tmp_path: Path) -> None:
    joblib.dump({"format": -1, "state": {}}, tmp_path / "router.joblib")
    router = LearnedRouter(model_dir=tmp_path)
    assert not router.load()
    assert not router.is_fitted


DESCRIPTIONS = {
    "Network": "vpn wifi router firewall dns",
    "Printing": "printer toner paper jam scanner",
    "Access": "password locked login reset mfa",
    "Billing": "invoice refund payment charge receipt",
}
DESCRIBED = {name: embed(f"{name}: {text}") for name, text in DESCRIPTIONS.items()}


def route_with_policy(router: LearnedRouter, text: str, kb: list[Case]) -> RoutePrediction:
    vector = embed(text)
    return router.predict(
        text=text,
        embedding=vector,
        neighbours=neighbours_of(vector, kb) if kb else [],
        requester_cases=[],
        team_names=list(DESCRIPTIONS),
        team_descriptions=DESCRIPTIONS,
        team_description_embeddings=DESCRIBED,
    )


def score_of(prediction: RoutePrediction, team: str) -> float:
    return next(t.score for t in prediction.teams if t.team == team)


def test_a_policy_team_without_cases_gets_the_good_turing_share_by_its_description() -> None:
    # early days: four cases, two teams seen once (Network, Printing), Billing not at all
    cases = make_cases(per_team=2)
    early = [c for c in cases if c.team in ("Network", "Printing")][::2] + [
        c for c in cases if c.team == "Access"
    ]
    router = LearnedRouter()
    router.fit(early, embed_cases(early), DESCRIBED)
    billing = route_with_policy(router, "invoice refund payment charge", early)
    assert abs(sum(t.score for t in billing.teams) - 1.0) < 1e-6
    note = next(e for e in billing.evidence if e.source == "cold-start")
    # two of four cases have a team seen once: 2 / (4 + 1) of the probability for new teams
    assert note.weight == pytest.approx(0.4)
    assert "1 of the policy's 4 teams have no cases yet: 40%" in note.detail
    assert score_of(billing, "Billing") == pytest.approx(0.4)  # the only new team takes it all
    assert route_with_policy(router, "vpn wifi router firewall", early).team == "Network"
    # every team seen more than once: no sign of unseen teams, the learned scores stand
    three = [c for c in make_cases(per_team=15) if c.team != "Billing"]
    router.fit(three, embed_cases(three), DESCRIBED)
    later = route_with_policy(router, "invoice refund payment charge", three)
    assert score_of(later, "Billing") == 0.0
    assert abs(sum(t.score for t in later.teams) - 1.0) < 1e-6


def test_a_correction_to_a_team_the_router_has_not_learned_wins_at_once(kb: list[Case]) -> None:
    known = [c for c in kb if c.team != "Billing"]
    router = LearnedRouter()
    router.fit(known, embed_cases(known), DESCRIBED)
    original = next(c for c in known if c.team == "Printing")
    corrected = original.model_copy(update={"team": "Billing", "label_source": "specialist"})
    router.observe([corrected], embed_cases([corrected]))
    assert route_with_policy(router, original.text, known).team == "Billing"


def test_a_case_of_a_team_the_router_has_not_learned_asks_for_a_refit(
    tmp_path: Path, kb: list[Case]
) -> None:
    known = [c for c in kb if c.team != "Billing"]
    router = LearnedRouter(model_dir=tmp_path)
    router.fit(known, embed_cases(known))
    router.save()
    more = make_cases(per_team=1, seed=9)
    network = [c for c in more if c.team == "Network"]
    router.observe(network, embed_cases(network))
    assert not router.needs_refit  # one more case of a known team: not yet
    billing = [c for c in more if c.team == "Billing"]
    router.observe(billing, embed_cases(billing))
    assert router.needs_refit
    restarted = LearnedRouter(model_dir=tmp_path)
    assert restarted.load() and restarted.needs_refit  # the journal keeps the reason
    router.fit(known + network + billing, embed_cases(known + network + billing))
    assert not router.needs_refit


def test_team_descriptions_are_a_learned_feature(kb: list[Case]) -> None:
    described = LearnedRouter()
    report = described.fit(kb, embed_cases(kb), DESCRIBED)
    weights = report["team"]["weights"]
    assert "description" in weights
    plain = LearnedRouter()
    plain.fit(kb, embed_cases(kb))
    text = "printer toner jam please"
    # fitted without descriptions, the router ignores the ones it is given at routing time
    with_policy = route_with_policy(plain, text, kb)
    without = route(plain, text, kb, team_names=list(DESCRIPTIONS))
    assert [(t.team, t.score) for t in with_policy.teams] == [
        (t.team, t.score) for t in without.teams
    ]
    assert route_with_policy(described, text, kb).team == "Printing"


def test_an_unfitted_router_says_why_it_routes_by_descriptions() -> None:
    """Before the first fit the knowledge base may hold cases: the evidence must not call it
    empty while it lists the similar cases that voted."""
    cases = make_cases(per_team=2)
    unfitted = LearnedRouter()
    empty = route_with_policy(unfitted, "printer toner paper jam", [])
    [note] = [e.detail for e in empty.evidence if e.source == "cold-start"]
    assert note.startswith("knowledge base empty: routed by similarity to the policy's team")
    voted = route_with_policy(unfitted, "printer toner paper jam", cases)
    [note] = [e.detail for e in voted.evidence if e.source == "cold-start"]
    assert note.startswith("no router fitted yet: routed by similarity to the policy's team")
    assert note.endswith(", mixed with the votes of the similar cases below")
    assert any(e.kind == "precedent" for e in voted.evidence)


def test_a_case_corrected_again_counts_once_towards_a_refit(kb: list[Case]) -> None:
    """A refit is due when enough new cases arrived, not when one case was corrected often."""
    router = LearnedRouter()
    router.fit(kb, embed_cases(kb))
    original = next(c for c in kb if c.team == "Printing")
    for turn in range(60):
        team = ("Billing", "Access")[turn % 2]
        corrected = original.model_copy(update={"team": team, "label_source": "specialist"})
        router.observe([corrected], embed_cases([corrected]))
    assert router.new_since_fit == 1
    assert not router.needs_refit
    assert route(router, original.text, kb).team == "Access"  # the last correction stands
