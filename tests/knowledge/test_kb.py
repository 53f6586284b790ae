"""The knowledge base facade: idempotent ingest, search, stats, refit, and its CLI."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from kb_cli_support import run_kb
from router_fakes import RecordingRouter

from agent.errors import InputError, TriageError
from agent.settings import Settings
from knowledge.cases import Case
from knowledge.cli import format_report
from knowledge.embeddings import CachedEmbedder, MiniLMEmbedder
from knowledge.feedback import Feedback
from knowledge.ingest import IngestReport, read_cases
from knowledge.kb import KnowledgeBase
from knowledge.memory_store import InMemoryCaseStore
from knowledge.store import ChromaCaseStore


class HashingEmbedder:
    """Bag of hashed words, L2-normalised; counts the texts it embeds."""

    name = "hashing-test"
    dim = 64

    def __init__(self) -> None:
        self.embedded = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded += len(texts)
        out = np.full((len(texts), self.dim), 1e-3, dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)


TOPICS = {
    "network": "vpn tunnel drops wifi",
    "billing": "invoice charged refund",
    "desk": "password reset account locked",
}


def _cases(n: int = 30) -> list[Case]:
    teams = list(TOPICS)
    return [
        Case(
            id=f"c{i}",
            subject=f"issue {i}",
            body=f"{TOPICS[teams[i % 3]]} case {i}",
            team=teams[i % 3],
            language="en" if i % 2 else "de",
        )
        for i in range(n)
    ]


def test_ingest_counts_and_reingest_is_free() -> None:
    embedder, router = HashingEmbedder(), RecordingRouter()
    kb = KnowledgeBase(InMemoryCaseStore(), embedder, router)
    first = kb.ingest(_cases(), batch_size=7)
    assert (first.added, first.updated, first.unchanged, first.embedded) == (30, 0, 0, 30)
    # the router journals what it observes: its models are not re-saved for every ingest
    assert len(router.observed) == 30 and router.saves == 0
    embedder.embedded = 0
    second = kb.ingest(_cases(), batch_size=7)
    assert (second.added, second.updated, second.unchanged) == (0, 0, 30)
    assert embedder.embedded == 0 and second.embedded == 0
    assert len(router.observed) == 30 and router.saves == 0


def test_changed_label_is_an_update_seen_by_the_router() -> None:
    router = RecordingRouter()
    kb = KnowledgeBase(InMemoryCaseStore(), HashingEmbedder(), router)
    kb.ingest(_cases(6))
    moved = _cases(6)[2].model_copy(update={"team": "billing"})
    report = kb.ingest([moved, *_cases(6)[3:]])
    assert (report.added, report.updated, report.unchanged) == (0, 1, 3)
    assert router.observed[-1] == moved
    assert kb.store.get("c2") == moved


def test_textless_and_repeated_records_are_skipped_with_reasons() -> None:
    kb = KnowledgeBase(InMemoryCaseStore(), HashingEmbedder())
    report = kb.ingest([Case(id="e"), Case(id="a", body="one"), Case(id="a", body="two")])
    assert report.added == 1 and kb.store.get("a") == Case(id="a", body="two")
    assert {(s.ref, s.reason.split(":")[0]) for s in report.skipped} == {
        ("id e", "no subject or body"),
        ("id a", "repeated id"),
    }


def test_an_id_repeated_in_a_later_batch_is_reported_not_counted_twice() -> None:
    kb = KnowledgeBase(InMemoryCaseStore(), HashingEmbedder())
    records = [Case(id="a", body="one"), Case(id="b", body="bee"), Case(id="a", body="two")]
    report = kb.ingest(records, batch_size=2)
    assert (report.added, report.updated, report.unchanged) == (2, 0, 0)
    skipped = [(s.ref, s.reason) for s in report.skipped]
    assert skipped == [("id a", "repeated id: later record kept")]
    assert kb.store.get("a") == Case(id="a", body="two")
    again = kb.ingest(
        [Case(id="a", body="two"), Case(id="c", body="sea"), Case(id="a", body="two")], batch_size=2
    )
    assert (again.added, again.updated, again.unchanged) == (1, 0, 1)
    assert [s.ref for s in again.skipped] == ["id a"]


class InterruptedEmbedder(HashingEmbedder):
    """Ctrl-C arrives while it embeds its ``calls``-th batch."""

    def __init__(self, calls: int) -> None:
        super().__init__()
        self.calls = calls

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls -= 1
        if self.calls == 0:
            raise KeyboardInterrupt
        return super().embed(texts)


def test_an_interrupted_ingest_reports_what_it_stored_and_a_rerun_finishes() -> None:
    store = InMemoryCaseStore()
    report = IngestReport()
    with pytest.raises(KeyboardInterrupt):
        KnowledgeBase(store, InterruptedEmbedder(calls=3)).ingest(
            _cases(9), batch_size=2, report=report
        )
    assert (report.added, report.updated, report.unchanged) == (4, 0, 0)
    assert store.count() == 4 and report.seconds > 0

    def stopped() -> Iterator[Case]:
        yield from _cases(9)[:5]
        raise KeyboardInterrupt

    report = IngestReport()
    with pytest.raises(KeyboardInterrupt):
        KnowledgeBase(store, HashingEmbedder()).ingest(stopped(), batch_size=2, report=report)
    assert (report.added, report.unchanged) == (0, 4)  # the fifth was read, not yet stored
    rerun = KnowledgeBase(store, HashingEmbedder()).ingest(_cases(9), batch_size=2)
    assert (rerun.added, rerun.unchanged) == (5, 4) and store.count() == 9


def test_search_stats_and_refit() -> None:
    router = RecordingRouter(fitted=False)
    kb = KnowledgeBase(InMemoryCaseStore(), HashingEmbedder(), router)
    with pytest.raises(TriageError, match="empty"):
        kb.refit()
    kb.ingest(_cases())
    assert router.saves == 0
    hits = kb.search("my invoice was charged twice, refund please", k=3)
    assert {h.case.team for h in hits} == {"billing"}
    stats = kb.stats()
    assert stats.count == 30 and stats.teams == {"network": 10, "billing": 10, "desk": 10}
    assert stats.languages == {"de": 15, "en": 15} and stats.label_sources == {"import": 30}
    assert (stats.embedding_model, stats.store) == ("hashing-test", "memory")
    assert kb.refit() == {"cases": 30}
    assert len(router.fitted_on) == 30 and router.saves == 1
    assert router.described is None  # no policy described its teams


def test_a_refit_gets_the_policys_team_descriptions_as_vectors() -> None:
    router = RecordingRouter(fitted=False)
    kb = KnowledgeBase(InMemoryCaseStore(), HashingEmbedder(), router)
    kb.ingest(_cases())
    texts = {"billing": "billing: invoices, refunds", "network": "network: vpn, wifi"}
    vectors = kb.describe_teams(texts)
    assert list(vectors) == ["billing", "network"]
    assert np.allclose(vectors["billing"], kb.embedder.embed([texts["billing"]])[0])
    kb.refit()
    assert router.described is not None and list(router.described) == ["billing", "network"]


def test_the_knowledge_base_runs_on_a_chroma_server(tmp_path: Path, chroma_server: int) -> None:
    settings = Settings(
        data_dir=tmp_path,
        chroma_mode="http",
        chroma_port=chroma_server,
        collection=f"kb-{uuid.uuid4().hex[:12]}",
    )
    kb = KnowledgeBase.open(settings)
    assert kb.ingest(_cases()).added == 30
    assert kb.stats().store == f"http://127.0.0.1:{chroma_server}"
    assert kb.refit()["n"] == 30
    hits = kb.search("my invoice was charged twice, refund please", k=3)
    assert hits[0].case.team == "billing"
    kb.feedback(Feedback(ticket_id="c1", correct_team="desk", label_source="specialist"))
    kb.close()
    again = KnowledgeBase.open(settings)  # another process, same server: nothing is lost
    assert again.stats().count == 30
    corrected = again.store.get("c1")
    assert corrected is not None and corrected.team == "desk"
    assert again.router is not None and again.router.is_fitted
    again.close()


def test_refit_without_router_is_a_clear_error() -> None:
    with pytest.raises(TriageError, match="no learned router"):
        KnowledgeBase(InMemoryCaseStore(), HashingEmbedder()).refit()


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def test_chroma_with_real_embeddings_finds_the_near_duplicate(
    tmp_path: Path, minilm: MiniLMEmbedder
) -> None:
    store = ChromaCaseStore.open(Settings(data_dir=tmp_path))
    embedder = CachedEmbedder(minilm, tmp_path / "cache.sqlite")
    kb = KnowledgeBase(store, embedder)
    cases = [
        Case(
            id="vpn",
            subject="VPN keeps disconnecting",
            body="The VPN client drops every hour.",
            team="network",
        ),
        Case(
            id="inv",
            subject="Invoice charged twice",
            body="We were billed twice this month.",
            team="billing",
        ),
        Case(
            id="pwd", subject="Password reset", body="I am locked out of my account.", team="desk"
        ),
    ]
    assert kb.ingest(cases).added == 3
    hits = kb.search("my vpn connection drops every hour", k=3)
    assert hits[0].case.id == "vpn" and hits[0].similarity > hits[1].similarity
    misses = embedder.misses
    assert kb.ingest(cases).unchanged == 3 and embedder.misses == misses
    kb.close()


def test_a_spoilt_embedding_cache_starts_afresh(tmp_path: Path) -> None:
    """The cache holds nothing that cannot be computed again: a file a crash or a full disk
    spoilt costs a re-embedding, not a traceback from every command."""
    path = tmp_path / "cache.sqlite"
    path.write_bytes(b"not a database" * 100)
    inner = HashingEmbedder()
    cached = CachedEmbedder(inner, path)
    first = cached.embed(["vpn drops", "invoice twice"])
    assert inner.embedded == 2
    again = CachedEmbedder(inner, path).embed(["vpn drops", "invoice twice"])
    assert inner.embedded == 2 and np.array_equal(first, again)


def test_cli_search_and_stats_print_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(data_dir=tmp_path)
    kb = KnowledgeBase.open(settings, with_router=False)
    kb.ingest([Case(id="p1", subject="Printer jammed", body="paper stuck in tray 2", team="desk")])
    kb.close()
    assert run_kb(["kb", "search", "the printer has a paper jam", "-k", "1"], settings) == 0
    assert "desk" in capsys.readouterr().out
    assert run_kb(["kb", "stats"], settings) == 0
    out = capsys.readouterr().out
    assert "cases: 1" in out and "desk 1" in out


@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
def test_a_blank_search_is_refused_not_answered_with_arbitrary_cases(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], query: str
) -> None:
    kb = KnowledgeBase(InMemoryCaseStore(), HashingEmbedder())
    kb.ingest(_cases(6))
    with pytest.raises(InputError, match="search text is empty"):
        kb.search(query)
    settings = Settings(data_dir=tmp_path)
    stored = KnowledgeBase.open(settings, with_router=False)
    stored.ingest(_cases(3))
    stored.close()
    assert run_kb(["kb", "search", query], settings) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("triage: error: the search text is empty")


def test_an_ingest_keeps_what_it_does_not_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same export without --label carries no team: it must not wipe the stored ones, nor the
    outcome a specialist's feedback recorded, which no export schema carries."""
    settings = Settings(data_dir=tmp_path)
    export = tmp_path / "past.jsonl"
    records = [
        {
            "id": f"T{i}",
            "subject": f"vpn drops {i}",
            "body": "tunnel resets",
            "labels": {"g": "net"},
        }
        for i in range(3)
    ]
    export.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    assert run_kb(["kb", "ingest", str(export), "--label", "g"], settings) == 0
    kb = KnowledgeBase.open(settings, with_router=False)
    kb.feedback(Feedback(ticket_id="T0", correct_team="desk", handling_hours=2, first_route="net"))
    kb.close()
    capsys.readouterr()

    assert run_kb(["kb", "ingest", str(export)], settings) == 0
    assert "added 0, updated 0, unchanged 3" in capsys.readouterr().out
    kb = KnowledgeBase.open(settings, with_router=False)
    stored = kb.store.get_many(["T0", "T1", "T2"])
    assert [stored[i].team for i in ("T0", "T1", "T2")] == ["desk", "net", "net"]
    assert (stored["T0"].label_source, stored["T0"].handling_hours) == ("specialist", 2)

    # what the export does carry still replaces the stored value, but not a specialist's label
    relabelled = KnowledgeBase(kb.store, kb.embedder).ingest(
        [Case(id="T0", subject="vpn drops 0", body="tunnel resets now", team="net")],
        keep=read_cases(export, label="g").unread,
    )
    assert relabelled.updated == 1 and relabelled.labels_kept == {"specialist": 1}
    after = kb.store.get("T0")
    assert after is not None
    assert (after.body, after.team, after.label_source, after.first_route) == (
        "tunnel resets now",
        "desk",
        "specialist",
        "net",
    )
    kb.close()


