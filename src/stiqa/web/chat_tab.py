"""The chat tab: one ``Conversation`` per browser session, answers rendered with their citations,
ratings landing on the turn they rate, the conversation exported as Markdown."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import gradio as gr

from stiqa.config import Settings
from stiqa.records import Answer
from stiqa.web.render import esc, render_answer, render_error, render_user

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- the engine, per session


def session(settings: Settings, conv: Any, question: Any) -> tuple[Any, str]:
    """(conversation bound to the current index, error message); the conversation is created lazily."""
    from stiqa.chat.turns import check_question
    from stiqa.engine import get_assistant
    from stiqa.errors import IndexError_

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
        conv = assistant.chat()
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
        from stiqa.chat.llm import stream_with_llm

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
    turns, the answer and its citations (stiqa.chat.feedback)."""
    from stiqa.chat import feedback

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

    from stiqa.chat.feedback import conversation_markdown

    if conv is None or not conv.turns:
        return gr.update(value=None, interactive=False)
    # one file per conversation, rewritten after each answer (not a new file per answer)
    folder = Path(tempfile.gettempdir()) / "stiqa-export" / f"{os.getpid()}-{id(conv):x}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "stiqa-conversation.md"
    path.write_text(conversation_markdown(conv.turns), encoding="utf-8")
    return gr.update(value=str(path), interactive=True)
