"""The web face: a Gradio chat in Japanese, with cited sources, a documents/index tab, and a
program-finder tab (「制度をさがす」: filters from the catalog's tags and a comparison table whose
every value links to the cited lines it comes from).

Everything shown comes from the engine (``stiqa.chat``): this module only renders. Two rules:

* Every piece of document or user text is HTML-escaped before it reaches the page; the only
  markup is our own (cards, and ``<mark>`` around the already-escaped answering span).
* Each browser session (and each ``gradio_client`` session) holds its own ``Conversation`` in a
  ``gr.State``; the engine itself is shared and fetched per question with ``get_assistant`` so a
  re-index is picked up without losing anyone's turns. Each answer's message carries the id of its
  turn (``metadata.id``), so a rating lands on that turn whatever else the chat shows; clearing the
  chat (the trash icon or 「新しい会話」) starts a new conversation.
* Every message also carries its plain text (``data-copy``): the copy button and screen readers get
  the answer with its numbered citations, not our markup (``PAGE_SCRIPT``).
"""
from __future__ import annotations

import html
import logging
import re
import os
import unicodedata
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no usage pings

import gradio as gr  # noqa: E402

from .config import is_loopback  # noqa: F401  (re-exported)
from .config import Settings  # noqa: E402
from .upload import MAX_BYTES, SUFFIXES as UPLOAD_SUFFIXES  # noqa: E402
from .models import Answer, Citation  # noqa: E402
from .web_figures import figure_changes_html, figures_tab  # noqa: E402  (the 数値一覧 tab, issue 21)

log = logging.getLogger(__name__)

EXAMPLES = [
    "SICORPの令和5年度予算額（案）はいくらですか？",
    "博士課程の学生で3か月海外に行きたい",
    "SATREPSって何？",
]

CSS = """
.stiqa-answer { line-height: 1.7; }
.stiqa-interp { color: #555; font-size: 0.92em; margin-bottom: 0.4em; }
.stiqa-text { font-size: 1.02em; margin-bottom: 0.6em; }
.stiqa-abstain { border-left: 4px solid #c77700; background: #fff8ec; padding: 0.4em 0.7em;
                 margin-bottom: 0.6em; color: #222; }
.stiqa-error { border-left: 4px solid #b3261e; background: #fdecea; padding: 0.4em 0.7em; color: #222; }
.stiqa-notice { color: #6b4e00; font-size: 0.9em; margin: 0.3em 0; }
.stiqa-srchead { font-weight: bold; margin: 0.6em 0 0.3em; color: #333; }
.stiqa-card { border: 1px solid #d0d7de; border-radius: 6px; padding: 0.45em 0.7em; margin: 0.35em 0;
              background: #fafbfc; color: #222; }
.stiqa-cardhead { font-size: 0.86em; color: #444; margin-bottom: 0.25em; }
.stiqa-num { display: inline-block; min-width: 1.6em; font-weight: bold; color: #0b5cad; }
.stiqa-file { font-family: ui-monospace, monospace; color: #222; }
.stiqa-sec { color: #555; }
.stiqa-passage { font-size: 0.9em; color: #333; max-height: 18em; overflow-y: auto; }
.stiqa-passage mark { background: #ffe58a; color: #000; padding: 0 1px; }
.stiqa-sep { color: #999; padding: 0 0.3em; }
.stiqa-status table { border-collapse: collapse; }
.stiqa-status td, .stiqa-status th { border: 1px solid #d0d7de; padding: 0.25em 0.6em; text-align: left; }
.stiqa-programs { color: #222; }
.stiqa-note { color: #444; font-size: 0.92em; margin: 0.25em 0; }
.stiqa-count { font-weight: bold; margin: 0.4em 0; }
.stiqa-cmpwrap { overflow-x: auto; max-width: 100%; }
.stiqa-cmp { border-collapse: collapse; font-size: 0.9em; line-height: 1.5; }
#stiqa-programs .stiqa-cmp th, #stiqa-programs .stiqa-cmp td { border: 1px solid #d0d7de; padding: 0.35em 0.55em; vertical-align: top;
                               text-align: left; min-width: 11em; max-width: 19em; background: #fff; color: #222; }
#stiqa-programs .stiqa-cmp th.stiqa-prog { background: #eef4fb; }
#stiqa-programs .stiqa-cmp th.stiqa-rowhead { position: sticky; left: 0; z-index: 1; background: #f3f5f7; min-width: 7em;
                              width: 7em; white-space: nowrap; }
#stiqa-programs .stiqa-cmp td.stiqa-reason { background: #f6fbf4; }
.stiqa-val + .stiqa-val { margin-top: 0.3em; padding-top: 0.3em; border-top: 1px dotted #d0d7de; }
.stiqa-lead { color: #555; font-size: 0.92em; }
.stiqa-abbr { color: #555; font-weight: normal; font-size: 0.88em; }
.stiqa-none { color: #888; }
#stiqa-programs a.stiqa-cite { color: #0b4f9c; padding: 0; text-align: left; text-decoration: underline dotted #6b93c4;
                               text-underline-offset: 3px; }
#stiqa-programs a.stiqa-cite:hover { background: #eef4fb; text-decoration-style: solid; }
a.stiqa-cite sup { color: #0b5cad; font-size: 0.75em; margin-left: 1px; }
.stiqa-srcpanel { margin-top: 0.8em; }
.stiqa-src { scroll-margin-top: 4em; }
.stiqa-src:target { border-color: #0b5cad; box-shadow: 0 0 0 2px #9cc3ee; background: #f3f8fe; }
/* an input message (「質問が空です」) is no answer: no rating buttons under it (Gradio shows them under
   every bot message and has no per-message switch) */
#stiqa-chat .message-row:has(.stiqa-error) .message-buttons,
#stiqa-chat .message-wrap > div:has(.stiqa-error) .message-buttons { display: none; }
.stiqa-status th { white-space: nowrap; }
.stiqa-docs { overflow-x: auto; max-width: 100%; }
.stiqa-docs table { width: 100%; }
.stiqa-docs td code { overflow-wrap: anywhere; }
.stiqa-docs td.stiqa-doctitle { min-width: 10em; }
@media (max-width: 640px) {
  /* a phone: each document a block of its own lines instead of four squeezed columns */
  .stiqa-docs table, .stiqa-docs tbody, .stiqa-docs tr, .stiqa-docs td { display: block; width: auto; }
  .stiqa-docs tr:first-child { display: none; }
  .stiqa-docs tr { border: 1px solid #d0d7de; border-radius: 6px; margin: 0.4em 0; padding: 0.2em 0; }
  .stiqa-docs td { border: none !important; padding: 0.1em 0.6em; }
  .stiqa-docs td code { word-break: break-all; }
  .stiqa-docs td[data-label]::before { content: attr(data-label) "："; color: #555; font-size: 0.88em; }
}
"""

