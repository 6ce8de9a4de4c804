"""The optional LLM backend against a real loopback HTTP server (no model weights).

The fake server speaks the OpenAI chat-completions protocol (streaming and not); its replies are
scripted per test. What is checked: a good cited answer is shown (backend "llm"); an invented
figure, a citation out of range or no citation at all is rejected and the extractive answer shown
with a notice; a 500, a timeout, garbage and a server that is down give the extractive answer and
a one-line notice, quickly; a follow-up is condensed by the model with the earlier turn in the prompt.
"""
from __future__ import annotations

import json
import re
import socket
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # fake_llm_server.py
from fake_llm_server import FakeLLMServer, Reply  # noqa: E402

from stiqa.records import Chunk  # noqa: E402

QUESTION = "「科学技術イノベーションの戦略的国際展開」の令和5年度予算案は全体でいくらですか？"
FOLLOW_UP = "前年度は？"
CONDENSED = "「科学技術イノベーションの戦略的国際展開」の前年度予算額はいくらですか？"


# --------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def server():
    with FakeLLMServer() as srv:
        yield srv


@pytest.fixture()
def llm_settings(settings, server):
    return settings.with_overrides(llm_url=server.url, llm_model="fake", llm_timeout=1.0)


def make_assistant(base, s):
    """An Assistant with these settings that shares the loaded searcher (no second engine)."""
    from stiqa.engine import Assistant

    return Assistant(s, searcher=base.searcher, aliases=base._aliases, finder=base.answerer.finder)


@pytest.fixture()
def llm_assistant(assistant, llm_settings):
    return make_assistant(assistant, llm_settings)


def sources_of(body) -> dict[int, str]:
    """The numbered sources in an answer request: {n: passage text (header line removed)}."""
    user = body["messages"][-1]["content"]
    block = user.split("資料：\n", 1)[1].rsplit("\n\n質問：", 1)[0]
    parts = re.split(r"(?m)^\[(\d+)\] 文書：", block)
    return {int(n): text.split("\n", 1)[1] if "\n" in text else "" for n, text in zip(parts[1::2], parts[2::2])}


def question_of(body) -> str:
    return body["messages"][-1]["content"].rsplit("質問：", 1)[1].strip()


def is_condense(body) -> bool:
    return "独立した質問" in body["messages"][-1]["content"]


def quoting_answer(body) -> str:
    """A faithful answer: a line with a figure, quoted from the first source that has one, cited."""
    for n, text in sorted(sources_of(body).items()):
        for line in text.splitlines():
            if re.search(r"\d", line) and "[" not in line and len(line.strip()) > 4:
                return f"資料によると「{line.strip()}」とあります。[{n}]"
    return "資料には記載が見つかりませんでした。"


def good(body) -> Reply:
    return Reply(quoting_answer(body))


def extractive_text(assistant, question, history=()):
    conv = assistant.chat()
    conv.replay(list(history))
    return conv.ask(question).text


# --------------------------------------------------------------------------- the guard, on its own


def _chunk(text, n=1):
    return Chunk(id=f"c{n}", source=f"doc{n}.md", title="令和5年度予算案", date="2023年1月", section="国際展開",
                 line_start=1, line_end=2, text=text)


def test_guard_accepts_same_amount_in_another_spelling_and_renumbers():
    from stiqa.chat.llm import check_answer

    srcs = [_chunk("事業A 1,073百万円", 1), _chunk("事業B 50件", 2)]
    v = check_answer("事業Bは50件です［２］。事業Aは10億7,300万円です[1, 2]。", srcs)
    assert v.ok, v.reason
    assert [c.id for c in v.cited] == ["c2", "c1"]
    assert v.text == "事業Bは50件です[1]。事業Aは10億7,300万円です[2][1]。"


def test_guard_rejects_invented_figure_out_of_range_and_uncited():
    from stiqa.chat.llm import check_answer

    srcs = [_chunk("事業A 1,073百万円", 1), _chunk("事業B 50件", 2)]
    v = check_answer("事業Aは12億円です[1]。", srcs)
    assert not v.ok and "12億円" in v.reason
    v = check_answer("事業Bは50件です[1]。", srcs)  # 50 stands in source 2, not in the cited source 1
    assert not v.ok and "50" in v.reason
    v = check_answer("事業Aは1,073百万円です[3]。", srcs)
    assert not v.ok and "[3]" in v.reason
    v = check_answer("事業Aは1,073百万円です。", srcs)
    assert not v.ok and "出典番号" in v.reason
    v = check_answer("資料には記載が見つかりませんでした。", srcs)
    assert v.ok and v.abstained
    assert not check_answer("  ", srcs).ok