def test_cli_ingest_error_is_one_line_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(data_dir=tmp_path)
    assert run_kb(["kb", "ingest", str(tmp_path / "nope.jsonl")], settings) == 1
    err = capsys.readouterr().err
    assert err.startswith("triage: error: cannot read") and err.count("\n") == 1


@pytest.mark.parametrize(
    ("name", "text"), [("a.jsonl", ""), ("b.jsonl", "\n  \n"), ("c.csv", "Subject,Group\n")]
)
def test_cli_ingest_of_a_file_without_records_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    labelled = (
        ["--map", "subject=Subject,team=Group"] if name.endswith(".csv") else ["--label", "g"]
    )
    assert run_kb(["kb", "ingest", str(path), *labelled], Settings(data_dir=tmp_path)) == 0
    out = capsys.readouterr().out
    assert out.startswith("added 0, updated 0, unchanged 0, skipped 0")
    assert f"note: {path} holds no records" in out


def test_cli_with_a_data_dir_that_is_a_file_is_one_line_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    taken = tmp_path / "data"
    taken.write_text("not a directory\n", encoding="utf-8")
    for argv in (["kb", "stats"], ["kb", "search", "vpn"], ["kb", "refit"]):
        assert run_kb(argv, Settings(data_dir=taken)) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"triage: error: cannot create the data directory {taken}: ")
        assert "TRIAGE_DATA_DIR" in err and err.count("\n") == 1


