"""The 「数値一覧」 tab: every figure of the corpus as a filterable table whose rows open their cited
lines, a CSV download, and for a subject stated in two or more fiscal years a chart of its budget
over the years (each point's citation in its tooltip and listed under the chart).

Reads the ledger stored with the index generation (ledger/), so the tab costs no answering time;
the pure functions here (table, CSV, chart data) are what the tests call.
"""
from __future__ import annotations

import html
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import gradio as gr

from stiqa.config import Settings
from stiqa.ledger.changes import ingest_report
from stiqa.ledger.query import FilterError, select
from stiqa.ledger.records import Record, era
from stiqa.ledger.store import Ledger, LedgerMissing
from stiqa.ledger.update import read_ledger

MAX_ROWS = 400
KIND_CHOICES = [("すべて", ""), ("金額", "money"), ("件数・人数", "count"), ("割合", "percent"), ("期間", "period"),
                ("順位", "rank")]
_KIND_JA = {v: k for k, v in KIND_CHOICES if v}


def esc(text: Any) -> str:
    return html.escape(str(text if text is not None else ""), quote=True)


def _lines(settings: Settings, source: str, start: int, end: int, around: int = 1) -> str:
    """The cited lines of a corpus file (and one line either side), or '' when unreadable."""
    from stiqa.index.build import corpus_file_path

    try:
        path = corpus_file_path(settings, source)
        lines = _file_lines(str(path), path.stat().st_mtime_ns)
    except (ValueError, OSError):
        return ""
    lo, hi = max(1, start - around), min(len(lines), end + around)
    return "\n".join(f"{n:>4} {'▶' if start <= n <= end else ' '} {lines[n - 1]}" for n in range(lo, hi + 1))


@lru_cache(maxsize=32)
def _file_lines(path: str, mtime_ns: int) -> list[str]:
    """A corpus file's lines as the index numbers them (PDFs through the index's own reader)."""
    from stiqa.ingest.files import load_document

    return load_document(Path(path)).lines


def _cell_citations(settings: Settings, r: Record) -> str:
    out = []
    for c in r.citations:
        body = _lines(settings, c.source, c.line_start, c.line_end)
        out.append(f'<details class="stiqa-fig-cite"><summary>{esc(c.short())}</summary>'
                   f'<div class="stiqa-fig-sec">{esc(c.section)}</div><pre>{esc(body)}</pre></details>')
    return "".join(out)


def figures_table_html(settings: Settings, records: list[Record], *, limit: int = MAX_ROWS) -> str:
    """The table: subject, kind, year, budget kind, figure as written, label, citations (each opens
    its lines)."""
    if not records:
        return "<p>該当する数値はありません。</p>"
    rows = []
    for r in records[:limit]:
        year = f"{era(r.year)}（{r.year}）" if r.year else ""
        rows.append(f'<tr><td data-label="主題">{esc(r.subject)}</td><td data-label="種類">{esc(_KIND_JA.get(r.kind, r.kind))}</td>'
                    f'<td data-label="年度">{esc(year)}</td><td data-label="予算の種類">{esc(r.budget_kind)}</td>'
                    f'<td data-label="数値"><b>{esc(r.as_written)}</b></td><td data-label="記載">{esc(r.label)}</td>'
                    f'<td data-label="出典">{_cell_citations(settings, r)}</td></tr>')
    more = f"<p>ほか {len(records) - limit} 件（絞り込むか CSV をダウンロードしてください）</p>" if len(records) > limit else ""
    return ('<div class="stiqa-status stiqa-figures"><p>' + f"{len(records)} 件</p><table><tr><th>主題</th><th>種類</th>"
            "<th>年度</th><th>予算の種類</th><th>数値</th><th>記載</th><th>出典（クリックで該当行）</th></tr>"
            + "".join(rows) + "</table>" + more + "</div>")


def csv_file(records: list[Record]) -> str:
    """The records as a CSV file (UTF-8 with BOM, so spreadsheet software reads the Japanese)."""
    from stiqa.ledger.command import csv_text

    folder = Path(tempfile.mkdtemp(prefix="stiqa-figures-"))
    path = folder / "stiqa_figures.csv"
    path.write_text("\ufeff" + csv_text(records), encoding="utf-8")
    return str(path)


