"""The OpenAI-compatible API, on a real uvicorn server on 127.0.0.1, asked with the official
``openai`` client (plain and streaming, with a follow-up) and with raw HTTP for the error cases."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import replace

import httpx
import pytest

from conftest import free_port

KEY = "test-key-123"


def _start(settings, assistant, **over):
    import uvicorn

    from stiqa.http_api import create_app

    s = replace(settings, host="127.0.0.1", api_port=free_port(), **over)
    server = uvicorn.Server(uvicorn.Config(create_app(s, assistant), host=s.host, port=s.api_port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{s.api_port}/v1"


@pytest.fixture(scope="module")
def api(settings, assistant):
    server, thread, url = _start(settings, assistant)
    yield url
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def keyed_api(settings, assistant):
    server, thread, url = _start(settings, assistant, api_key=KEY)
    yield url
    server.should_exit = True
    thread.join(timeout=10)


def test_openai_client_gets_a_cited_answer(api):
    from openai import OpenAI

    client = OpenAI(base_url=api, api_key="unused-on-loopback")
    assert [m.id for m in client.models.list()] == ["stiqa"]
    resp = client.chat.completions.create(model="stiqa", messages=[
        {"role": "user", "content": "SICORPの令和5年度予算額（案）はいくらですか？"}])
    text = resp.choices[0].message.content
    assert "1,073百万円" in text and "[1] mext_fy2023_budget_international.md L" in text
    extra = resp.model_extra
    assert extra["citations"][0]["source"] == "mext_fy2023_budget_international.md"
    assert extra["stiqa"]["abstained"] is False


def test_messages_history_is_read_as_the_conversation(api):
    from openai import OpenAI

    client = OpenAI(base_url=api, api_key="x")
    resp = client.chat.completions.create(model="stiqa", messages=[
        {"role": "user", "content": "SATREPSって何？"},
        {"role": "assistant", "content": "（前の回答）"},
        {"role": "user", "content": "その予算は？"}])
    assert "1,878百万円" in resp.choices[0].message.content
    assert "SATREPS" in resp.model_extra["stiqa"]["interpretation"]


def test_streaming_sends_the_same_answer_in_chunks(api):
    from openai import OpenAI

    client = OpenAI(base_url=api, api_key="x")
    messages = [{"role": "user", "content": "SICORPの令和5年度予算額（案）はいくらですか？"}]
    whole = client.chat.completions.create(model="stiqa", messages=messages).choices[0].message.content
    parts, finish = [], None
    for chunk in client.chat.completions.create(model="stiqa", messages=messages, stream=True):
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
        if chunk.choices and chunk.choices[0].finish_reason:
            finish = chunk.choices[0].finish_reason
    assert "".join(parts) == whole and finish == "stop" and len(parts) >= 2


@pytest.mark.parametrize("body, status", [
    (b"{not json", 400),
    (b'{"messages": []}', 400),
    (b'{"messages": [{"role": "assistant", "content": "hi"}]}', 400),
    (b'{"messages": [{"role": "user", "content": 3}]}', 400),
    (b'{"messages": [{"role": "user", "content": "SICORP"}], "stream": "yes"}', 400),
])
def test_malformed_requests_get_a_json_400(api, body, status):
    r = httpx.post(f"{api}/chat/completions", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status
    assert r.json()["error"]["message"]


def test_over_long_question_is_413(api, settings):
    q = "あ" * (settings.max_question_chars + 1)
    r = httpx.post(f"{api}/chat/completions", json={"messages": [{"role": "user", "content": q}]})
    assert r.status_code == 413 and "長すぎます" in r.json()["error"]["message"]


def test_key_is_required_when_set(keyed_api):
    from openai import AuthenticationError, OpenAI

    r = httpx.post(f"{keyed_api}/chat/completions", json={"messages": [{"role": "user", "content": "SICORP"}]})
    assert r.status_code == 401
    with pytest.raises(AuthenticationError):
        OpenAI(base_url=keyed_api, api_key="wrong").models.list()
    assert [m.id for m in OpenAI(base_url=keyed_api, api_key=KEY).models.list()] == ["stiqa"]


def test_binding_beyond_loopback_needs_a_key(settings):
    from stiqa.http_api import check_serve

    assert check_serve(replace(settings, host="0.0.0.0", api_key=""))
    assert check_serve(replace(settings, host="0.0.0.0", api_key=KEY)) == ""
    assert check_serve(replace(settings, host="127.0.0.1")) == ""


# ---------------------------------------------------------------- under real use (issue 19)


@pytest.mark.parametrize("content", [
    [{"type": "text", "text": 5}], [{"type": "text", "text": None}], [{"type": "text"}], [5], [{"text": "SICORP"}],
    "\ud800SICORP",
])
def test_content_parts_that_are_not_text_get_a_400(api, content):
    body = json.dumps({"messages": [{"role": "user", "content": content}]})  # ASCII, lone surrogates escaped
    r = httpx.post(f"{api}/chat/completions", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"


def test_deep_nesting_is_a_400_and_the_connection_keeps_serving(api):
    with httpx.Client() as client:  # one keep-alive connection for both requests
        deep = b'{"messages": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
        r = client.post(f"{api}/chat/completions", content=deep, headers={"content-type": "application/json"})
        assert r.status_code == 400 and "深すぎ" in r.json()["error"]["message"]
        r = client.post(f"{api}/chat/completions", json={"messages": [{"role": "user", "content": [
            {"type": "text", "text": 5}]}]})
        assert r.status_code == 400
        assert client.get(f"{api}/models").json()["data"][0]["id"] == "stiqa"


def test_a_body_over_the_limit_is_413_unread(api):
    from stiqa.http_api import MAX_BODY

    big = {"messages": [{"role": "user", "content": "あ" * 100}], "pad": "x" * (MAX_BODY + 1)}
    r = httpx.post(f"{api}/chat/completions", json=big)
    assert r.status_code == 413 and r.json()["error"]["message"]

    def chunked():  # no Content-Length: the limit holds while reading
        yield b'{"messages": [], "pad": "'
        for _ in range(MAX_BODY // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    r = httpx.post(f"{api}/chat/completions", content=chunked(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_only_the_last_turns_are_replayed(settings, assistant):
    """30 earlier questions: the follow-up is read against the last MAX_REPLAYED, the rest never answered."""
    from stiqa.http_api import MAX_REPLAYED

    asked: list[str] = []

    class Counting:  # the real engine, counting what each conversation answers
        def chat(self):
            conv = assistant.chat()
            own = conv.ask

            def ask(q, **kw):
                asked.append(q)
                return own(q, **kw)
            conv.ask = ask
            return conv

    server, thread, url = _start(settings, Counting())
    try:
        history = [f"質問{i}：SATREPSって何？" for i in range(27)] + ["SATREPSって何？", "JSTとは？", "SATREPSって何？"]
        messages = [m for q in history for m in ({"role": "user", "content": q}, {"role": "assistant", "content": "…"})]
        r = httpx.post(f"{url}/chat/completions", json={"messages": [*messages, {"role": "user", "content": "その予算は？"}]},
                       timeout=120)
        assert r.status_code == 200
        assert asked == [*history[-MAX_REPLAYED:], "その予算は？"]
        assert "1,878百万円" in r.json()["choices"][0]["message"]["content"]
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_message_text_tells_how_a_follow_up_was_read(api):
    r = httpx.post(f"{api}/chat/completions", json={"messages": [
        {"role": "user", "content": "SATREPSって何？"}, {"role": "user", "content": "その予算は？"}]}, timeout=120)
    text = r.json()["choices"][0]["message"]["content"]
    first = text.splitlines()[0]
    assert first.startswith("解釈：") and "SATREPS" in first


def test_bearer_scheme_is_case_insensitive(keyed_api):
    for scheme in ("bearer", "BEARER", "Bearer"):
        r = httpx.get(f"{keyed_api}/models", headers={"authorization": f"{scheme} {KEY}"})
        assert r.status_code == 200, scheme
    assert httpx.get(f"{keyed_api}/models", headers={"authorization": f"Basic {KEY}"}).status_code == 401


def test_docs_and_schema_need_the_key_when_one_is_set(keyed_api):
    root = keyed_api.removesuffix("/v1")
    for path in ("/docs", "/openapi.json", "/redoc"):
        r = httpx.get(root + path)
        assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error", path
    assert httpx.get(root + "/openapi.json", headers={"authorization": f"Bearer {KEY}"}).status_code == 200


def test_unknown_paths_and_methods_answer_in_openai_shape(api):
    assert httpx.get(f"{api}/nowhere").json()["error"]["code"] == 404
    r = httpx.get(f"{api}/chat/completions")
    assert r.status_code == 405 and r.json()["error"]["message"]