#: Gradio's own interface strings in Japanese (``gr.I18n``; the browser's locale would otherwise pick
#: English for most of them, in a page that is Japanese throughout)
UI_JA = {"chatbot.copy_message": "回答をコピー", "chatbot.copied_message": "コピーしました",
         "chatbot.like": "よい", "chatbot.dislike": "よくない", "chatbot.clear": "会話をクリア",
         "chatbot.retry": "やり直す", "chatbot.undo": "取り消す", "chatbot.edit": "編集",
         "chatbot.submit": "送信", "chatbot.cancel": "キャンセル", "common.error": "エラー",
         "common.clear": "クリア", "common.remove": "削除", "common.download": "ダウンロード",
         "common.share": "共有", "common.loading": "読み込み中", "common.submit": "送信",
         "upload_text.click_to_upload": "クリックして選ぶ", "upload_text.drop_file": "ここにファイルをドロップ",
         "upload_text.or": "または", "common.or": "または"}

#: What gr.I18n cannot reach, done in the page: Gradio copies a message's content as given (our HTML)
#: and reads it into the aria-label, and a few labels and messages are hard-coded in English. The
#: copy button gets the plain text each message carries (data-copy), the labels plain text, and the
#: fixed English strings a Japanese wording. Gradio offers no hook for any of these.
PAGE_SCRIPT = """<script>
(() => {
  const plain = (html) => {
    if (typeof html !== "string" || !html.includes("data-copy=")) return null;
    const el = new DOMParser().parseFromString(html, "text/html").querySelector("[data-copy]");
    return el ? el.getAttribute("data-copy") : null;
  };
  const clip = navigator.clipboard;
  if (clip && clip.writeText) {
    const write = clip.writeText.bind(clip);
    clip.writeText = (text) => write(plain(text) ?? text);
  }
  const WORDS = [[/^More tabs$/, "ほかのタブ"], [/^Liked$/, "よい（評価済み）"], [/^Disliked$/, "よくない（評価済み）"], [/^Loading content$/, "回答を準備中"],
    [/^Invalid file types?: (.*)\\. Only (.*) allowed\\.$/, "追加できない種類のファイルです: $1（$2 のみ）"],
    [/^File\\(s\\) exceed the maximum allowed size of (.*?): (.*)$/, "ファイルが大きすぎます（上限 $1）: $2"],
    [/^Error$/, "エラー"], [/^processing \\|$/, "処理中 |"], [/^queue: (.*) \\|$/, "順番待ち $1 |"],
    [/^Loading\\.\\.\\.$/, "読み込み中…"], [/^(\\d+\\.\\d)s$/, "$1秒"], [/^(\\d+\\.\\d)\\/(\\d+\\.\\d)s$/, "$1/$2秒"]];
  const ja = (text) => { for (const [re, to] of WORDS) if (re.test(text)) return text.replace(re, to); return null; };
  const fix = (root) => {
    root.querySelectorAll("[aria-label]").forEach((el) => {
      const label = el.getAttribute("aria-label");
      const at = label.indexOf("'s message: ");
      if (at >= 0) {  // Gradio's label is the message's content itself: its plain text instead
        const raw = label.slice(at + 12);
        const text = plain(raw) ?? new DOMParser().parseFromString(raw, "text/html").body.textContent.trim();
        el.setAttribute("aria-label", (label.startsWith("user") ? "質問：" : "回答：") + text);
        return;
      }
      const to = ja(label);
      if (to) el.setAttribute("aria-label", to);
    });
    root.querySelectorAll("[title]").forEach((el) => { const to = ja(el.title); if (to) el.title = to; });
    root.querySelectorAll(".toast-title, .toast-text, .toast-body div").forEach((el) => {
      if (el.children.length === 0) { const to = ja(el.textContent.trim()); if (to) el.textContent = to; }
    });
  };
  const texts = (node) => {  // the status line's words are text nodes Gradio keeps updating in place
    if (node.nodeType === 3) { const to = ja(node.data.trim()); if (to) node.data = to; return; }
    if (node.nodeType !== 1 || node.nodeName === "SCRIPT" || node.nodeName === "STYLE") return;
    const walk = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
    for (let t = walk.nextNode(); t; t = walk.nextNode()) { const to = ja(t.data.trim()); if (to) t.data = to; }
  };
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === "characterData") texts(r.target);
      r.addedNodes.forEach(texts);
    }
    fix(document.body);
  }).observe(document.documentElement, {subtree: true, childList: true, characterData: true,
    attributes: true, attributeFilter: ["aria-label", "title"]});
})();
</script>"""


# ---------------------------------------------------------------- rendering (pure functions)


def esc(text: Any) -> str:
    """HTML-escape anything (quotes included) for safe insertion into the page."""
    return html.escape("" if text is None else str(text), quote=True)


def _passage_html(escaped: str) -> str:
    """Line breaks and table tabs of an already-escaped passage, kept on one HTML line."""
    escaped = escaped.replace("\t", '<span class="stiqa-sep">｜</span>').replace("\r\n", "\n")
    escaped = re.sub(r"\n[ \u3000]*(?:\n[ \u3000]*)+", "\n", escaped.strip("\n"))  # no empty lines
    # Markdown markers of the source (「#### 見出し」, 「**強調**」) are noise to a reader: dropped for display
    escaped = re.sub(r"(?m)^[ \u3000]*#{1,6}[ \u3000]+", "", escaped).replace("**", "")
    return escaped.replace("\n", "<br>")