def test_prompts_are_japanese_and_show_metadata():
    from stiqa.chat.prompts import ANSWER_SYSTEM, answer_messages

    msgs = answer_messages("質問です", [_chunk("本文 1,073百万円")])
    assert "資料には記載が見つかりませんでした" in ANSWER_SYSTEM and "[1]" in ANSWER_SYSTEM
    assert "表記のまま" in ANSWER_SYSTEM
    user = msgs[1][1]
    assert "[1] 文書：令和5年度予算案（2023年1月） / 見出し：国際展開\n本文 1,073百万円" in user
    assert user.rstrip().endswith("質問：質問です")


# --------------------------------------------------------------------------- accepted answers


def test_good_cited_answer_is_shown(llm_assistant, server):
    server.respond_with(good)
    ans = llm_assistant.ask(QUESTION)
    assert ans.backend == "llm", ans.notice
    assert ans.notice == "" and not ans.abstained
    assert ans.text.startswith("資料によると") and "[1]" in ans.text
    assert len(ans.citations) == 1 and ans.retrieved
    body = server.requests[-1]
    assert body["model"] == "fake" and not body.get("stream")
    assert body["messages"][0]["role"] == "system" and "資料には記載が見つかりませんでした" in body["messages"][0]["content"]
    assert question_of(body) == QUESTION
    assert len(sources_of(body)) == llm_assistant.settings.top_k
    assert any("mext_fy2023_budget_international" in c.source for c in ans.citations)
    out = ans.to_json()
    assert out["backend"] == "llm" and "notice" not in out


def test_model_abstaining_is_an_abstention(llm_assistant, server):
    server.script(Reply("資料には記載が見つかりませんでした。"))
    ans = llm_assistant.ask("火星探査の予算はいくらですか？")
    assert ans.backend == "llm" and ans.abstained and not ans.citations
    assert ans.text.startswith("資料には記載が見つかりませんでした")


# --------------------------------------------------------------------------- rejected answers


def test_invented_figure_is_rejected_and_extractive_shown(llm_assistant, assistant, server):
    server.script(Reply("戦略的国際展開の令和5年度予算案は9,876億円です。[1]"))
    ans = llm_assistant.ask(QUESTION)
    assert ans.backend == "extractive"
    assert "9,876億円" in ans.notice and "採用せず" in ans.notice and "\n" not in ans.notice
    assert ans.text == extractive_text(assistant, QUESTION)
    assert ans.to_json()["notice"] == ans.notice


def test_citation_out_of_range_is_rejected(llm_assistant, assistant, server):
    server.script(Reply("資料によると予算案が示されています。[9]"))
    ans = llm_assistant.ask(QUESTION)
    assert ans.backend == "extractive" and "[9]" in ans.notice
    assert ans.text == extractive_text(assistant, QUESTION)


def test_uncited_answer_is_rejected(llm_assistant, server):
    server.script(Reply("予算案が示されています。"))
    ans = llm_assistant.ask(QUESTION)
    assert ans.backend == "extractive" and "出典番号" in ans.notice


# --------------------------------------------------------------------------- server failures


def test_http_500_gives_extractive_with_notice(llm_assistant, assistant, server):
    server.script(Reply("boom", status=500))
    ans = llm_assistant.ask(QUESTION)
    assert ans.backend == "extractive" and "HTTP 500" in ans.notice and "\n" not in ans.notice
    assert ans.text == extractive_text(assistant, QUESTION)


