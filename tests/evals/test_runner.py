"""`triage eval` end to end on a tiny self-written TRAIN/TEST set: reports, exit codes, the gate."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from agent.cli import main
from agent.settings import Settings
from evals.datasets import Row
from evals.eval_policy import build_policy, priority_scale
from evals.runner import EvalConfig, run_eval

TOPICS = {
    "network": ["vpn tunnel drops", "wifi signal lost", "dns lookup fails", "firewall blocks port"],
    "database": ["oracle query slow", "postgres deadlock", "tablespace full", "replication lag"],
    "desk": [
        "password reset please",
        "how do I install office",
        "unlock my account",
        "new laptop setup",
    ],
}
LANG = {"network": "en", "database": "de", "desk": "en"}
PRIO = {"network": "high", "database": "medium", "desk": "low"}


def rows(n_per_team: int, offset: int) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for team, phrases in TOPICS.items():
        for i in range(n_per_team):
            phrase = phrases[i % len(phrases)]
            out.append(
                {
                    "id": f"{team}-{offset + i}",
                    "subject": phrase,
                    "body": f"Hello, {phrase} since this morning, ticket {offset + i}. {phrase}.",
                    "requester": f"user{i % 3}",
                    "language": LANG[team],
                    "labels": {"team": team, "prio": PRIO[team]},
                    "answer": f"resolved {phrase}",
                }
            )
    random.Random(offset).shuffle(out)
    return out


def write(path: Path, items: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in items), encoding="utf-8")
    return path


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    return write(tmp_path / "train.jsonl", rows(8, 0)), write(tmp_path / "test.jsonl", rows(3, 100))


def test_eval_writes_every_report(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train, test = files
    out = tmp_path / "out"
    argv = [
        "eval",
        "--train",
        str(train),
        "--test",
        str(test),
        "--label",
        "team",
        "--first-line",
        "desk",
    ]
    code = main([*argv, "--priority-label", "prio", "--out", str(out)])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    for key in (
        "n",
        "accuracy",
        "macro_f1",
        "coverage",
        "auto_accuracy",
        "escalation_accuracy",
        "escalate_decision_accuracy",
        "ece",
        "priority_accuracy",
        "by_language",
        "review_reasons",
        "latency_ms",
        "llm_calls",
        "prompt_tokens",
        "completion_tokens",
        "accuracy_coverage_curve",
        "per_team",
        "version",
        "settings",
    ):
        assert key in metrics, key
    assert metrics["n"] == 9
    assert metrics["accuracy"] >= 0.6  # three well-separated topics
    assert metrics["escalate_decision_accuracy"] is not None
    assert metrics["priority_accuracy"] is not None
    assert set(metrics["by_language"]) == {"en", "de"}
    assert set(metrics["latency_ms"]) >= {"p50", "p99"}
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 5
    assert "Worst misroutes" in page
    assert "| accuracy |" in (out / "report.md").read_text()
    held = sum(1 for line in (out / "predictions.jsonl").open() if json.loads(line)["needs_review"])
    assert sum(r["n"] for r in metrics["review_reasons"].values()) >= held
    assert held and "Why tickets wait for review" in page
    rate = metrics["kpis"]["escalation_accuracy_rate"]
    for report in (page, (out / "report.md").read_text()):
        assert "Product KPIs" in report and f"{rate:.3f}" in report
    printed = capsys.readouterr().out
    assert "accuracy=" in printed
    assert f"reports in {out}/ (metrics.json, predictions.jsonl, report.md, report.html)" in printed
    low, high = metrics["intervals"]["accuracy"]
    assert f"95% intervals: accuracy {low:.4f}-{high:.4f}, " in printed


def test_baseline_regression_exits_3(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train, test = files
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({"accuracy": 1.5, "coverage": 0.0, "ece": 1.0}))
    argv = ["eval", "--train", str(train), "--test", str(test), "--label", "team"]
    code = main([*argv, "--out", str(tmp_path / "o"), "--baseline", str(baseline)])
    assert code == 3
    out = capsys.readouterr().out
    assert "regression: accuracy dropped from 1.5000" in out
    assert "regression: coverage" not in out


def test_bad_file_is_one_error_line(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train, _ = files
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "subject": "x", "labels": {"team": "desk"}}\n{oops\n')
    code = main(
        [
            "eval",
            "--train",
            str(train),
            "--test",
            str(bad),
            "--label",
            "team",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert f"{bad}:2: not valid JSON" in err[0]


def test_unknown_label_and_first_line(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train, test = files
    base = ["eval", "--train", str(train), "--test", str(test), "--out", str(tmp_path / "o")]
    assert main([*base, "--label", "nope"]) == 1
    assert "has no label 'nope'; labels found: prio, team" in capsys.readouterr().err
    assert main([*base, "--label", "team", "--first-line", "GRP_0"]) == 1
    assert "--first-line 'GRP_0' is not a value" in capsys.readouterr().err


def test_usage_errors_exit_2(files: tuple[Path, Path]) -> None:
    train, test = files
    with pytest.raises(SystemExit) as exc:
        main(["eval", "--train", str(train), "--test", str(test), "--label", "team"])
    assert exc.value.code == 2


def test_test_labels_never_change_decisions(tmp_path: Path) -> None:
    train = [Row.model_validate(r) for r in rows(8, 0)]
    test = [Row.model_validate(r) for r in rows(3, 100)]
    shuffled = [
        r.model_copy(update={"labels": {"team": random.Random(i).choice(list(TOPICS))}})
        for i, r in enumerate(test)
    ]
    config = EvalConfig(label="team", first_line="desk")
    settings = Settings(data_dir=tmp_path)
    a = run_eval(train, test, config, settings, progress=False)
    b = run_eval(train, shuffled, config, settings, progress=False)
    assert [o.predicted for o in a.outcomes] == [o.predicted for o in b.outcomes]
    assert [round(o.confidence, 6) for o in a.outcomes] == [
        round(o.confidence, 6) for o in b.outcomes
    ]


def test_an_account_in_the_data_routes_by_the_accounts_history(tmp_path: Path) -> None:
    # One customer account has its own team; its tickets read like everybody's and each of its
    # contacts writes once, so only the account (given as "account" in the rows) tells them apart.
    def account_rows(n: int, offset: int, account: str | None) -> list[Row]:
        phrases = [p for group in TOPICS.values() for p in group]
        return [
            Row.model_validate(
                {
                    "id": f"acme-{offset + i}",
                    "subject": phrase,
                    "body": f"Hello, {phrase} since this morning, ticket {offset + i}. {phrase}.",
                    "requester": f"contact{offset + i}",
                    "account": account,
                    "labels": {"team": "enterprise"},
                }
            )
            for i in range(n)
            for phrase in [phrases[(offset + i) % len(phrases)]]
        ]

    train = [Row.model_validate(r) for r in rows(12, 0)] + account_rows(36, 0, "acme")
    config = EvalConfig(label="team", first_line="desk")
    settings = Settings(data_dir=tmp_path)
    ours = run_eval(train, account_rows(6, 100, "acme"), config, settings, progress=False)
    assert [o.predicted for o in ours.outcomes] == ["enterprise"] * 6
    anonymous = run_eval(train, account_rows(6, 100, None), config, settings, progress=False)
    assert sum(o.predicted == "enterprise" for o in anonymous.outcomes) <= 3


def printer_rows(team: str, n: int, offset: int) -> list[Row]:
    """Near-duplicate printer tickets, all resolved by one team."""
    return [
        Row.model_validate(
            {
                "id": f"printer-{offset + i}",
                "subject": "printer jam on floor 3",
                "body": f"The printer on floor 3 jams again, job {offset + i}. Printer jam.",
                "requester": f"user{offset + i}",
                "labels": {"team": team},
            }
        )
        for i in range(n)
    ]


def test_feedback_learns_each_resolved_ticket_before_the_next(tmp_path: Path) -> None:
    # Printers moved from the desk to the network team: TRAIN still says desk, TEST says network.
    train = [Row.model_validate(r) for r in rows(8, 0)] + printer_rows("desk", 6, 0)
    test = printer_rows("network", 5, 100)
    config = EvalConfig(label="team", first_line="desk")
    settings = Settings(data_dir=tmp_path)
    static = run_eval(train, test, config, settings, progress=False)
    assert [o.predicted for o in static.outcomes] == ["desk"] * 5
    assert "feedback" not in static.metrics
    learning = run_eval(
        train, test, config.model_copy(update={"feedback": True}), settings, progress=False
    )
    # the first is decided before anything was learned; once resolutions against the six old
    # desk cases come back, the twins follow them
    predicted = [o.predicted for o in learning.outcomes]
    assert predicted[0] == "desk" and predicted[-3:] == ["network"] * 3
    learned = learning.metrics["feedback"]
    assert learned["refits"] == 0  # 5 new cases: no refit due yet
    # the control pass routes the same tickets without feedback on the same fitted router
    assert learned["without_feedback"]["accuracy"] == static.metrics["accuracy"] == 0.0
    assert learned["gained"] >= 3 and learned["lost"] == 0
    assert learning.metrics["run"]["feedback"] is True


def test_feedback_flag_reports_learning_with_use(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train, test = files
    out = tmp_path / "out"
    argv = ["eval", "--train", str(train), "--test", str(test), "--label", "team"]
    assert main([*argv, "--feedback", "--out", str(out)]) == 0
    learned = json.loads((out / "metrics.json").read_text())["feedback"]
    assert learned["refits"] == 0 and len(learned["accuracy_by_quarter"]) == 4
    printed = capsys.readouterr().out
    assert "feedback: 0 refits in 0 s; accuracy " in printed
    assert " without), 0 tickets gained, " in printed
    assert "each TEST ticket resolved into the knowledge base" in (out / "report.md").read_text()


def test_feedback_from_a_cold_start_refits_when_due(tmp_path: Path) -> None:
    train = [Row.model_validate(r) for r in rows(8, 0)]
    test = [Row.model_validate(r) for r in rows(20, 100)]
    config = EvalConfig(label="team", first_line="desk", feedback=True)
    result = run_eval(
        [], test, config, Settings(data_dir=tmp_path), False, policy=build_policy(config, train)
    )
    learned = result.metrics["feedback"]
    # fitted after the first resolved ticket (network), at the first of each team it had not
    # learned (the 2nd and 3rd tickets), and again 50 cases later (REFIT_MIN_NEW)
    assert [o.truth for o in result.outcomes[:3]] == ["network", "database", "desk"]
    assert learned["refits"] == 4
    first, *_, last = learned["accuracy_by_quarter"]
    assert last > first


def test_priority_scale_orders_by_urgency() -> None:
    assert priority_scale(["low", "high", "medium", "high"]) == ["high", "medium", "low"]
    assert priority_scale(["P3", "P1", "P2"]) == ["P1", "P2", "P3"]
    assert priority_scale(["Critical", "minor", "low"]) == ["Critical", "low", "minor"]


@pytest.mark.slow
def test_learning_curve_writes_plot_and_points(files: tuple[Path, Path], tmp_path: Path) -> None:
    train, test = files
    out = tmp_path / "curve"
    argv = ["eval", "--train", str(train), "--test", str(test), "--label", "team"]
    assert main([*argv, "--learning-curve", "--out", str(out)]) == 0
    points = json.loads((out / "learning_curve.json").read_text())
    assert [p["share"] for p in points] == [0.0, 0.05, 0.10, 0.25, 0.50, 1.0]
    assert points[0]["n_train"] == 0 and points[-1]["n_train"] == 24
    assert (out / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "metrics.json").exists()


@pytest.mark.slow
def test_learning_curve_at_chosen_percentages(files: tuple[Path, Path], tmp_path: Path) -> None:
    train, test = files
    out = tmp_path / "curve"
    argv = ["eval", "--train", str(train), "--test", str(test), "--label", "team"]
    assert main([*argv, "--learning-curve", "50,100", "--out", str(out)]) == 0
    points = json.loads((out / "learning_curve.json").read_text())
    assert [(p["share"], p["n_train"]) for p in points] == [(0.5, 12), (1.0, 24)]


@pytest.mark.slow
def test_learning_curve_repeats_draw_each_share_from_several_shuffles(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    train, test = files
    out = tmp_path / "curve"
    argv = ["eval", "--train", str(train), "--test", str(test), "--label", "team"]
    assert main([*argv, "--learning-curve", "0,25,100", "--repeats", "3", "--out", str(out)]) == 0
    cold, quarter, full = json.loads((out / "learning_curve.json").read_text())
    # the same cases whatever the shuffle: one run each
    assert "runs" not in cold and "runs" not in full
    assert [r["seed"] for r in quarter["runs"]] == [0, 1, 2]
    accuracies = [r["accuracy"] for r in quarter["runs"]]
    assert quarter["accuracy"] == pytest.approx(sum(accuracies) / 3)
    assert quarter["accuracy_range"] == [min(accuracies), max(accuracies)]
    assert (out / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"


def test_repeats_need_a_learning_curve(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train, test = files
    argv = ["eval", "--train", str(train), "--test", str(test), "--label", "team"]
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--repeats", "3", "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    assert "--repeats draws the shares of a --learning-curve" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("50,abc", "expected percentages like 25,50,100"),
        ("50,120", "within 0..100"),
        ("80,40", "ascend without repeats"),
        ("40,40", "ascend without repeats"),
    ],
)
def test_learning_curve_rejects_bad_percentages(
    files: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    value: str,
    message: str,
) -> None:
    train, test = files
    argv = ["eval", "--train", str(train), "--test", str(test), "--label", "team"]
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--learning-curve", value, "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
