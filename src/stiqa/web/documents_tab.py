"""The documents tab: what the corpus holds, the index's state, re-indexing and uploads."""
from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import gradio as gr

from stiqa.config import Settings
from stiqa.web.figures_tab import figure_changes_html
from stiqa.web.render import esc, render_error

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- documents and index tab


def documents_html(settings: Settings) -> str:
    from stiqa.ingest.files import corpus_files, read_metadata_table

    try:
        files = corpus_files(settings.corpus_dir)
    except FileNotFoundError as exc:
        return render_error(str(exc))
    meta = read_metadata_table(settings.corpus_dir)
    rows = []
    for p in files:
        title, date = meta.get(p.name, ("", ""))
        if not title and p.suffix.lower() in (".md", ".txt"):
            # not in the corpus README's table (an uploaded file): its own first line names it
            try:
                first = next((x for x in p.read_text(encoding="utf-8", errors="replace").splitlines() if x.strip()), "")
            except OSError:
                first = ""
            title = first.lstrip("# ").strip()[:80]
        try:
            size = file_size(p.stat().st_size)
        except OSError:
            size = "?"
        rows.append(f'<tr><td data-label="ファイル"><code>{esc(p.name)}</code></td>'
                    f'<td class="stiqa-doctitle" data-label="文書名">{esc(title)}</td>'
                    f'<td data-label="日付">{esc(display_date(date))}</td>'
                    f'<td data-label="大きさ" style="white-space:nowrap">{size}</td></tr>')
    if not rows:
        rows.append('<tr><td colspan="4">文書がありません</td></tr>')
    return ('<div class="stiqa-status stiqa-docs"><table><tr><th>ファイル</th><th>文書名</th><th>日付</th><th>大きさ</th></tr>'
            + "".join(rows) + f"</table><p>コーパスのフォルダ: <code>{esc(settings.corpus_dir)}</code></p></div>")


def file_size(n: int) -> str:
    """1,234,567 -> 「1.2 MB」, 532 -> 「532 バイト」 (never 「0 KB」 for a small file)."""
    if n < 1024:
        return f"{n:,} バイト"
    if n < 1024 * 1024:
        return f"{n / 1024:,.1f} KB"
    return f"{n / 1024 / 1024:,.1f} MB"


_JA_DATE = re.compile(r"(?:令和|平成)(?:\d{1,2}|元)年(?:度|\d{1,2}月\d{1,2}日)|\d{4}年(?:度|\d{1,2}月\d{1,2}日)")


def display_date(value: str) -> str:
    """The Japanese date or fiscal year in a corpus table's date cell
    (「FY2023 budget request (令和5年度)」 -> 「令和5年度」); the cell as written when it has none."""
    m = _JA_DATE.search(value or "")
    return m.group(0) if m else (value or "")


JST = timezone(timedelta(hours=9), "JST")


def jst_time(stamp: Any) -> str:
    """An index time stamp (「2026-12-04T14:02:34+0000」) as Japan reads it: 「2026年12月4日 23:02」."""
    try:
        t = datetime.strptime(str(stamp), "%Y-%m-%dT%H:%M:%S%z").astimezone(JST)
    except ValueError:
        return str(stamp or "")
    return f"{t.year}年{t.month}月{t.day}日 {t:%H:%M}"


def status_html(settings: Settings) -> str:
    from stiqa.index.build import index_status

    try:
        st = index_status(settings)
    except Exception as exc:  # noqa: BLE001
        return render_error(f"索引の状態を読めません: {exc}")
    if not st.get("exists"):
        return render_error(st.get("message", "索引がありません。"))
    if st.get("stale"):
        fresh = ("<b style='color:#b3261e'>更新が必要</b>（変更されたファイル: "
                 + "、".join(f"<code>{esc(n)}</code>" for n in st.get("stale_files", [])) + "）")
    else:
        fresh = "<b style='color:#1a7f37'>最新</b>"
    rows = [("状態", fresh), ("チャンク数", esc(st.get("chunks"))), ("埋め込みモデル", esc(st.get("model"))),
            ("作成日時", esc(jst_time(st.get("built_at")))), ("世代", f"<code>{esc(st.get('generation'))}</code>"),
            ("索引済みの文書", "<br>".join(f"<code>{esc(f)}</code>" for f in st.get("files", [])))]
    if st.get("skipped"):
        rows.append(("スキップ", "<br>".join(f"<code>{esc(k)}</code>: {esc(v)}" for k, v in st["skipped"].items())))
    if not st.get("model_matches", True) or not st.get("chunker_matches", True):
        rows.append(("注意", "索引の作成方式が現在の設定と異なります。作り直しが必要です。"))
    return ('<div class="stiqa-status"><table>'
            + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows) + "</table></div>")


def reindex(settings: Settings) -> tuple[str, str]:
    """Re-index changed files; returns (report, status) HTML. Chat keeps answering meanwhile."""
    from stiqa.index.build import build_index

    try:
        report = build_index(settings)
        msg = f"<pre>{esc(report_text(report, settings.corpus_dir))}</pre>"
        msg += figure_changes_html(settings, report)  # what the new files change among the figures
    except Exception as exc:  # noqa: BLE001
        log.exception("re-index failed")
        msg = render_error(f"索引の更新に失敗しました: {exc}")
    return msg, status_html(settings)


def report_text(report: Any, corpus_dir: Path) -> str:
    """The index report as the page says it: a file left out of the index but still in corpus/ (one
    the reader skips) is 「索引から除外」, not 「削除」."""
    kept = [n for n in getattr(report, "removed", []) if (Path(corpus_dir) / n).exists()]
    text = report.summary()
    if kept:
        gone = [n for n in report.removed if n not in kept]
        text = text.replace("  削除: " + ", ".join(report.removed),
                            ("  削除: " + ", ".join(gone) + "\n" if gone else "")
                            + "  索引から除外（ファイルは corpus/ に残っています）: " + ", ".join(kept))
    return text


def add_uploaded(settings: Settings, uploaded: Any, replace_existing: bool) -> tuple[str, str, str]:
    """Save an uploaded document into corpus/ and index it: (report, status, documents) HTML.
    The browser's upload is deleted from Gradio's folder either way (added: copied; refused: unwanted)."""
    from stiqa.errors import UploadError
    from stiqa.ingest.upload import add_document, discard

    path = getattr(uploaded, "name", uploaded)
    if not path:
        return render_error("ファイルを選んでください。"), status_html(settings), documents_html(settings)
    original = getattr(uploaded, "orig_name", None) or Path(str(path)).name
    try:
        saved = add_document(settings.corpus_dir, Path(str(path)), original, overwrite=bool(replace_existing))
    except UploadError as exc:
        return render_error(str(exc)), status_html(settings), documents_html(settings)
    finally:
        discard(Path(str(path)), Path(gr.utils.get_upload_folder()))
    report, status = reindex(settings)
    return (f"<p>追加しました: <code>{esc(saved.name)}</code></p>{report}", status, documents_html(settings))
