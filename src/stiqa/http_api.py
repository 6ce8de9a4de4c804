"""An OpenAI-compatible HTTP API, so chat clients people already use can ask stiqa.

``stiqa serve [--host H] [--port N]`` (default 127.0.0.1:8000)::

    POST /v1/chat/completions   {"model": "stiqa", "messages": [...], "stream": false}
    GET  /v1/models             lists "stiqa"

The ``messages`` are read as a stiqa conversation: the last ``MAX_REPLAYED`` earlier user turns are
replayed (what a follow-up such as 「その予算は？」 is read against: the previous question and the
topic it named), the last user message is answered. The answer comes back as the
assistant message, its numbered citations (file, section, lines) appended to the text and also as a
structured ``citations`` field; ``stream: true`` sends server-sent events in OpenAI's chunk format.
Bound beyond loopback the API refuses to start without ``STIQA_API_KEY``, then requires it as a
Bearer token (also whenever it is set) on every path, ``/docs`` and ``/openapi.json`` included.
Errors are JSON in OpenAI's shape, never a traceback: malformed JSON or messages 400, a body over
``MAX_BODY`` bytes or an over-long question 413, a missing or wrong key 401.

Why FastAPI and not LlamaIndex's or Gradio's servers: neither speaks this protocol; FastAPI comes
with Gradio, and uvicorn serves it.
"""
from __future__ import annotations

import hmac
import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from stiqa.config import Settings, is_loopback
from stiqa.errors import ApiError

MODEL = "stiqa"
#: the largest request body read (a chat request is a few kilobytes; 1 MB leaves room for long histories)
MAX_BODY = 1024 * 1024
#: earlier user turns replayed: each is answered again, so an unbounded history would let one
#: request hold a core for minutes; a follow-up is read against the last turns only
MAX_REPLAYED = 3


def check_serve(settings: Settings) -> str:
    """Why the API may not start with these settings ('' when it may)."""
    if not is_loopback(settings.host) and not settings.api_key:
        return (f"{settings.host} で公開するには STIQA_API_KEY（Bearer トークン）を設定してください。"
                "手元だけで使う場合は --host 127.0.0.1 にしてください。")
    return ""


def _valid_str(text: str, where: str) -> str:
    try:  # a lone surrogate ("\\ud800") is valid JSON but no text: it could not even be written back
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ApiError(400, f"{where} に文字として読めない部分があります（{exc.reason}）") from exc
    return text


def _text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return _valid_str(content, where)
    if isinstance(content, list):  # [{"type": "text", "text": ...}, ...]
        parts = []
        for j, p in enumerate(content):
            if not isinstance(p, dict) or not isinstance(p.get("type"), str):
                raise ApiError(400, f"{where}[{j}] は type を持つオブジェクトです")
            if p["type"] != "text":
                continue
            if not isinstance(p.get("text"), str):
                raise ApiError(400, f"{where}[{j}].text は文字列です")
            parts.append(_valid_str(p["text"], f"{where}[{j}].text"))
        return "".join(parts)
    raise ApiError(400, f"{where} は文字列か、type=text の部品の配列です")


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
            users.append(_text(m.get("content"), f"messages[{i}].content"))
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
    return users[:-1][-MAX_REPLAYED:], question, stream


def answer_text(ans: Any) -> str:
    """The answer with how the question was read (解釈), then its numbered citations, as a chat client shows it."""
    lines = [ans.interpretation] if ans.interpretation else []
    lines.append(ans.text)
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


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) past ``limit`` bytes without reading the rest."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"リクエストが大きすぎます（上限 {limit // 1024:,} KB）")
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > limit:
            raise ApiError(413, f"リクエストが大きすぎます（上限 {limit // 1024:,} KB）")
    return bytes(body)


def parse_json(raw: bytes) -> Any:
    """The body as JSON, or a 400: bad UTF-8, bad syntax and nesting too deep to read alike."""
    try:
        return json.loads(raw)
    except RecursionError as exc:  # 「[[[[…」 50,000 deep: Python's parser gives up, the client gets a 400
        raise ApiError(400, "JSON の入れ子が深すぎます") from exc
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError both are ValueErrors
        raise ApiError(400, f"JSON として読めません: {exc}") from exc


def error_response(exc: ApiError) -> JSONResponse:
    return JSONResponse({"error": {"message": exc.message, "type": exc.kind, "code": exc.status}},
                        status_code=exc.status)


def bearer_ok(header: str, key: str) -> bool:
    """``Authorization: Bearer <key>``; the scheme is case-insensitive (RFC 7235), the key is not."""
    scheme, _, token = header.strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), key.encode())


def create_app(settings: Settings, assistant: Any = None) -> FastAPI:
    """The FastAPI app (the engine is opened on the first request unless one is given)."""
    app = FastAPI(title="stiqa", version="0.2.0")
    state: dict[str, Any] = {"assistant": assistant}
    log = logging.getLogger(__name__)

    def engine() -> Any:
        if state["assistant"] is None:
            from stiqa.engine import get_assistant

            state["assistant"] = get_assistant(settings)
        return state["assistant"]

    @app.middleware("http")
    async def guard(request: Request, call_next: Any):
        # one gate for every path (the docs and the schema too), and no traceback ever reaches a client
        if settings.api_key and not bearer_ok(request.headers.get("authorization", ""), settings.api_key):
            return error_response(ApiError(401, "API キーがないか、違います（Authorization: Bearer …）",
                                           "authentication_error"))
        try:
            return await call_next(request)
        except Exception:  # noqa: BLE001 - the log gets the traceback, the client a JSON 500
            log.exception("request failed: %s %s", request.method, request.url.path)
            return error_response(ApiError(500, "サーバー内部のエラーです（詳細はサーバーのログ）", "server_error"))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):  # 404, 405 in OpenAI's shape
        return error_response(ApiError(exc.status_code, str(exc.detail)))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        return error_response(ApiError(400, "リクエストの形式が正しくありません"))

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "stiqa"}]}

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        try:
            body = parse_json(await read_body(request, MAX_BODY))
            history, question, stream = read_request(body, settings.max_question_chars)
        except ApiError as exc:
            return error_response(exc)

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