def _fold(ch: str) -> str:
    """One character as compared when locating a span (NFKC, no spaces, lower case)."""
    folded = unicodedata.normalize("NFKC", ch)
    return "".join(c for c in folded if not c.isspace()).lower()


def find_span(text: str, span: str) -> tuple[int, int] | None:
    """Where ``span`` stands in ``text``: exact, else ignoring width, spaces and tabs."""
    if not span or not text:
        return None
    i = text.find(span)
    if i >= 0:
        return i, i + len(span)
    folded, owner = [], []  # folded characters of text, each with the index of its original char
    for idx, ch in enumerate(text):
        for c in _fold(ch):
            folded.append(c)
            owner.append(idx)
    target = "".join(_fold(ch) for ch in span)
    if not target:
        return None
    j = "".join(folded).find(target)
    if j < 0:
        return None
    return owner[j], owner[j + len(target) - 1] + 1


def highlight(text: str, span: str) -> str:
    """The passage escaped, with the answering span wrapped in <mark> (escape first, then mark)."""
    where = find_span(text, span)
    if where is None:
        return _passage_html(esc(text))
    a, b = where
    return _passage_html(esc(text[:a]) + "<mark>" + esc(text[a:b]) + "</mark>" + esc(text[b:]))


def render_citation(n: int, cit: Citation) -> str:
    lines = f"L{cit.line_start}" if cit.line_start == cit.line_end else f"L{cit.line_start}–{cit.line_end}"
    page = f'<span class="stiqa-sep">·</span>p.{esc(cit.page)}' if cit.page else ""
    # the heading path can be long: show its last two levels, the whole path on hover
    short = " > ".join(cit.section.split(" > ")[-2:]) if cit.section else ""
    section = (f'<span class="stiqa-sep">·</span><span class="stiqa-sec" title="{esc(cit.section)}">'
               f'{esc(short)}</span>' if cit.section else "")
    return ('<div class="stiqa-card">'
            f'<div class="stiqa-cardhead"><span class="stiqa-num">[{n}]</span>'
            f'<span class="stiqa-file">{esc(cit.source)}</span>{page}'
            f'<span class="stiqa-sep">·</span>{lines}{section}</div>'
            f'<div class="stiqa-passage">{highlight(cit.text, cit.span)}</div>'
            '</div>')


def copy_attr(text: str) -> str:
    """The plain text a message carries for the copy button and screen readers (``PAGE_SCRIPT``)."""
    return f' data-copy="{esc(text).replace(chr(10), "&#10;")}"'


def plain_answer(ans: Answer) -> str:
    """What the copy button copies: how the question was read, the answer and its numbered citations
    (the HTTP API's message text, so both faces give the same)."""
    from .api import answer_text

    if ans.abstained and not ans.text.strip():
        return "\n".join(x for x in (ans.interpretation, "資料の中に、この質問に答える記述は見つかりませんでした。") if x)
    return answer_text(ans)


def render_answer(ans: Answer) -> str:
    """One answer as HTML on a single line (so the chat's Markdown leaves it alone)."""
    parts = [f'<div class="stiqa-answer"{copy_attr(plain_answer(ans))}>']
    if ans.interpretation:
        parts.append(f'<div class="stiqa-interp">{esc(ans.interpretation)}</div>')
    if ans.backend == "input":  # empty or over-long question: the message is the whole answer
        parts.append(f'<div class="stiqa-error">{esc(ans.text)}</div></div>')
        return "".join(parts)
    if ans.abstained:
        # the engine's own wording when it gives one, else a plain statement; never a guess
        said = ans.text.strip() or "資料の中に、この質問に答える記述は見つかりませんでした。"
        parts.append(f'<div class="stiqa-abstain"><b>{_passage_html(esc(said))}</b></div>')
        if ans.related:
            parts.append('<div class="stiqa-srchead">参考：質問に近い箇所</div>')
            parts.extend(render_citation(i, c) for i, c in enumerate(ans.related, 1))
    else:
        parts.append(f'<div class="stiqa-text">{_passage_html(esc(ans.text))}</div>')
        if ans.citations:
            parts.append('<div class="stiqa-srchead">出典</div>')
            parts.extend(render_citation(i, c) for i, c in enumerate(ans.citations, 1))
    if ans.notice:
        parts.append(f'<div class="stiqa-notice">※ {esc(ans.notice)}</div>')
    parts.append("</div>")
    return "".join(parts)


def render_error(message: str) -> str:
    return (f'<div class="stiqa-answer"{copy_attr(message)}><div class="stiqa-error">'
            f'{_passage_html(esc(message))}</div></div>')


def render_user(question: str) -> str:
    return f"<div{copy_attr(question)}>{_passage_html(esc(question))}</div>"


# ---------------------------------------------------------------- the engine, per session


def session(settings: Settings, conv: Any, question: Any) -> tuple[Any, str]:
    """(conversation bound to the current index, error message); the conversation is created lazily."""
    from .chat import check_question, get_assistant
    from .index import IndexError_

    problem = check_question(question, settings.max_question_chars)
    if problem:
        return conv, problem
    try:
        assistant = get_assistant(settings)  # re-opened when the index generation changed
    except IndexError_ as exc:
        return conv, str(exc)
    except FileNotFoundError as exc:
        return conv, f"索引またはコーパスが見つかりません: {exc}"
    except Exception:  # noqa: BLE001 - the user gets a message, the log gets the traceback
        log.exception("engine failed to open")
        return conv, "検索エンジンを開けませんでした。管理者に連絡してください（詳細はサーバーのログ）。"
    if conv is None:
        conv = assistant.conversation()
    else:
        conv.assistant = assistant  # keep this user's turns, answer with the current index
    return conv, ""


def ask(settings: Settings, conv: Any, question: Any) -> tuple[Answer | None, Any, str]:
    """(answer, conversation, error message): never raises."""
    conv, error = session(settings, conv, question)
    if error:
        return None, conv, error
    try:
        return conv.ask(question), conv, ""
    except Exception:  # noqa: BLE001
        log.exception("question failed: %r", question)
        return None, conv, "回答中にエラーが発生しました。質問を変えてもう一度お試しください（詳細はサーバーのログ）。"


