"""A bounded fuzz of the HTTP API: a few hundred generated malformed bodies (wrong types, deep
nesting, huge strings, bad UTF-8, missing fields) each get a 4xx in OpenAI's error shape, and the
server goes on answering on the same connection."""
from __future__ import annotations

import json
import random

import httpx
from test_openai_api import api  # noqa: F401  (the fixture: a real server on loopback)

N_BODIES = 300
WRONG = [None, 0, -1, 3.5, True, False, "", "x", [], {}, [None], {"a": 1}, "\u0000", [[[]]]]


def _user(content):
    return {"role": "user", "content": content}


def _malformed(rng: random.Random) -> bytes:
    """One body that no well-formed chat request could be (each kind chosen at random)."""
    kind = rng.randrange(9)
    w = rng.choice(WRONG)
    if kind == 0:  # the body itself of a wrong type
        return json.dumps(rng.choice([w, "messages", [_user("SICORP")]])).encode()
    if kind == 1:  # messages missing, empty or of a wrong type
        return json.dumps(rng.choice([{}, {"messages": []}, {"messages": w if w not in ([None],) else 7}, {"model": "stiqa"}])).encode()
    if kind == 2:  # a message of a wrong type or role
        bad = rng.choice([w, {"role": w, "content": "SICORP"}, {"content": "SICORP"}, {"role": "robot", "content": "x"}])
        return json.dumps({"messages": [bad, _user("SICORP")] if rng.random() < .5 else [_user("SICORP"), bad]}).encode()
    if kind == 3:  # content of a wrong type, or parts of a wrong type
        content = rng.choice([w if not isinstance(w, str) or not w.strip() else 5,
                              [{"type": "text", "text": w if not isinstance(w, str) else 5}],
                              [w if not isinstance(w, dict) else 3], [{"type": w, "text": "SICORP"}]])
        if content == []:
            content = None
        return json.dumps({"messages": [_user(content)]}).encode()
    if kind == 4:  # the last message not a user question, or stream not a boolean
        return json.dumps(rng.choice([
            {"messages": [_user("SICORP"), {"role": "assistant", "content": "…"}]},
            {"messages": [_user("SICORP")], "stream": rng.choice(["yes", 1, None, [], {}])}])).encode()
    if kind == 5:  # nesting deep enough to exhaust a recursive parser
        depth = rng.randrange(2_000, 60_000)
        opener, closer = rng.choice([(b"[", b"]"), (b'{"a":', b"}")])
        return b'{"messages": ' + opener * depth + b"1" + closer * depth + b"}"
    if kind == 6:  # huge strings: an over-long question or a body over the limit
        size = rng.choice([2_001, 50_000, 1_100_000])
        return json.dumps({"messages": [_user("あ" * size)]}, ensure_ascii=rng.random() < .5).encode()
    if kind == 7:  # bad UTF-8 or a lone surrogate
        return rng.choice([b'{"messages": [{"role": "user", "content": "\xff\xfe SICORP"}]}',
                           b'{"messages": [{"role": "user", "content": "\xe3\x81"}]}',
                           b'{"messages": [{"role": "user", "content": "\\udc80SICORP"}]}',
                           bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))])
    # kind 8: truncated or mangled JSON text of a good request
    good = json.dumps({"messages": [_user("SICORPの予算は？")]}).encode()
    cut = rng.randrange(1, len(good) - 1)
    return rng.choice([good[:cut], good[:cut] + b"}" * rng.randrange(3), good.replace(b":", b"=", 1)])


def test_malformed_bodies_get_a_4xx_and_the_server_keeps_answering(api):
    rng = random.Random(19)
    statuses: dict[int, int] = {}
    with httpx.Client(timeout=30) as client:  # one keep-alive connection throughout
        for n in range(N_BODIES):
            body = _malformed(rng)
            r = client.post(f"{api}/chat/completions", content=body, headers={"content-type": "application/json"})
            assert 400 <= r.status_code < 500, (n, body[:200], r.status_code, r.text[:300])
            error = r.json()["error"]
            assert error["message"] and "Traceback" not in error["message"]
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            if n % 50 == 0:
                assert client.get(f"{api}/models").status_code == 200
        ok = client.post(f"{api}/chat/completions", json={"messages": [_user("SICORPの令和5年度予算額（案）はいくらですか？")]})
        assert ok.status_code == 200 and "1,073百万円" in ok.json()["choices"][0]["message"]["content"]
    assert set(statuses) <= {400, 413} and statuses.get(400) and statuses.get(413)
