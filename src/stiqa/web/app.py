"""The web face: a Gradio app in Japanese whose tabs live beside it (``chat_tab``, ``documents_tab``,
``programs_tab``; ``render`` draws answers, ``style.css`` and ``page.js`` dress the page).

Everything shown comes from the engine: the web package only renders. Each browser session (and
each ``gradio_client`` session) holds its own ``Conversation`` in a ``gr.State``; the engine itself
is shared and fetched per question, so a re-index is picked up without losing anyone's turns.
Every message also carries its plain text (``data-copy``): the copy button and screen readers get
the answer with its numbered citations, not our markup (``page.js``).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no usage pings

import gradio as gr  # noqa: E402

from stiqa.config import is_loopback  # noqa: F401  (re-exported)
from stiqa.config import Settings  # noqa: E402
from stiqa.ingest.upload import MAX_BYTES, SUFFIXES as UPLOAD_SUFFIXES  # noqa: E402
from stiqa.web.programs_tab import FILTER_KINDS, _finder_choices, programs_view
from stiqa.web.documents_tab import add_uploaded, documents_html, reindex, status_html
from stiqa.web.figures_tab import figures_tab
from stiqa.web.chat_tab import answer_json, ask, chat_turn, export_file, rate

log = logging.getLogger(__name__)
HERE = Path(__file__).parent  # style.css and page.js live beside this module

EXAMPLES = [
    "SICORPの令和5年度予算額（案）はいくらですか？",
    "博士課程の学生で3か月海外に行きたい",
    "SATREPSって何？",
]

CSS = (HERE / "style.css").read_text(encoding="utf-8")

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
PAGE_SCRIPT = "<script>\n" + (HERE / "page.js").read_text(encoding="utf-8") + "</script>"


# ---------------------------------------------------------------- the app


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
                # stiqa.ingest.upload refuses them on the server with the reason in Japanese
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
            figures_tab(settings)  # the figure ledger: table, CSV, chart over the years (figures_tab.py)

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