def answer_json(question: Any, ans: Answer | None, conv: Any, error: str) -> dict[str, Any]:
    """What the ``ask`` API endpoint returns: the CLI's JSON plus this session's history."""
    history = [t.question for t in getattr(conv, "turns", [])]
    if ans is None:
        return {"question": question, "error": error, "history": history}
    d = ans.to_json()
    d["history"] = history
    return d


# ---------------------------------------------------------------- documents and index tab


def documents_html(settings: Settings) -> str:
    from .ingest import corpus_files, read_metadata_table

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
    from .index import index_status

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
    from .index import build_index

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
    from .upload import UploadError, add_document, discard

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


# ---------------------------------------------------------------- program finder tab (pure functions)

NOT_STATED = "資料に記載なし"
MAX_COLUMNS = 8  # more programs than this: the first ones in the table, the others named below it
#: the comparison rows, in reading order: (Program attribute, label shown to the reader)
PROGRAM_ROWS = (("purpose", "目的"), ("agency", "実施機関"), ("audience", "対象者"), ("direction", "方向"),
                ("regions", "相手国・地域"), ("fields", "分野"), ("amount", "支援額"), ("expenses", "支援経費"),
                ("period", "期間"), ("headcount", "採用人数・件数"), ("start", "開始"), ("budgets", "予算"))
#: the filters: Program attribute (its facts carry the catalog's tags) and label
FILTER_KINDS = (("audience", "立場"), ("direction", "行き先／受け入れ"), ("regions", "地域"), ("fields", "分野"))
#: friendlier wording for some catalog tags (the tag itself stays the filter value)
TAG_LABELS = {"送り出し": "送り出し（日本から海外へ）", "受け入れ": "受け入れ（海外から日本へ）",
              "共同研究": "国際共同研究", "交流": "交流（会議・シンポジウム等）",
              "全世界": "全世界（国・地域を問わない）", "全分野": "全分野（分野を問わない）"}
ANY_TAG = {"regions": "全世界", "fields": "全分野"}  # a program open to every region/field fits any choice


@dataclass(frozen=True)
class Cell:
    """One cited value of the comparison table: an optional lead (budget kind, direction) and the value."""

    value: str
    fact: Any  # stiqa.catalog.Fact
    lead: str = ""


@dataclass(frozen=True)
class Selection:
    """What the finder tab shows: programs (with the finder's reason when a situation was given) and notes."""

    programs: tuple[Any, ...]  # stiqa.catalog.Program
    reasons: dict[str, str]
    notes: tuple[str, ...] = ()
    empty_message: str = ""


def program_catalog(settings: Settings) -> Any:
    """The program catalog of the corpus (cached by the catalog on the files' hashes)."""
    from .catalog import build_catalog

    return build_catalog(settings.corpus_dir)


def abbreviation(program: Any) -> str:
    return next((a.value for a in program.aliases if re.fullmatch(r"[A-Za-z][A-Za-z0-9\-]*", a.value)), "")


def program_label(program: Any) -> str:
    abbr = abbreviation(program)
    return f"{program.name.value}（{abbr}）" if abbr else program.name.value


def filter_choices(catalog: Any) -> dict[str, list[tuple[str, str]]]:
    """(label, tag) choices per filter: the tags the catalog's programs carry, in the vocabulary's order."""
    from .catalog import load_vocabulary

    vocab = load_vocabulary()
    out: dict[str, list[tuple[str, str]]] = {}
    for kind, _ in FILTER_KINDS:
        present = {t for p in catalog.programs for t in p.tags(kind)}
        order = list(dict.fromkeys(t for _, tags in vocab.get(kind, []) for t in tags))
        tags = [t for t in order if t in present]
        for t in sorted(present - set(order)):  # tags given by rules outside the vocabulary (研究者)
            tags.insert(tags.index("若手研究者") + 1 if t == "研究者" and "若手研究者" in tags else len(tags), t)
        if ANY_TAG.get(kind) in tags:  # 「問わない」 last
            tags.remove(ANY_TAG[kind])
            tags.append(ANY_TAG[kind])
        out[kind] = [(TAG_LABELS.get(t, t), t) for t in tags]
    return out


def program_choices(catalog: Any) -> list[tuple[str, str]]:
    return [(program_label(p), p.id) for p in catalog.programs]


def _months_text(span: tuple[float, float]) -> str:
    """(3, 12) -> 「3か月〜12か月」, (0, 24) -> 「24か月まで」 (how the finder read a duration)."""
    def one(m: float) -> str:
        return f"{m * 4:g}週間" if m < 1 else f"{m:g}か月"
    lo, hi = (round(x, 2) for x in span)
    return f"{one(hi)}まで" if lo == 0 else one(lo) if lo == hi else f"{one(lo)}〜{one(hi)}"


def _period_fits(program: Any, want: tuple[float, float]) -> bool:
    from .finder import _months

    lo, hi = want
    for f in program.period:
        r = _months(f.value)
        if r and lo <= r[1] * 1.1 and hi >= r[0] * 0.9:
            return True
    return False


def select_programs(catalog: Any, audience: Any = (), direction: Any = (), regions: Any = (), fields: Any = (),
                    period: str = "", situation: str = "", chosen: Any = ()) -> Selection:
    """Programs meeting every condition (any of the tags chosen within one filter).

    ``situation`` (「博士課程 3か月 海外」) ranks the programs with the finder and keeps those it finds;
    ``period`` keeps programs whose stated period overlaps the wanted one; ``chosen`` (program ids)
    limits the table to those programs.
    """
    from .finder import NO_MATCH, find_programs, parse_situation

    wanted = {"audience": set(audience or ()), "direction": set(direction or ()), "regions": set(regions or ()),
              "fields": set(fields or ())}
    notes: list[str] = []
    programs = list(catalog.programs)
    reasons: dict[str, str] = {}
    situation = (situation or "").strip()
    if situation:
        matches = find_programs(catalog, situation, top=len(catalog.programs))
        s = parse_situation(situation, catalog)
        read = [f"{label}：{'・'.join(sorted(getattr(s, kind)))}" for kind, label in FILTER_KINDS if getattr(s, kind)]
        if s.duration:
            read.append(f"期間：{_months_text(s.duration)}")
        notes.append(f"「{situation}」から読み取った条件　" + ("　".join(read) if read else "（なし）"))
        if not matches:
            return Selection((), {}, tuple(notes), NO_MATCH)
        programs = [m.program for m in matches]
        reasons = {m.program.id: m.reason for m in matches}
    if chosen:
        ids = set(chosen)
        programs = [p for p in programs if p.id in ids]
    for kind, _ in FILTER_KINDS:
        if wanted[kind]:
            ok = wanted[kind] | ({ANY_TAG[kind]} if kind in ANY_TAG else set())
            programs = [p for p in programs if p.tags(kind) & ok]
    period = (period or "").strip()
    if period:
        want = parse_situation(period, catalog).duration
        if want is None:
            notes.append(f"期間「{period}」を読み取れなかったため、期間では絞り込んでいません（例：3か月、2年、1〜3週間）。")
        else:
            programs = [p for p in programs if _period_fits(p, want)]
            notes.append(f"期間「{period}」：資料に書かれた期間が重なる制度だけを表示しています（期間の記載がない制度は除外）。")
    empty = "" if programs else "選んだ条件をすべて満たす制度は資料に見当たりません。条件を減らしてください。"
    return Selection(tuple(programs), reasons, tuple(notes), empty)


