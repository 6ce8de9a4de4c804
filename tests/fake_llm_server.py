"""A loopback OpenAI-compatible chat server for tests: scripted replies, no model weights.

``POST /v1/chat/completions`` answers with the next scripted reply (or a reply chosen by a
function of the request), non-streaming JSON or streaming SSE as the request asks. Every request
body is recorded in ``server.requests`` so tests can check the prompts that were sent.

    with FakeLLMServer() as srv:
        srv.script(Reply("…[1]"))
        settings.with_overrides(llm_url=srv.url, llm_model="fake", llm_timeout=1.0)
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted response.

    content: the assistant message text; status: HTTP status (an error body when not 200);
    delay: seconds to sleep before answering (for timeouts); raw: bytes sent verbatim instead of
    a well-formed body (garbage).
    """

    content: str = ""
    status: int = 200
    delay: float = 0.0
    raw: bytes | None = None


Responder = Callable[[dict[str, Any]], Reply]


class FakeLLMServer:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._queue: list[Reply] = []
        self._responder: Responder | None = None
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    # ------------------------------------------------------------ control

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def script(self, *replies: Reply) -> None:
        """Replies served in order, one per request (then the responder, then an error)."""
        with self._lock:
            self._queue = list(replies)
            self.requests.clear()

    def respond_with(self, fn: Responder | None) -> None:
        with self._lock:
            self._responder = fn
            self.requests.clear()

    def start(self) -> "FakeLLMServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> "FakeLLMServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _next(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(body)
            if self._queue:
                return self._queue.pop(0)
            if self._responder:
                return self._responder(body)
        return Reply(status=500, content="no scripted reply left")

    # ------------------------------------------------------------ protocol

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # /v1/models, as real servers offer it
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, json.dumps({"object": "list", "data": [{"id": "fake", "object": "model"}]}).encode())
                else:
                    self._send(404, b'{"error": {"message": "not found"}}')

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, b'{"error": {"message": "not found"}}')
                    return
                try:
                    body = json.loads(raw)
                except ValueError:
                    self._send(400, b'{"error": {"message": "bad json"}}')
                    return
                reply = server._next(body)
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    if reply.raw is not None:
                        self._send(reply.status, reply.raw,
                                   "text/event-stream" if body.get("stream") else "application/json")
                    elif reply.status != 200:
                        err = {"error": {"message": reply.content or "error", "type": "server_error"}}
                        self._send(reply.status, json.dumps(err).encode())
                    elif body.get("stream"):
                        self._stream(body, reply.content)
                    else:
                        self._send(200, json.dumps(_completion(body, reply.content)).encode())
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    pass

            def _stream(self, body: dict[str, Any], content: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                pieces = [content[i:i + 8] for i in range(0, len(content), 8)] or [""]
                events = [_chunk(body, {"role": "assistant", "content": ""}, None)]
                events += [_chunk(body, {"content": p}, None) for p in pieces]
                events.append(_chunk(body, {}, "stop"))
                for ev in events:
                    self.wfile.write(f"data: {json.dumps(ev, ensure_ascii=False)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

        return Handler


def _completion(body: dict[str, Any], content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": "stop", "logprobs": None}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _chunk(body: dict[str, Any], delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }
