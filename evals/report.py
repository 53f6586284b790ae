"""A run's outputs: metrics.json, predictions.jsonl, report.md and a self-contained report.html."""

from __future__ import annotations

import base64
import html
import json
import os
from collections.abc import Sequence
from pathlib import Path

from agent.errors import InputError
from evals import plots
from evals.atomic import write_together
from evals.metrics import Outcome
from evals.report_rows import (
    KPI_HEAD,
    REASON_HEAD,
    headline_rows,
    kpi_rows,
    language_rows,
    notes,
    reason_rows,
    subtitle,
    team_rows,
    worst_misroutes,
)
from evals.runner import EvalResult


def check_out_dir(out_dir: Path) -> None:
    """InputError unless the reports can go to ``out_dir``: checked before a run, so that minutes
    of routing are not lost to a file in its place. Nothing is created yet."""
    if out_dir.exists():
        if not out_dir.is_dir():
            raise InputError(f"--out {out_dir}: not a directory")
        existing = out_dir
    else:
        existing = next(p for p in out_dir.absolute().parents if p.exists())
        if not existing.is_dir():
            raise InputError(f"--out {out_dir}: cannot create it, {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"--out {out_dir}: cannot write to {existing}: permission denied")


def write_reports(result: EvalResult, out_dir: Path, gate_lines: Sequence[str] = ()) -> list[Path]:
    """Write every output file of one run; returns their paths."""
    # Everything is rendered before the first file is written: a failure or Ctrl-C while the
    # plots are drawn leaves the last run's files whole, not its report beside new metrics.
    texts = {
        "metrics.json": json.dumps(result.metrics, indent=2, ensure_ascii=False) + "\n",
        "predictions.jsonl": "".join(o.model_dump_json() + "\n" for o in result.outcomes),
        "report.md": render_markdown(result, gate_lines),
        "report.html": render_html(result, gate_lines),
    }
    # and written together: a full disk or a Ctrl-C while writing leaves them too
    return write_together({out_dir / name: text.encode("utf-8") for name, text in texts.items()})


def _md_cell(text: str) -> str:
    # a team, language or review reason is data: its '|' or line break would end the cell or row
    return " ".join(text.replace("|", "\\|").split())


def _md_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    body = ("| " + " | ".join(_md_cell(cell) for cell in row) + " |" for row in rows)
    return [*lines, *body, ""]


def render_markdown(result: EvalResult, gate_lines: Sequence[str] = ()) -> str:
    """A compact report for pull requests."""
    m = result.metrics
    lines = [f"# Triage eval: label `{m.get('run', {}).get('label')}`", "", subtitle(m) + ".", ""]
    for note in notes(result):
        lines += [f"Note: {note}.", ""]
    lines += _md_table(["figure", "value"], headline_rows(m))
    if gate_lines:
        lines += ["## Gate", "", *[f"- {line}" for line in gate_lines], ""]
    kpis = kpi_rows(m)
    if kpis:
        lines += ["## Product KPIs", ""]
        lines += _md_table(KPI_HEAD, kpis)
    lines += ["## By language", ""]
    lines += _md_table(["language", "n", "accuracy", "coverage", "auto accuracy"], language_rows(m))
    reasons = reason_rows(m)
    if reasons:
        lines += ["## Why tickets wait for review", ""]
        lines += _md_table(REASON_HEAD, reasons)
    lines += ["## Largest teams", ""]
    head = ["team", "support", "predicted", "precision", "recall", "F1"]
    lines += _md_table(head, team_rows(m, 15))
    worst = worst_misroutes(result.outcomes, 5)
    if worst:
        lines += ["## Most confident misroutes", ""]
        lines += [
            f"- `{o.ticket_id}` → {o.predicted} (true {o.truth}), "
            f"confidence {o.confidence:.2f}, by {o.decided_by}"
            for o in worst
        ]
        lines.append("")
    return "\n".join(lines)


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"></figure>'


def _table(rows: Sequence[Sequence[str]], head: Sequence[str]) -> str:
    header = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    cells = ("".join(f"<td>{html.escape(c)}</td>" for c in row) for row in rows)
    body = "".join(f"<tr>{row}</tr>" for row in cells)
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def _misroute(o: Outcome) -> str:
    esc = html.escape
    evidence = "".join(f"<li>{esc(e)}</li>" for e in o.evidence)
    alternatives = ", ".join(f"{esc(t)} {s:.2f}" for t, s in o.alternatives)
    summary = (
        f"<code>{esc(o.ticket_id)}</code> → <b>{esc(o.predicted)}</b> (true {esc(o.truth)}), "
        f"confidence {o.confidence:.2f}, by {esc(o.decided_by)}"
    )
    return (
        f"<details><summary>{summary}</summary><pre>{esc(o.text)}</pre>"
        f"<p>alternatives: {alternatives}</p><ul>{evidence}</ul></details>"
    )


STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
figure{display:inline-block;margin:.5em}img{max-width:100%}
pre{white-space:pre-wrap;background:#f6f6f6;padding:.5em}details{margin:.4em 0}
.gate{background:#fee;padding:.5em;border:1px solid #c00}
"""


def _figures(result: EvalResult) -> list[str]:
    m, outs = result.metrics, result.outcomes
    return [
        "<h2>Figures</h2>",
        _img(plots.coverage_curve(m["accuracy_coverage_curve"], m.get("coverage")), "coverage"),
        _img(plots.reliability_diagram(m.get("reliability", []), m.get("ece")), "reliability"),
        _img(plots.confusion(outs), "confusion matrix of the largest teams"),
        _img(plots.team_bars(m.get("per_team", {})), "per-team precision, recall, F1"),
        _img(plots.latency_histogram(outs), "latency histogram"),
    ]


def render_html(result: EvalResult, gate_lines: Sequence[str] = ()) -> str:
    """One self-contained page: headline, figures (embedded PNG), teams and worst misroutes."""
    m = result.metrics
    title = f"Triage eval: label {m.get('run', {}).get('label')}"
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p>{html.escape(subtitle(m))}</p>",
    ]
    for note in notes(result):
        parts.append(f"<p><b>Note:</b> {html.escape(note)}.</p>")
    if gate_lines:
        parts.append("<div class='gate'>" + "<br>".join(map(html.escape, gate_lines)) + "</div>")
    parts += ["<h2>Headline</h2>", _table(headline_rows(m), ["figure", "value"])]
    kpis = kpi_rows(m)
    if kpis:
        parts += ["<h2>Product KPIs</h2>", _table(kpis, KPI_HEAD)]
    if result.outcomes:
        parts += _figures(result)
    parts += ["<h2>By language</h2>"]
    parts += [_table(language_rows(m), ["language", "n", "accuracy", "coverage", "auto accuracy"])]
    reasons = reason_rows(m)
    if reasons:
        parts += ["<h2>Why tickets wait for review</h2>", _table(reasons, REASON_HEAD)]
    parts += ["<h2>Teams</h2>"]
    parts += [_table(team_rows(m), ["team", "support", "predicted", "precision", "recall", "F1"])]
    parts += ["<h2>Worst misroutes (confident and wrong, routed without review)</h2>"]
    parts += [_misroute(o) for o in worst_misroutes(result.outcomes)] or ["<p>none</p>"]
    run = json.dumps(m.get("run", {}) | {"settings": m.get("settings")}, indent=2)
    parts += ["<h2>Run</h2>", f"<pre>{html.escape(run)}</pre>", "</body></html>"]
    return "\n".join(parts)