def comparison_cells(program: Any, row: str) -> list[Cell]:
    """The cited values of one program for one comparison row (empty: not stated in the documents)."""
    if row == "budgets":
        return [Cell(b.amount, b.fact, f"{b.fiscal_year} {b.kind}".strip()) for b in program.budgets]
    facts = getattr(program, row)
    if row == "purpose":
        return [Cell(f.value, f) for f in facts[:1]]  # the first stated purpose; the rest is in the documents
    if row == "direction":  # one entry per direction, the document's wording as the cited value
        seen: dict[str, Cell] = {}
        for f in facts:
            for t in f.tags:
                seen.setdefault(t, Cell(f.value, f, TAG_LABELS.get(t, t)))
        return list(seen.values())
    return [Cell(f.value, f) for f in facts]


_LINES: dict[tuple[str, int, int], list[str]] = {}


def source_lines(corpus_dir: Any, source: str) -> list[str]:
    """A corpus file's lines as the catalog numbers them (read as the index reads; cached on mtime/size)."""
    from pathlib import Path

    from .ingest import load_document

    path = Path(corpus_dir) / source
    try:
        st = path.stat()
    except OSError:
        return []
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _LINES:
        try:
            _LINES[key] = load_document(path).lines
        except (OSError, ValueError):
            _LINES[key] = []
    return _LINES[key]


def cited_passage(corpus_dir: Any, fact: Any) -> str:
    """The text of the lines a fact cites (the fact's value when the file cannot be read)."""
    lines = source_lines(corpus_dir, fact.source)
    return "\n".join(lines[fact.line_start - 1:fact.line_end]) or fact.value


def _lines_label(fact: Any) -> str:
    return f"L{fact.line_start}" if fact.line_start == fact.line_end else f"L{fact.line_start}–{fact.line_end}"


class _Sources:
    """Numbered cited passages: one per (file, lines), in order of first use in the table."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, int, int], dict[str, Any]] = {}

    def ref(self, fact: Any, program: Any, row_label: str) -> int:
        key = (fact.source, fact.line_start, fact.line_end)
        item = self.items.setdefault(key, {"n": len(self.items) + 1, "fact": fact, "values": [], "uses": {}})
        item["values"].append(fact.value)
        rows = item["uses"].setdefault(program.name.value, [])
        if row_label not in rows:
            rows.append(row_label)
        return item["n"]


def _cite_link(n: int, fact: Any, text_html: str) -> str:
    return (f'<a class="stiqa-cite" href="#stiqa-src-{n}" title="{esc(fact.source)} {_lines_label(fact)}">'
            f'{text_html}<sup>[{n}]</sup></a>')


def _cell_html(cells: list[Cell], program: Any, row_label: str, sources: _Sources) -> str:
    if not cells:
        return f'<span class="stiqa-none">{NOT_STATED}</span>'
    parts = []
    for c in cells:
        n = sources.ref(c.fact, program, row_label)
        lead = f'<span class="stiqa-lead">{esc(c.lead)}</span> ' if c.lead else ""
        parts.append(f'<div class="stiqa-val">{lead}{_cite_link(n, c.fact, esc(c.value))}</div>')
    return "".join(parts)


def _sources_html(corpus_dir: Any, sources: _Sources) -> str:
    cards = []
    for (source, _, _), item in sources.items.items():
        fact = item["fact"]
        passage = cited_passage(corpus_dir, fact)
        span = max((v for v in item["values"] if find_span(passage, v)), key=len, default="")
        uses = "、".join(f"{name}（{'・'.join(rows)}）" for name, rows in item["uses"].items())
        cards.append(f'<div class="stiqa-card stiqa-src" id="stiqa-src-{item["n"]}">'
                     f'<div class="stiqa-cardhead"><span class="stiqa-num">[{item["n"]}]</span>'
                     f'<span class="stiqa-file">{esc(source)}</span><span class="stiqa-sep">·</span>'
                     f'{_lines_label(fact)}<span class="stiqa-sep">·</span><span class="stiqa-sec">{esc(uses)}</span>'
                     f'</div><div class="stiqa-passage">{highlight(passage, span)}</div></div>')
    return ('<div class="stiqa-srcpanel"><div class="stiqa-srchead">出典（表の値をクリックすると、その値が書かれた'
            '資料の行をここに示します）</div>' + "".join(cards) + "</div>")


def programs_table_html(catalog: Any, selection: Selection) -> str:
    """The comparison table (rows = fields, columns = programs), each value linked to its cited passage
    in the panel below; values the documents do not state read 「資料に記載なし」."""
    parts = ['<div class="stiqa-programs">']
    parts += [f'<div class="stiqa-note">{esc(n)}</div>' for n in selection.notes]
    if not selection.programs:
        msg = selection.empty_message or "条件に合う制度は資料に見当たりません。"
        parts.append(f'<div class="stiqa-abstain"><b>{esc(msg)}</b></div></div>')
        return "".join(parts)
    shown, rest = selection.programs[:MAX_COLUMNS], selection.programs[MAX_COLUMNS:]
    parts.append(f'<div class="stiqa-count">該当 {len(selection.programs)} 件'
                 + (f"（表には上位 {len(shown)} 件）" if rest else "") + "</div>")
    sources = _Sources()
    head = ['<th class="stiqa-rowhead">項目</th>']
    for p in shown:
        n = sources.ref(p.name, p, "名称")
        abbr = abbreviation(p)
        head.append(f'<th class="stiqa-prog">{_cite_link(n, p.name, esc(p.name.value))}'
                    + (f'<div class="stiqa-abbr">{esc(abbr)}</div>' if abbr else "") + "</th>")
    rows = ["<tr>" + "".join(head) + "</tr>"]
    if selection.reasons:
        rows.append('<tr><th class="stiqa-rowhead">合う理由<div class="stiqa-abbr">stiqaの判断</div></th>'
                    + "".join(f'<td class="stiqa-reason">{esc(selection.reasons.get(p.id, ""))}</td>' for p in shown)
                    + "</tr>")
    for row, label in PROGRAM_ROWS:
        cells = [comparison_cells(p, row) for p in shown]
        rows.append(f'<tr><th class="stiqa-rowhead">{esc(label)}</th>'
                    + "".join(f"<td>{_cell_html(c, p, label, sources)}</td>" for c, p in zip(cells, shown)) + "</tr>")
    parts.append('<div class="stiqa-cmpwrap"><table class="stiqa-cmp">' + "".join(rows) + "</table></div>")
    if rest:
        parts.append('<div class="stiqa-note">ほかに該当する制度：' + "、".join(esc(program_label(p)) for p in rest)
                     + "（条件を追加するか「比較する制度」で選ぶと表に出ます）</div>")
    parts.append(_sources_html(catalog.corpus_dir, sources))
    if catalog.problems:
        parts.append(f'<div class="stiqa-notice">※ 資料との照合で {len(catalog.problems)} 件の注意があります'
                     "（値の行が移動・消失）。<code>stiqa programs</code> で確認できます。</div>")
    parts.append("</div>")
    return "".join(parts)


def programs_view(settings: Settings, audience: Any = (), direction: Any = (), regions: Any = (), fields: Any = (),
                  period: str = "", situation: str = "", chosen: Any = ()) -> str:
    """The finder tab's HTML for the given filters; a message, never a traceback."""
    if len(situation or "") > settings.max_question_chars or len(period or "") > 200:
        return render_error("入力が長すぎます。短くしてください。")
    try:
        catalog = program_catalog(settings)
    except FileNotFoundError as exc:
        return render_error(f"コーパスが見つかりません: {exc}")
    except Exception:  # noqa: BLE001
        log.exception("catalog failed")
        return render_error("制度の目録を作れませんでした（詳細はサーバーのログ）。")
    try:
        sel = select_programs(catalog, audience, direction, regions, fields, period, situation, chosen)
        return programs_table_html(catalog, sel)
    except Exception:  # noqa: BLE001
        log.exception("program finder failed")
        return render_error("制度の検索中にエラーが発生しました（詳細はサーバーのログ）。")


