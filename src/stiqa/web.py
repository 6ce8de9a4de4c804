"""The web face: a Gradio chat in Japanese, with cited sources, and a documents/index tab.

Everything shown comes from the engine (``stiqa.chat``): this module only renders. Two rules:

* Every piece of document or user text is HTML-escaped before it reaches the page; the only
  markup is our own (cards, and ``<mark>`` around the already-escaped answering span).
* Each browser session (and each ``gradio_client`` session) holds its own ``Conversation`` in a
  ``gr.State``; the engine itself is shared and fetched per question with ``get_assistant`` so a
  re-index is picked up without losing anyone's turns.
"""
from __future__ import annotations

import html
import ipaddress
import logging
import re
import os
import unicodedata
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no usage pings

import gradio as gr  # noqa: E402

from .config import Settings  # noqa: E402
from .models import Answer, Citation  # noqa: E402

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
"""


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


def render_answer(ans: Answer) -> str:
    """One answer as HTML on a single line (so the chat's Markdown leaves it alone)."""
    parts = ['<div class="stiqa-answer">']
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
    return f'<div class="stiqa-answer"><div class="stiqa-error">{_passage_html(esc(message))}</div></div>'


def render_user(question: str) -> str:
    return f"<div>{_passage_html(esc(question))}</div>"


# ---------------------------------------------------------------- the engine, per session


def ask(settings: Settings, conv: Any, question: Any) -> tuple[Answer | None, Any, str]:
    """(answer, conversation, error message): never raises; the conversation is created lazily."""
    from .chat import check_question, get_assistant
    from .index import IndexError_

    problem = check_question(question, settings.max_question_chars)
    if problem:
        return None, conv, problem
    try:
        assistant = get_assistant(settings)  # re-opened when the index generation changed
    except IndexError_ as exc:
        return None, conv, str(exc)
    except FileNotFoundError as exc:
        return None, conv, f"索引またはコーパスが見つかりません: {exc}"
    except Exception:  # noqa: BLE001 - the user gets a message, the log gets the traceback
        log.exception("engine failed to open")
        return None, conv, "検索エンジンを開けませんでした。管理者に連絡してください（詳細はサーバーのログ）。"
    if conv is None:
        conv = assistant.conversation()
    else:
        conv.assistant = assistant  # keep this user's turns, answer with the current index
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
        try:
            size = f"{p.stat().st_size / 1024:,.0f} KB"
        except OSError:
            size = "?"
        rows.append(f"<tr><td><code>{esc(p.name)}</code></td><td>{esc(title)}</td><td>{esc(date)}</td>"
                    f'<td style="white-space:nowrap">{size}</td></tr>')
    if not rows:
        rows.append('<tr><td colspan="4">文書がありません</td></tr>')
    return ('<div class="stiqa-status"><table><tr><th>ファイル</th><th>文書名</th><th>日付</th><th>大きさ</th></tr>'
            + "".join(rows) + f"</table><p>コーパスのフォルダ: <code>{esc(settings.corpus_dir)}</code></p></div>")


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
            ("作成日時", esc(st.get("built_at"))), ("世代", f"<code>{esc(st.get('generation'))}</code>"),
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
        msg = f"<pre>{esc(report.summary())}</pre>"
    except Exception as exc:  # noqa: BLE001
        log.exception("re-index failed")
        msg = render_error(f"索引の更新に失敗しました: {exc}")
    return msg, status_html(settings)


# ---------------------------------------------------------------- the app


def build_app(settings: Settings) -> gr.Blocks:
    """The Blocks app: 「質問する」 chat tab and 「文書と索引」 tab, plus the ``ask`` API endpoint."""

    def respond(question: str, history: list[dict] | None, conv: Any):
        history = list(history or [])
        ans, conv, error = ask(settings, conv, question)
        history.append({"role": "user", "content": render_user(question or "")})
        history.append({"role": "assistant", "content": render_answer(ans) if ans else render_error(error)})
        return "", history, conv

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
            chatbot = gr.Chatbot(label="会話", layout="panel", height="68vh", min_height=420, sanitize_html=True, latex_delimiters=[],
                                 render_markdown=True, elem_id="stiqa-chat", buttons=["copy"],
                                 feedback_options=None,
                                 placeholder="下の例をクリックするか、質問を入力してください。")
            with gr.Row():
                box = gr.Textbox(placeholder="例：SATREPSの令和5年度予算額は？", show_label=False, scale=8,
                                 max_lines=4, elem_id="stiqa-question", submit_btn="送信")
            with gr.Row():
                example_buttons = [gr.Button(q, size="sm", variant="secondary") for q in EXAMPLES]
                clear = gr.Button("新しい会話", size="sm", variant="stop")
            gr.Markdown("※ 金額の差など資料にない数値は「stiqaによる計算」と明記します。回答は資料の抜粋です。")
        with gr.Tab("文書と索引"):
            gr.Markdown("### 文書")
            docs = gr.HTML()
            gr.Markdown("### 索引")
            status = gr.HTML()
            with gr.Row():
                reindex_btn = gr.Button("変更されたファイルを再索引", variant="primary")
                refresh_btn = gr.Button("状態を更新")
            report = gr.HTML()

        box.submit(respond, [box, chatbot, conv_state], [box, chatbot, conv_state],
                   api_visibility="private", concurrency_limit=16)
        for b, q in zip(example_buttons, EXAMPLES):
            b.click(lambda h, c, q=q: respond(q, h, c), [chatbot, conv_state], [box, chatbot, conv_state],
                    api_visibility="private", concurrency_limit=16)
        clear.click(new_conversation, None, [chatbot, conv_state], api_visibility="private")
        reindex_btn.click(lambda: reindex(settings), None, [report, status], api_visibility="private",
                          concurrency_limit=1)
        refresh = lambda: (documents_html(settings), status_html(settings))  # noqa: E731
        refresh_btn.click(refresh, None, [docs, status], api_visibility="private")
        demo.load(refresh, None, [docs, status], api_visibility="private")
        # the programmatic face: gradio_client.Client(url).predict("質問", api_name="/ask")
        api_q = gr.Textbox(visible=False)
        api_out = gr.JSON(visible=False)
        api_q.submit(api_ask, [api_q, conv_state], [api_out, conv_state], api_name="ask", concurrency_limit=16)
    return demo


# ---------------------------------------------------------------- launching


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
                footer_links=["api"], show_error=False, mcp_server=False)
    return demo


def url(settings: Settings) -> str:
    host = settings.host if ":" not in settings.host else f"[{settings.host}]"
    return f"http://{host}:{settings.port}"


__all__ = ["build_app", "launch", "check_launch", "render_answer", "highlight", "find_span", "ask", "url"]