def test_cli_ingest_reports_skips(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("knowledge.router")
    path = tmp_path / "t.jsonl"
    good = {"id": "1", "subject": "vpn down", "body": "", "labels": {"g": "net"}}
    path.write_text(json.dumps(good) + "\n{oops\n", encoding="utf-8")
    assert run_kb(["kb", "ingest", str(path), "--label", "g"], Settings(data_dir=tmp_path)) == 0
    out = capsys.readouterr().out
    assert "added 1" in out and "skipped 1" in out and "line 2: invalid JSON" in out


def test_cli_ingest_of_csv_exports_without_ids_keeps_every_ticket_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    months = {
        "jan": ["vpn drops every hour,Net", "invoice charged twice,Billing"],
        "feb": ["printer paper jam in tray 2,Desk", "password reset please,Desk"],
    }
    for month, rows in months.items():  # two monthly exports that share a file name
        (tmp_path / month).mkdir()
        path = tmp_path / month / "tickets.csv"
        path.write_text("\n".join(["Description,Group", *rows]) + "\n", encoding="utf-8")
    argv = ["kb", "ingest", "--map", "team=Group,body=Description"]
    assert run_kb([*argv, str(tmp_path / "jan" / "tickets.csv")], settings) == 0
    assert run_kb([*argv, str(tmp_path / "feb" / "tickets.csv")], settings) == 0
    out = capsys.readouterr().out
    assert out.count("added 2, updated 0") == 2
    assert "note: no id column mapped: each row's id is derived from its body," in out
    assert run_kb([*argv, str(tmp_path / "feb" / "tickets.csv")], settings) == 0
    assert "added 0, updated 0, unchanged 2" in capsys.readouterr().out
    assert run_kb(["kb", "stats"], settings) == 0
    assert "cases: 4" in capsys.readouterr().out


def test_cli_ingest_says_when_the_router_needs_a_fit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(data_dir=tmp_path)

    def export(name: str, cases: list[Case]) -> str:
        path = tmp_path / name
        lines = [
            json.dumps({"id": c.id, "subject": c.subject, "body": c.body, "labels": {"g": c.team}})
            for c in cases
        ]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return str(path)

    first = _cases(30)
    assert run_kb(["kb", "ingest", export("a.jsonl", first), "--label", "g"], settings) == 0
    assert "not fitted yet: run `triage kb refit`" in capsys.readouterr().out
    assert run_kb(["kb", "refit"], settings) == 0
    later = [c.model_copy(update={"id": f"n{c.id}", "body": f"{c.body} again"}) for c in _cases(60)]
    assert run_kb(["kb", "ingest", export("b.jsonl", later[:20]), "--label", "g"], settings) == 0
    assert "arrived since" not in capsys.readouterr().out  # 20 new: no refit due yet
    assert run_kb(["kb", "ingest", export("c.jsonl", later[20:]), "--label", "g"], settings) == 0
    assert "60 cases arrived since the router was fitted" in capsys.readouterr().out
    # the same export again with --refit: nothing new to store, but the refit that was due runs
    assert (
        run_kb(["kb", "ingest", str(tmp_path / "c.jsonl"), "--label", "g", "--refit"], settings)
        == 0
    )
    assert "fitted on 90 cases" in capsys.readouterr().out
    assert (
        run_kb(["kb", "ingest", str(tmp_path / "c.jsonl"), "--label", "g", "--refit"], settings)
        == 0
    )
    assert "fitted on" not in capsys.readouterr().out  # nothing due: no second fit


def test_cli_ingest_refit_fits_a_new_knowledge_base_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(data_dir=tmp_path)
    assert run_kb(["kb", "ingest", str(tmp_path / "none.jsonl"), "--refit"], settings) == 1
    path = tmp_path / "a.jsonl"
    lines = [
        json.dumps({"id": c.id, "subject": c.subject, "body": c.body, "labels": {"g": c.team}})
        for c in _cases(30)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert run_kb(["kb", "ingest", str(path), "--label", "g", "--refit"], settings) == 0
    out = capsys.readouterr().out
    assert "fitted on 30 cases" in out and "not fitted yet" not in out
    kb = KnowledgeBase.open(settings)
    assert kb.router is not None and kb.router.is_fitted and not kb.router.needs_refit


def test_format_report_groups_reasons() -> None:
    from knowledge.ingest import IngestReport, Skipped

    report = IngestReport(
        added=2, skipped=[Skipped(ref=f"line {i}", reason="no label 'g'") for i in range(3)]
    )
    text = format_report(report)
    assert "added 2" in text and "skipped 3: no label 'g'" in text
    assert "note:" not in text
    report.notes = ["ids derived"]
    assert format_report(report).endswith("\nnote: ids derived")


def test_saved_router_is_not_used_with_another_embedding_model(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from knowledge.router import LearnedRouter

    settings = Settings(data_dir=tmp_path)
    kb = KnowledgeBase(
        InMemoryCaseStore(), HashingEmbedder(), LearnedRouter(model_dir=settings.model_dir)
    )
    kb.ingest(_cases())
    kb.refit()
    assert (settings.model_dir / "embedding-model.txt").read_text().strip() == "hashing-test"
    other = KnowledgeBase.open(settings)  # the default local model, not the hashing one
    assert other.router is not None and not other.router.is_fitted, "trained on other vectors"
    assert "learned from hashing-test embeddings" in caplog.text
    (settings.model_dir / "embedding-model.txt").write_text(f"{other.embedder.name}\n")
    again = KnowledgeBase.open(settings)
    assert again.router is not None and again.router.is_fitted
    again.close()
    other.close()


def test_cli_refit_learns_with_the_policy_files_team_descriptions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "policy.yaml"
    teams = ", ".join(f"{{name: {t}, description: '{TOPICS[t]}'}}" for t in TOPICS)
    policy.write_text(f"first_line_team: desk\nteams: [{teams}]\n", encoding="utf-8")
    settings = Settings(data_dir=tmp_path, policy_path=policy)
    KnowledgeBase.open(settings).ingest(_cases())
    assert run_kb(["kb", "refit"], settings) == 0
    team = KnowledgeBase.open(settings).router._team  # type: ignore[union-attr]
    assert team is not None and team.described
    # an unreadable policy does not block a refit: it fits without descriptions and says so
    broken = settings.model_copy(update={"policy_path": tmp_path / "missing.yaml"})
    assert run_kb(["kb", "refit"], broken) == 0
    assert "refitting without the policy's team descriptions" in capsys.readouterr().err
    team = KnowledgeBase.open(settings).router._team  # type: ignore[union-attr]
    assert team is not None and not team.described


def test_cli_refit_prints_a_summary_not_the_raw_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(data_dir=tmp_path, policy_path=tmp_path / "missing.yaml")
    KnowledgeBase.open(settings).ingest(_cases(30))
    capsys.readouterr()
    assert run_kb(["kb", "refit"], settings) == 0
    out = capsys.readouterr().out
    assert re.match(r"router router-\S+ fitted on 30 cases in [\d.]+ s\n", out)
    assert "team model: 30 labelled cases, 3 teams; stacked" in out
    assert re.search(r"  validation: accuracy \d+\.\d% on \d+ cross-validated cases, ", out)
    assert "cases per team (3 teams): " in out
    assert "weights" not in out and "{" not in out  # the stacker's raw weights stay in its files