def _finder_choices(settings: Settings) -> tuple[dict[str, list[tuple[str, str]]], list[tuple[str, str]]]:
    """Filter and program choices for the tab; empty (the tab then shows the error) if no catalog."""
    try:
        catalog = program_catalog(settings)
    except Exception:  # noqa: BLE001
        log.exception("catalog failed")
        return {}, []
    return filter_choices(catalog), program_choices(catalog)


# ---------------------------------------------------------------- the app


def chat_turn(settings: Settings, question: Any, history: list[dict] | None, conv: Any):
    """One chat turn for the web page: yields (textbox, history, conversation) as the answer grows."""
    history = list(history or [])
    history.append({"role": "user", "content": render_user(question or "")})
    if settings.llm_url or settings.llm_gguf:
        # an LLM is configured: show its text as it arrives, then the guarded final answer
        # (the extractive one with a notice when the guard rejected the text)
        conv, error = session(settings, conv, question)
        if error:
            history.append({"role": "assistant", "content": render_error(error)})
            yield "", history, conv
            return
        from .llm import stream_with_llm

        partial = ""
        history.append({"role": "assistant", "content": ""})
        try:
            for item in stream_with_llm(conv, question):
                if isinstance(item, Answer):
                    history[-1] = answer_message(item, conv)
                else:
                    partial += item
                    history[-1] = {"role": "assistant", "content": esc(partial) + " …"}
                yield "", history, conv
        except Exception:  # noqa: BLE001
            log.exception("streaming failed: %r", question)
            history[-1] = {"role": "assistant", "content": render_error("回答中にエラーが発生しました。")}
            yield "", history, conv
        return
    ans, conv, error = ask(settings, conv, question)
    history.append(answer_message(ans, conv) if ans else {"role": "assistant", "content": render_error(error)})
    yield "", history, conv


def turn_id(conv: Any, n: int) -> str:
    """The id a message carries for turn ``n`` of this conversation (its object and its position)."""
    return f"{id(conv):x}:{n}"


def answer_message(ans: Answer, conv: Any) -> dict[str, Any]:
    """The chat message of the conversation's latest turn, carrying that turn's id (Gradio's message
    ``metadata.id``; without a ``title`` the message shows as a plain message). An input message
    (「質問が空です」) is no turn: it carries no id and gets no rating buttons."""
    if ans.backend == "input" or not getattr(conv, "turns", None) or conv.turns[-1].answer is not ans:
        return {"role": "assistant", "content": render_answer(ans)}
    return {"role": "assistant", "content": render_answer(ans),
            "metadata": {"id": turn_id(conv, len(conv.turns) - 1)}}


def rated_turn(conv: Any, history: Any, index: Any) -> int | None:
    """Which turn of ``conv`` the rated message belongs to, by the id the message carries; None when
    it carries none (an input message) or one of another conversation (a chat since cleared)."""
    index = index[0] if isinstance(index, (list, tuple)) else index
    try:
        message = list(history or [])[int(index)]
    except (TypeError, ValueError, IndexError):
        return None
    meta = message.get("metadata") if isinstance(message, dict) else getattr(message, "metadata", None)
    mid = str((meta or {}).get("id") or "")
    owner, _, n = mid.rpartition(":")
    if conv is None or not n.isdigit() or owner != turn_id(conv, 0).rpartition(":")[0] or int(n) >= len(conv.turns):
        return None
    return int(n)