def test_timeout_is_fast_and_gives_extractive(llm_assistant, server):
    from stiqa.errors import LLMError
    from stiqa.chat.llm import answerer_for

    backend = answerer_for(llm_assistant).backend
    server.script(Reply("ok"), Reply("遅すぎる回答 [1]", delay=8.0), Reply("遅すぎる回答 [1]", delay=8.0))
    backend.complete([("user", "warm-up")])  # client set up, so the timing below is the wait alone
    t0 = time.perf_counter()
    with pytest.raises(LLMError, match="1 秒以内に応答しませんでした"):
        backend.complete([("user", "slow")])
    took = time.perf_counter() - t0
    assert took < 5, took  # the server would have answered after 8 s
    ans = llm_assistant.ask(QUESTION)
    assert ans.backend == "extractive" and "1 秒以内に応答しませんでした" in ans.notice


@pytest.mark.parametrize("raw", [b"{not json at all", b'{"unexpected": true}', b"\x00\xff garbage"])
def test_garbage_gives_extractive_with_notice(llm_assistant, server, raw):
    server.script(Reply(raw=raw))
    ans = llm_assistant.ask(QUESTION)
    assert ans.backend == "extractive"
    assert ans.notice.endswith("抽出型の回答を表示します。") and "\n" not in ans.notice


def test_server_down_gives_extractive_with_notice(assistant, settings):
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    a = make_assistant(assistant, settings.with_overrides(llm_url=f"http://127.0.0.1:{port}/v1",
                                                          llm_model="fake", llm_timeout=1.0))
    ans = a.ask(QUESTION)
    assert ans.backend == "extractive" and "接続できませんでした" in ans.notice


def test_gguf_without_llama_cpp_or_file_says_so(assistant, settings, tmp_path):
    a = make_assistant(assistant, settings.with_overrides(llm_gguf=str(tmp_path / "missing.gguf")))
    ans = a.ask(QUESTION)
    assert ans.backend == "extractive"
    assert "llama-cpp-python" in ans.notice or "GGUF ファイルが見つかりません" in ans.notice


def test_invalid_question_never_reaches_the_model(llm_assistant, server):
    server.script()
    ans = llm_assistant.ask("   ")
    assert ans.abstained and ans.backend == "input" and server.requests == []


# --------------------------------------------------------------------------- streaming


def test_streaming_yields_deltas_then_guarded_answer(llm_assistant, server):
    from stiqa.chat.llm import LLMAnswerer
    from stiqa.records import Answer

    server.respond_with(good)
    items = list(LLMAnswerer(llm_assistant.settings, llm_assistant).stream(QUESTION, []))
    deltas, final = items[:-1], items[-1]
    assert isinstance(final, Answer) and final.backend == "llm", final.notice
    assert len(deltas) > 1 and all(isinstance(d, str) for d in deltas)
    assert "".join(deltas) == quoting_answer(server.requests[-1])
    assert server.requests[-1]["stream"] is True


def test_streaming_rejected_answer_ends_with_extractive(llm_assistant, server):
    from stiqa.chat.llm import LLMAnswerer

    server.script(Reply("予算案は9,876億円です。[1]"))
    final = list(LLMAnswerer(llm_assistant.settings, llm_assistant).stream(QUESTION, []))[-1]
    assert final.backend == "extractive" and "9,876億円" in final.notice


def test_streaming_garbage_and_error(llm_assistant, server):
    from stiqa.chat.llm import LLMAnswerer

    llm = LLMAnswerer(llm_assistant.settings, llm_assistant)
    server.script(Reply(raw=b"data: {broken\n\n"), Reply(status=503), Reply("遅い [1]", delay=8.0))
    notices = []
    for _ in range(3):
        final = list(llm.stream(QUESTION, []))[-1]
        assert final.backend == "extractive"
        notices.append(final.notice)
    assert "解釈できませんでした" in notices[0] and "HTTP 503" in notices[1] and "秒以内" in notices[2]


def test_stream_in_conversation_records_the_turn(llm_assistant, server):
    from stiqa.chat.llm import stream_with_llm

    server.respond_with(good)
    conv = llm_assistant.chat()
    items = list(stream_with_llm(conv, QUESTION))
    assert items[-1].backend == "llm" and len(conv.turns) == 1 and conv.turns[0].answer is items[-1]


# --------------------------------------------------------------------------- follow-ups


