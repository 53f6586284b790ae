"""Routing figures on hand-made outcomes whose right answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from evals.metrics import (
    Outcome,
    accuracy,
    accuracy_at_coverage,
    accuracy_coverage_curve,
    auto_accuracy,
    by_language,
    compute_metrics,
    coverage,
    ece,
    escalate_decision_accuracy,
    escalation_accuracy,
    intervals,
    latency,
    macro_f1,
    per_team,
    priority_accuracy,
    reliability,
    review_reasons,
)


def out(
    truth: str,
    pred: str,
    conf: float = 0.9,
    review: bool = False,
    lang: str | None = "en",
    escalate: bool | None = None,
    latency_ms: float = 10.0,
) -> Outcome:
    return Outcome(
        ticket_id=f"{truth}-{pred}-{conf}",
        truth=truth,
        predicted=pred,
        confidence=conf,
        needs_review=review,
        escalate=pred != "desk" if escalate is None else escalate,
        decided_by="learned",
        language=lang,
        latency_ms=latency_ms,
    )


SET = [
    out("desk", "desk", 0.95),
    out("net", "net", 0.9),
    out("net", "db", 0.8),  # confident misroute, escalated without review
    out("db", "db", 0.4, review=True, lang="de"),
    out("db", "desk", 0.3, review=True, lang=None),
]


def test_accuracy_coverage_and_auto_accuracy() -> None:
    assert accuracy(SET) == pytest.approx(3 / 5)
    assert coverage(SET) == pytest.approx(3 / 5)
    assert auto_accuracy(SET) == pytest.approx(2 / 3)
    assert accuracy([]) is None
    assert auto_accuracy([out("a", "a", review=True)]) is None


def test_macro_f1_matches_hand_computation() -> None:
    # desk: P=1/2 R=1 F=2/3; net: P=1 R=1/2 F=2/3; db: P=1/2 R=1/2 F=1/2
    assert macro_f1(SET) == pytest.approx((2 / 3 + 2 / 3 + 1 / 2) / 3)


def test_escalation_figures() -> None:
    # escalated without review: net->net (right), net->db (wrong)
    assert escalation_accuracy(SET) == pytest.approx(1 / 2)
    # escalate-or-not: desk ok, net ok, net->db ok (both escalate), db->db ok, db->desk wrong
    assert escalate_decision_accuracy(SET, "desk") == pytest.approx(4 / 5)


def test_priority_accuracy_counts_only_labelled() -> None:
    a = out("x", "x").model_copy(update={"truth_priority": "high", "predicted_priority": "high"})
    b = out("x", "x").model_copy(update={"truth_priority": "low", "predicted_priority": "high"})
    c = out("x", "x")
    assert priority_accuracy([a, b, c]) == pytest.approx(0.5)


def test_ece_perfect_and_overconfident() -> None:
    calibrated = [out("a", "a", 0.5), out("a", "b", 0.5)]
    assert ece(calibrated) == pytest.approx(0.0)
    overconfident = [out("a", "b", 1.0), out("a", "b", 1.0)]
    assert ece(overconfident) == pytest.approx(1.0)
    bins = reliability(SET)["bins"]
    assert sum(b["n"] for b in bins) == len(SET)
    assert all(0 <= b["lo"] < b["hi"] <= 1 for b in bins)


def test_curve_is_sorted_by_confidence() -> None:
    curve = accuracy_coverage_curve(SET, points=5)
    assert [p["coverage"] for p in curve] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert curve[0]["accuracy"] == 1.0  # the most confident ticket is right
    assert curve[2]["accuracy"] == pytest.approx(2 / 3)
    assert curve[-1]["accuracy"] == pytest.approx(accuracy(SET) or 0)


def test_tickets_tied_in_confidence_count_at_their_group_accuracy() -> None:
    # a rule's fixed confidence ties many tickets: which of them fell within 50% was the file's
    # order, so the same decisions read 1.0 or 0.0 at 50% coverage as the TEST file was sorted
    tied = [out("net", "net", 0.99), out("net", "db", 0.99), out("db", "db", 0.99)]
    tickets = [*tied, out("db", "net", 0.5)]  # hand: the top 2 are 2 of 3 tied, 2/3 right
    swapped = [tickets[1], tickets[0], *tickets[2:]]
    for order in (
        tickets,
        tickets[::-1],
        swapped,
        [tickets[0], tickets[2], tickets[1], tickets[3]],
    ):
        curve = accuracy_coverage_curve(order, points=4)
        assert [p["accuracy"] for p in curve] == pytest.approx([2 / 3, 2 / 3, 2 / 3, 1 / 2])
        assert [p["threshold"] for p in curve] == [0.99, 0.99, 0.99, 0.5]
        assert accuracy_at_coverage(order)["0.50"] == pytest.approx(2 / 3)


def test_accuracy_at_coverage_without_ties_is_the_top_share() -> None:
    ranked = [out("a", "a", 0.9), out("a", "b", 0.8), out("a", "a", 0.7), out("a", "a", 0.6)]
    assert accuracy_at_coverage(ranked[::-1]) == pytest.approx(
        {"0.50": 0.5, "0.70": 2 / 3, "0.90": 0.75}
    )


def test_per_team_and_language() -> None:
    teams = per_team(SET)
    assert teams["net"]["recall"] == pytest.approx(0.5)
    assert teams["net"]["precision"] == pytest.approx(1.0)
    assert teams["db"]["support"] == 2
    assert teams["desk"]["predicted"] == 2
    langs = by_language(SET)
    assert set(langs) == {"en", "de", "unknown"}
    assert langs["en"]["n"] == 3
    assert langs["de"]["coverage"] == 0.0


def test_a_language_code_is_one_language_whatever_its_case() -> None:
    # 'EN' and 'en' were two rows of the per-language table
    langs = by_language([*SET, out("net", "net", lang="EN"), out("db", "db", lang=" ")])
    assert {lang: v["n"] for lang, v in langs.items()} == {"en": 4, "unknown": 2, "de": 1}


def test_review_reasons_are_counted_by_kind_with_the_held_tickets_accuracy() -> None:
    low = "routing confidence 0.41 below review threshold 0.50"
    novel = "unlike any past case: no precedent backs the route"
    held = [
        out("db", "db", 0.41, review=True).model_copy(update={"review_reasons": [low]}),
        out("db", "net", 0.32, review=True).model_copy(
            update={"review_reasons": [low.replace("0.41", "0.32"), novel]}
        ),
        out("net", "net", 0.9, review=True).model_copy(update={"review_reasons": [novel]}),
    ]
    reasons = review_reasons([*held, out("desk", "desk")])
    assert list(reasons) == ["routing confidence", "unlike any past case"]
    assert reasons["routing confidence"] == {"n": 2, "share": 0.5, "accuracy": 0.5}
    assert reasons["unlike any past case"]["n"] == 2
    assert reasons["unlike any past case"]["accuracy"] == pytest.approx(0.5)
    assert review_reasons([out("a", "a")]) == {}


def test_latency_percentiles() -> None:
    figures = latency([out("a", "a", latency_ms=v) for v in range(1, 101)])
    assert figures["p50"] == pytest.approx(50.5)
    assert figures["p99"] == pytest.approx(99.01)


def test_compute_metrics_nulls_without_first_line_or_priority() -> None:
    m = compute_metrics(SET, first_line=None, scored_priority=False)
    assert m["escalation_accuracy"] is None
    assert m["escalate_decision_accuracy"] is None
    assert m["priority_accuracy"] is None
    assert m["n"] == 5
    with_first = compute_metrics(SET, first_line="desk", scored_priority=True)
    assert with_first["escalate_decision_accuracy"] == pytest.approx(0.8)


def _mixed(n: int) -> list[Outcome]:
    """n outcomes, 3 in 4 right, spread over four teams, a fifth of them reviewed."""
    teams = ["desk", "net", "db", "mail"]
    return [
        out(teams[i % 4], teams[i % 4] if i % 4 else teams[(i + 1) % 4], review=i % 5 == 0)
        for i in range(n)
    ]


def test_intervals_hold_the_figure_and_narrow_with_more_tickets() -> None:
    small, large = _mixed(80), _mixed(1280)
    narrow = intervals(large, "desk", False)
    wide = intervals(small, "desk", False)
    for name, figure in (("accuracy", accuracy), ("macro_f1", macro_f1), ("coverage", coverage)):
        lo, hi = wide[name]
        assert lo <= figure(small) <= hi
        lo_n, hi_n = narrow[name]
        assert lo_n <= figure(large) <= hi_n
        assert (hi_n - lo_n) < 0.5 * (hi - lo)  # 16x the tickets: about a quarter the width
    assert "priority_accuracy" not in narrow


def test_intervals_resample_the_figures_as_defined() -> None:
    """One resample: its figures are the plain functions on the tickets drawn."""
    tickets = [*_mixed(60), out("db", "net", escalate=True), out("mail", "desk", escalate=False)]
    rows = np.random.default_rng(7).integers(0, len(tickets), size=len(tickets))
    drawn = [tickets[i] for i in rows]
    spans = intervals(tickets, "desk", False, resamples=1, seed=7)
    expected = {
        "accuracy": accuracy(drawn),
        "macro_f1": macro_f1(drawn),
        "auto_accuracy": auto_accuracy(drawn),
        "escalation_accuracy": escalation_accuracy(drawn),
        "escalate_decision_accuracy": escalate_decision_accuracy(drawn, "desk"),
    }
    for name, value in expected.items():
        assert spans[name] == pytest.approx([value, value]), name


Z = 1.959963984540054


def test_perfect_routing_has_wilsons_interval_not_a_zero_width_one() -> None:
    # every resample of 30 right tickets is 30 right: the bootstrap said 1.000 (1.000-1.000), as
    # if another 30 could not hold a miss. By hand, Wilson's lower bound of n of n is n/(n+z^2).
    perfect = [out(t, t) for t in ["desk", "net", "db"] * 10]
    spans = intervals(perfect, "desk", False)
    assert spans["accuracy"] == pytest.approx([30 / (30 + Z * Z), 1.0])
    assert spans["accuracy"][0] == pytest.approx(0.8865, abs=1e-4)
    assert spans["escalate_decision_accuracy"] == pytest.approx([30 / (30 + Z * Z), 1.0])
    assert spans["coverage"] == pytest.approx([30 / (30 + Z * Z), 1.0])  # none held for review
    assert spans["escalation_accuracy"] == pytest.approx([20 / (20 + Z * Z), 1.0])  # 20 escalated
    assert spans["macro_f1"] is None  # no resample can tell its spread


def test_a_share_that_is_all_misses_has_wilsons_interval_up_from_0() -> None:
    tickets = [out("db", "net", escalate=True) for _ in range(4)]  # 4 escalated, all wrong
    tickets += [out("desk", "desk") for _ in range(6)]
    spans = intervals(tickets, "desk", False)
    assert spans["escalation_accuracy"] == pytest.approx([0.0, Z * Z / (4 + Z * Z)])
    lo, hi = spans["accuracy"]  # 6 of 10: the bootstrap's, with room either side
    assert lo < 0.6 < hi and hi - lo > 0.3
    # each team all right (desk) or all wrong (db): every resample's macro F1 is 1/3
    assert spans["macro_f1"] is None
    mixed = intervals([*tickets, out("db", "db"), out("net", "net")], "desk", False)
    assert mixed["macro_f1"] is not None and mixed["macro_f1"][0] < mixed["macro_f1"][1]


def test_intervals_none_when_nothing_to_resample() -> None:
    assert intervals([], "desk", True) == dict.fromkeys(
        [
            "accuracy",
            "macro_f1",
            "coverage",
            "auto_accuracy",
            "escalation_accuracy",
            "escalate_decision_accuracy",
            "priority_accuracy",
        ]
    )
    only_desk = [out("desk", "desk") for _ in range(5)]
    assert intervals(only_desk, "desk", False)["escalation_accuracy"] is None