def rate(settings: Settings, data: gr.LikeData, conv: Any, comment: Any, history: Any = None) -> tuple[str, Any]:
    """👍 / 👎 on an answer: one line in feedback/feedback.jsonl with the question, its earlier
    turns, the answer and its citations (stiqa.feedback)."""
    from . import feedback

    turn = rated_turn(conv, history, data.index)
    if turn is None or data.liked not in (True, False):
        return "", gr.update()
    t = conv.turns[turn]
    verdict = "up" if data.liked is True else "down"
    history = [x.question for x in conv.turns[:turn]]
    feedback.record(settings.feedback_dir / "feedback.jsonl",
                    feedback.entry(t.question, history, t.answer, verdict, str(comment or "")))
    mark = "よい" if verdict == "up" else "よくない"
    return f"評価（{mark}）を記録しました（「{esc(t.question)[:40]}」）。ありがとうございます。", ""


def export_file(conv: Any) -> Any:
    """The conversation as a Markdown file for the download button (questions, answers, citations
    with their quoted text); nothing to download before the first answer."""
    import tempfile

    from .feedback import conversation_markdown

    if conv is None or not conv.turns:
        return gr.update(value=None, interactive=False)
    # one file per conversation, rewritten after each answer (not a new file per answer)
    folder = Path(tempfile.gettempdir()) / "stiqa-export" / f"{os.getpid()}-{id(conv):x}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "stiqa-conversation.md"
    path.write_text(conversation_markdown(conv.turns), encoding="utf-8")
    return gr.update(value=str(path), interactive=True)


def build_app(settings: Settings) -> gr.Blocks:
    """The Blocks app: 「質問する」 chat, 「文書と索引」 and 「制度をさがす」 tabs, plus the ``ask`` API endpoint."""

    def respond(question: str, history: list[dict] | None, conv: Any):
        yield from chat_turn(settings, question, history, conv)

    def api_ask(question: str, conv: Any):
        ans, conv, error = ask(settings, conv, question)
        return answer_json(question, ans, conv, error), conv

    def new_conversation():
        return [], None

    with gr.Blocks(title="stiqa — 科学技術・学術政策 文書 QA") as demo:
        gr.Markdown("## stiqa　文部科学省 科学技術・国際関係資料への質問\n"
                    "資料の記述だけから答え、必ず出典（ファイル・行）を示します。"
                    "「その予算は？」のような続きの質問もできます。")
        conv_state = gr.State(None)  # this browser session's Conversation, created on first question
        with gr.Tab("質問する"):
            chatbot = gr.Chatbot(label="会話", show_label=False, layout="panel", height="68vh", min_height=420, sanitize_html=True, latex_delimiters=[],
                                 render_markdown=True, elem_id="stiqa-chat", buttons=["copy"],
                                 feedback_options=("Like", "Dislike"),
                                 placeholder="下の例をクリックするか、質問を入力してください。")
            with gr.Row():
                box = gr.Textbox(placeholder="例：SATREPSの令和5年度予算額は？", show_label=False, scale=8,
                                 max_lines=4, elem_id="stiqa-question", submit_btn="送信")
            with gr.Row():
                example_buttons = [gr.Button(q, size="sm", variant="secondary") for q in EXAMPLES]
                clear = gr.Button("新しい会話", size="sm", variant="stop")
            with gr.Row():
                comment = gr.Textbox(placeholder="回答への評価コメント（任意）：入力してから、回答の下の親指ボタン（よい／よくない）を押してください",
                                     show_label=False, scale=6, max_lines=2, elem_id="stiqa-feedback-comment")
                export = gr.DownloadButton("会話をMarkdownで保存", size="sm", scale=2, elem_id="stiqa-export",
                                           value=None, interactive=False)
            notice = gr.Markdown(elem_id="stiqa-feedback-notice")
            gr.Markdown("※ 金額の差など資料にない数値は「stiqaによる計算」と明記します。回答は資料の抜粋です。")
        with gr.Tab("文書と索引"):
            gr.Markdown("### 文書")
            docs = gr.HTML()
            gr.Markdown("### 索引")
            status = gr.HTML()
            with gr.Row():
                reindex_btn = gr.Button("変更されたファイルを再索引", variant="primary")
                refresh_btn = gr.Button("状態を更新")
            gr.Markdown("### 文書を追加\n.md / .txt / .pdf（10 MB まで）。コーパスのフォルダに保存し、索引に加えます"
                        "（その間もチャットは答え続けます）。")
            with gr.Row():
                # no file_types: Gradio would refuse other files in the browser with an English toast;
                # stiqa.upload refuses them on the server with the reason in Japanese
                upload = gr.File(label="文書ファイル（" + " / ".join(UPLOAD_SUFFIXES) + "）", type="filepath",
                                 elem_id="stiqa-upload", scale=4)
                with gr.Column(scale=2):
                    replace_box = gr.Checkbox(label="同名の文書を置き換える", value=False, elem_id="stiqa-upload-replace")
                    upload_btn = gr.Button("追加して索引", variant="primary", elem_id="stiqa-upload-btn")
            report = gr.HTML(elem_id="stiqa-report")
        with gr.Tab("制度をさがす"):
            gr.Markdown("### 制度をさがす・くらべる\n"
                        "条件を選ぶと、合う制度を表にします。表の値はすべて資料からの抜粋で、クリックすると"
                        "その値が書かれた資料の行（ファイル・行番号）を表の下に示します。")
            choices, program_opts = _finder_choices(settings)
            with gr.Row():
                situation = gr.Textbox(label="状況から探す（任意）", placeholder="例：博士課程 3か月 海外",
                                       scale=3, max_lines=2, elem_id="stiqa-situation")
                period = gr.Textbox(label="期間（任意）", placeholder="例：3か月、2年、1〜3週間", scale=1,
                                    max_lines=1, elem_id="stiqa-period")
            filters = [gr.CheckboxGroup(choices=choices.get(kind, []), label=label, elem_id=f"stiqa-f-{kind}")
                       for kind, label in FILTER_KINDS]
            chosen = gr.Dropdown(choices=program_opts, multiselect=True, label="比較する制度（任意・選ぶとその制度だけを表示）",
                                 elem_id="stiqa-chosen")
            with gr.Row():
                find_btn = gr.Button("この条件で表示", variant="primary", elem_id="stiqa-find")
                reset_btn = gr.Button("条件をクリア", variant="secondary")
            gr.Markdown("※ 同じ項目で複数選ぶと「いずれか」、項目どうしは「すべて満たす」で絞り込みます。"
                        "地域・分野を問わない制度は、どの地域・分野を選んでも表示します。")
            programs_out = gr.HTML(elem_id="stiqa-programs")
        with gr.Tab("数値一覧"):
            figures_tab(settings)  # the figure ledger: table, CSV, chart over the years (web_figures.py)

        box.submit(respond, [box, chatbot, conv_state], [box, chatbot, conv_state],
                   api_visibility="private", concurrency_limit=16, show_progress="hidden"
                   ).then(export_file, conv_state, export, api_visibility="private")
        for b, q in zip(example_buttons, EXAMPLES):
            b.click(lambda h, c, q=q: respond(q, h, c), [chatbot, conv_state], [box, chatbot, conv_state],
                    api_visibility="private", concurrency_limit=16, show_progress="hidden"
                    ).then(export_file, conv_state, export, api_visibility="private")
        clear.click(new_conversation, None, [chatbot, conv_state], api_visibility="private"
                    ).then(export_file, conv_state, export, api_visibility="private")
        def on_like(conv: Any, text: Any, history: Any, data: gr.LikeData):  # Gradio passes LikeData by this hint
            return rate(settings, data, conv, text, history)

        chatbot.like(on_like, [conv_state, comment, chatbot], [notice, comment], api_visibility="private")
        # the chat's trash icon clears the messages; the conversation goes with them (no hidden turns)
        chatbot.clear(lambda: None, None, conv_state, api_visibility="private"
                      ).then(export_file, conv_state, export, api_visibility="private")
        reindex_btn.click(lambda: reindex(settings), None, [report, status], api_visibility="private",
                          concurrency_limit=1)
        upload_btn.click(lambda f, r: add_uploaded(settings, f, r), [upload, replace_box], [report, status, docs],
                         api_visibility="private", concurrency_limit=1)
        refresh = lambda: (documents_html(settings), status_html(settings))  # noqa: E731
        refresh_btn.click(refresh, None, [docs, status], api_visibility="private")
        demo.load(refresh, None, [docs, status], api_visibility="private")
        finder_inputs = [*filters, period, situation, chosen]
        show = lambda a, d, r, f, per, sit, ch: programs_view(settings, a, d, r, f, per, sit, ch)  # noqa: E731
        for trigger in (find_btn.click, situation.submit, period.submit):
            # on a phone the filters fill the screen: bring the results into view once they are shown
            trigger(show, finder_inputs, programs_out, api_visibility="private", concurrency_limit=8
                    ).then(None, js="() => document.getElementById('stiqa-programs')"
                                    "?.scrollIntoView({behavior: 'smooth', block: 'start'})")
        for c in (*filters, chosen):
            c.change(show, finder_inputs, programs_out, api_visibility="private", concurrency_limit=8)
        reset_btn.click(lambda: ([], [], [], [], "", "", [], programs_view(settings)), None,
                        [*finder_inputs, programs_out], api_visibility="private")
        demo.load(lambda: programs_view(settings), None, programs_out, api_visibility="private")
        # the programmatic face: gradio_client.Client(url).predict("質問", api_name="/ask")
        api_q = gr.Textbox(visible=False)
        api_out = gr.JSON(visible=False)
        api_q.submit(api_ask, [api_q, conv_state], [api_out, conv_state], api_name="ask", concurrency_limit=16)
    return demo