def test_follow_up_is_condensed_by_the_model(llm_assistant, server):
    def responder(body):
        return Reply(CONDENSED) if is_condense(body) else good(body)

    server.respond_with(responder)
    conv = llm_assistant.chat()
    first = conv.ask(QUESTION)
    assert first.backend == "llm" and len(server.requests) == 1  # no history: nothing to condense
    second = conv.ask(FOLLOW_UP)
    assert len(server.requests) == 3
    condense, answer_req = server.requests[1], server.requests[2]
    prompt = condense["messages"][-1]["content"]
    assert is_condense(condense) and "指示語" in prompt
    assert f"利用者：{QUESTION}" in prompt and "アシスタント：資料によると" in prompt
    assert prompt.rstrip().endswith(f"新しい質問：{FOLLOW_UP}\n独立した質問：")
    assert question_of(answer_req) == CONDENSED
    assert second.backend == "llm" and second.interpretation == f"解釈：{CONDENSED}"
    assert second.question == FOLLOW_UP
    assert [t.question for t in conv.turns] == [QUESTION, FOLLOW_UP]
    assert conv.turns[1].resolved == CONDENSED


def test_failed_condensation_falls_back_to_rule_based_reading(llm_assistant, assistant, server):
    server.respond_with(lambda body: Reply(status=500) if is_condense(body) else good(body))
    conv = llm_assistant.chat()
    conv.ask(QUESTION)
    ans = conv.ask(FOLLOW_UP)
    assert ans.backend == "extractive" and "HTTP 500" in ans.notice
    base = assistant.chat()
    base.ask(QUESTION)
    expected = base.ask(FOLLOW_UP)
    assert (ans.text, ans.interpretation) == (expected.text, expected.interpretation)
    assert len(conv.turns) == 2


# --------------------------------------------------------------------------- faces: CLI and eval


def test_cli_ask_llm_json(settings, server, capsys, monkeypatch):
    from stiqa.cli import main

    monkeypatch.setenv("STIQA_LLM_TIMEOUT", "2")
    argv = ["--corpus", str(settings.corpus_dir), "--index", str(settings.index_dir), "ask", QUESTION,
            "--llm", server.url, "--model", "fake", "--json"]
    server.respond_with(good)
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["backend"] == "llm" and "notice" not in out and out["citations"]
    server.respond_with(lambda body: Reply("予算案は9,876億円です。[1]"))
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["backend"] == "extractive" and "9,876億円" in out["notice"]


def test_eval_runs_through_the_backend(llm_assistant, server):
    evaluate = pytest.importorskip("stiqa.evaluate.run")
    server.respond_with(lambda body: Reply(CONDENSED) if is_condense(body) else good(body))
    items = [{"id": "a", "question": QUESTION, "history": [], "expect": [["141億円", "14,100百万円"]],
              "source": "mext_fy2023_budget_international", "type": "budget", "abstain": False},
             {"id": "b", "question": FOLLOW_UP, "history": [QUESTION], "expect": [["138億円"]],
              "source": "mext_fy2023_budget_international", "type": "followup", "abstain": False}]
    results, _summary = evaluate.evaluate(llm_assistant, items, progress=False)
    assert [r["backend"] for r in results] == ["llm", "llm"]
    assert any(is_condense(b) for b in server.requests)


@pytest.mark.slow
def test_web_chat_streams_the_llm_text_then_shows_the_guarded_answer(llm_settings, server):
    from stiqa.web.chat_tab import chat_turn

    server.respond_with(good)
    shown, conv = [], None
    for _, history, conv in chat_turn(llm_settings, QUESTION, [], None):
        shown.append(history[-1]["content"])  # what the page shows at each update
    assert len(shown) > 2, "the page is updated while the model writes"
    assert all(p.endswith("…") for p in shown[1:-1])
    assert "mext_" in shown[-1] and not shown[-1].endswith("…"), "the final answer comes with its source cards"
    assert conv.turns and conv.turns[-1].answer.backend == "llm"


def test_web_chat_replaces_a_rejected_stream_with_the_extractive_answer(llm_settings, server):
    from stiqa.web.chat_tab import chat_turn

    server.script(Reply("予算案は9,876億円です。[1]"))
    steps = [(history[-1]["content"], conv) for _, history, conv in chat_turn(llm_settings, QUESTION, [], None)]
    final, conv = steps[-1]
    assert conv.turns[-1].answer.backend == "extractive"
    assert "141億円" in final and "採用せず" in final  # the extractive figure, and why the LLM text was dropped