def chart_rows(records: list[Record]) -> list[dict[str, Any]]:
    """The budget points of one subject over its fiscal years (money with a year and budget kind),
    each with its citation; [] unless one subject has two or more years."""
    money = [r for r in records if r.kind == "money" and r.year and r.budget_kind and r.value is not None]
    if len({r.subject for r in money}) != 1 or len({r.year for r in money}) < 2:
        return []
    return [{"年度": r.year, "金額（億円）": round(r.value / 10**8, 2), "種類": r.budget_kind,
             "記載": r.as_written, "出典": "; ".join(c.short() for c in r.citations)}
            for r in sorted(money, key=lambda r: (r.year, r.budget_kind))]


def _points_html(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    items = "".join(f"<li>{esc(era(r['年度']))} {esc(r['種類'])}: <b>{esc(r['記載'])}</b> 〔{esc(r['出典'])}〕</li>"
                    for r in rows)
    return f"<div class='stiqa-status'><p>グラフの各点の出典</p><ul>{items}</ul></div>"


def figures_view(settings: Settings, subject: Any = "", year: Any = "", kind: Any = "") -> tuple[str, Any, Any, str]:
    """(table HTML, CSV file, chart, chart's citations HTML) for the filters; a bad filter is a message."""
    try:
        ledger: Ledger = read_ledger(settings.index_dir, corpus_dir=settings.corpus_dir)
        records = select(ledger, subject=str(subject).strip() or None, year=str(year).strip() or None,
                         kind=str(kind).strip() or None)
    except (FilterError, LedgerMissing) as exc:
        return (f'<div class="stiqa-error">{esc(exc)}</div>', None, gr.update(value=None, visible=False), "")
    rows = chart_rows(records)
    if rows:  # a margin above the highest point, so none sits on the frame
        plot = gr.update(value=_frame(rows), visible=True, y_lim=[0, max(r["金額（億円）"] for r in rows) * 1.15])
    else:
        plot = gr.update(value=None, visible=False)
    return figures_table_html(settings, records), csv_file(records), plot, _points_html(rows)


def _frame(rows: list[dict[str, Any]]) -> Any:
    """The chart's rows with each fiscal year a label (「2023年度」): one tick per year stated, where a
    numeric axis drew half-year ticks that read 2022, 2022, 2023 (labels sort as the years do)."""
    import pandas as pd

    return pd.DataFrame([{**r, "年度": f"{r['年度']}年度"} for r in rows])


def subject_choices(settings: Settings) -> list[str]:
    try:
        return read_ledger(settings.index_dir, corpus_dir=settings.corpus_dir).subjects()
    except LedgerMissing:
        return []


def figures_tab(settings: Settings) -> None:
    """Build the tab's components and events (call inside ``gr.Blocks`` and ``gr.Tab``)."""
    gr.Markdown("### 数値一覧\n資料に書かれた数値（金額・件数・割合・期間・順位）を、主題・年度・種類で絞り込めます。"
                "出典をクリックすると、その数値が書かれた資料の行を表示します。主題に二つ以上の年度の予算がある"
                "ときは、その推移をグラフにします。")
    with gr.Row():
        subject = gr.Dropdown(choices=subject_choices(settings), value=None, allow_custom_value=True,
                              label="主題（事業名・略称）", elem_id="stiqa-fig-subject", scale=3)
        year = gr.Textbox(label="年度（例: 2023, 令和5年度, R5）", max_lines=1, elem_id="stiqa-fig-year", scale=1)
        kind = gr.Dropdown(choices=KIND_CHOICES, value="", label="種類", elem_id="stiqa-fig-kind", scale=1)
    with gr.Row():
        show_btn = gr.Button("表示", variant="primary", elem_id="stiqa-fig-show")
        download = gr.File(label="CSV", elem_id="stiqa-fig-csv", interactive=False)
    # points, not lines: each budget kind may have one year only, and a one-point line draws nothing
    plot = gr.ScatterPlot(x="年度", y="金額（億円）", color="種類", tooltip=["年度", "種類", "記載", "出典"],
                          title="予算の推移（億円）", visible=False, elem_id="stiqa-fig-chart")
    points = gr.HTML(elem_id="stiqa-fig-points")
    table = gr.HTML(elem_id="stiqa-fig-table")
    inputs, outputs = [subject, year, kind], [table, download, plot, points]
    view = lambda s, y, k: figures_view(settings, s, y, k)  # noqa: E731
    for trigger in (show_btn.click, year.submit, subject.change, kind.change):
        trigger(view, inputs, outputs, api_visibility="private", concurrency_limit=8)


def figure_changes_html(settings: Settings, report: Any) -> str:
    """The documents tab's report after an upload or re-index: what the new files change."""
    if getattr(report, "noop", True):
        return ""
    text = ingest_report(settings.index_dir)
    return f"<pre class='stiqa-fig-changes'>{esc(text)}</pre>" if text else ""