# ---------------------------------------------------------------- launching


def check_launch(settings: Settings) -> tuple[str, str] | None:
    """The auth pair to use, or None; raises ``ValueError`` when starting would be unsafe."""
    if bool(settings.username) != bool(settings.password):
        raise ValueError("STIQA_USERNAME と STIQA_PASSWORD は両方とも設定してください（片方だけでは起動しません）。")
    if not is_loopback(settings.host) and not (settings.username and settings.password):
        raise ValueError(
            f"ホスト {settings.host} はこの計算機の外から接続できます。公開するには STIQA_USERNAME と "
            "STIQA_PASSWORD を設定してください。手元だけで使う場合は STIQA_HOST=127.0.0.1 にしてください。")
    return (settings.username, settings.password) if settings.username else None


def theme() -> gr.themes.Base:
    # local fonts only (no web-font download); Japanese first
    jp = ["Noto Sans CJK JP", "Noto Sans JP", "Hiragino Sans", "Yu Gothic UI", "Meiryo", "sans-serif"]
    return gr.themes.Default(font=jp, font_mono=["Noto Sans Mono CJK JP", "ui-monospace", "monospace"])


def launch(settings: Settings, *, prevent_thread_lock: bool = False, quiet: bool = False,
           demo: gr.Blocks | None = None) -> gr.Blocks:
    """Start the server (never shared); refuses a non-loopback host without credentials."""
    auth = check_launch(settings)
    demo = demo or build_app(settings)
    demo.queue(default_concurrency_limit=4)
    demo.launch(server_name=settings.host, server_port=settings.port, share=False, auth=auth,
                auth_message="stiqa: 利用者名とパスワードを入力してください。" if auth else None,
                prevent_thread_lock=prevent_thread_lock, quiet=quiet, ssr_mode=False, theme=theme(), css=CSS,
                footer_links=["api"], show_error=False, mcp_server=False, head=PAGE_SCRIPT,
                i18n=gr.I18n(en=UI_JA, ja=UI_JA), max_file_size=MAX_BYTES)
    return demo


def url(settings: Settings) -> str:
    host = settings.host if ":" not in settings.host else f"[{settings.host}]"
    return f"http://{host}:{settings.port}"


__all__ = ["build_app", "launch", "check_launch", "render_answer", "highlight", "find_span", "ask", "url"]
