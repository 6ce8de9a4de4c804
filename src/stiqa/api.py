"""An OpenAI-compatible HTTP API, so chat clients people already use can ask stiqa.

``stiqa serve [--host H] [--port N]`` (default 127.0.0.1:8000)::

    POST /v1/chat/completions   {"model": "stiqa", "messages": [...], "stream": false}
    GET  /v1/models             lists "stiqa"

The ``messages`` are read as a stiqa conversation: the earlier user turns are replayed, the last
user message is answered (follow-ups such as 「その予算は？」 work). The answer comes back as the
assistant message, its numbered citations (file, section, lines) appended to the text and also as a
structured ``citations`` field; ``stream: true`` sends server-sent events in OpenAI's chunk format.
Bound beyond loopback the API refuses to start without ``STIQA_API_KEY``, then requires it as a
Bearer token (also whenever it is set). Errors are JSON in OpenAI's shape: malformed JSON or
messages 400, an over-long question 413, a missing or wrong key 401.

Why FastAPI and not LlamaIndex's or Gradio's servers: neither speaks this protocol; FastAPI comes
with Gradio, and uvicorn serves it.
"""
from __future__ import annotations

import hmac
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from .config import Settings, is_loopback

MODEL = "stiqa"


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind


def check_serve(settings: Settings) -> str:
    """Why the API may not start with these settings ('' when it may)."""
    if not is_loopback(settings.host) and not settings.api_key:
        return (f"{settings.host} で公開するには STIQA_API_KEY（Bearer トークン）を設定してください。"
                "手元だけで使う場合は --host 127.0.0.1 にしてください。")
    return ""


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # [{"type": "text", "text": ...}, ...]
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    raise ApiError(400, "messages[].content は文字列か、type=text の部品の配列です")


def read_request(body: Any, limit: int) -> tuple[list[str], str, bool]:
    """(earlier user turns, the question, stream) from a chat-completions body, or ApiError."""
    if not isinstance(body, dict):
        raise ApiError(400, "リクエスト本文は JSON オブジェクトです")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages（空でない配列）が必要です")
    users = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant", "tool", "developer"):
            raise ApiError(400, f"messages[{i}] には role（system / user / assistant）と content が必要です")
        if m["role"] == "user":
            users.append(_text(m.get("content")))
    if not users or messages[-1].get("role") != "user":
        raise ApiError(400, "最後のメッセージは user の質問です")
    question = users[-1]
    if len(question) > limit:
        raise ApiError(413, f"質問が長すぎます（{len(question):,} 文字）。{limit:,} 文字以内にしてください。")
    if not question.strip():
        raise ApiError(400, "質問が空です")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(400, "stream は true か false です")
    return users[:-1], question, stream


def answer_text(ans: Any) -> str:
    """The answer with its numbered citations, as a chat client shows it."""
    lines = [ans.text]
    for i, c in enumerate(ans.citations, 1):
        section = f"〔{c.section}〕" if c.section else ""
        lines.append(f"[{i}] {c.source} L{c.line_start}-{c.line_end} {section}".rstrip())
    return "\n".join(lines)


def completion(ans: Any, cid: str, created: int) -> dict[str, Any]:
    return {"id": cid, "object": "chat.completion", "created": created, "model": MODEL,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer_text(ans)},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "citations": [c.to_json() for c in ans.citations],
            "stiqa": {"abstained": ans.abstained, "interpretation": ans.interpretation}}


def chunks(ans: Any, cid: str, created: int) -> Iterator[str]:
    """Server-sent events in OpenAI's chunk format, then ``[DONE]``."""
    def event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        data = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": MODEL,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    yield event({"role": "assistant", "content": ""})
    for line in answer_text(ans).splitlines(keepends=True):
        yield event({"content": line})
    yield event({}, "stop", citations=[c.to_json() for c in ans.citations],
                stiqa={"abstained": ans.abstained, "interpretation": ans.interpretation})
    yield "data: [DONE]\n\n"


def create_app(settings: Settings, assistant: Any = None) -> FastAPI:
    """The FastAPI app (the engine is opened on the first request unless one is given)."""
    app = FastAPI(title="stiqa", version="0.2.0")
    state: dict[str, Any] = {"assistant": assistant}

    def engine() -> Any:
        if state["assistant"] is None:
            from .chat import get_assistant

            state["assistant"] = get_assistant(settings)
        return state["assistant"]

    def error(exc: ApiError) -> JSONResponse:
        return JSONResponse({"error": {"message": exc.message, "type": exc.kind, "code": exc.status}},
                            status_code=exc.status)

    def authorise(request: Request) -> None:
        if not settings.api_key:
            return
        given = request.headers.get("authorization", "")
        if not given.startswith("Bearer ") or not hmac.compare_digest(given[7:].strip(), settings.api_key):
            raise ApiError(401, "API キーがないか、違います（Authorization: Bearer …）", "authentication_error")

    @app.get("/v1/models")
    async def models(request: Request):
        try:
            authorise(request)
        except ApiError as exc:
            return error(exc)
        return {"object": "list", "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "stiqa"}]}

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        try:
            authorise(request)
            try:
                body = json.loads(await request.body())
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise ApiError(400, f"JSON として読めません: {exc}") from exc
            history, question, stream = read_request(body, settings.max_question_chars)
        except ApiError as exc:
            return error(exc)

        def ask() -> Any:
            conv = engine().chat()
            conv.replay(history)
            return conv.ask(question)

        ans = await run_in_threadpool(ask)  # answering needs no lock: sessions run in parallel
        cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        if stream:
            return StreamingResponse(chunks(ans, cid, created), media_type="text/event-stream")
        return completion(ans, cid, created)

    return app


def serve(settings: Settings) -> None:
    """Run the API with uvicorn until interrupted."""
    import uvicorn

    problem = check_serve(settings)
    if problem:
        raise RuntimeError(problem)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.api_port, log_level="info")
