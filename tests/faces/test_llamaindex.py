"""stiqa as LlamaIndex components, on the real engine: a stock query engine over stiqa's retriever,
stiqa's own query engine, and its chat engine with a follow-up."""
from __future__ import annotations

import pytest

from stiqa.llamaindex import StiqaChatEngine, StiqaQueryEngine, StiqaRetriever

SICORP = "SICORPの令和5年度予算額（案）はいくらですか？"


def test_stock_retriever_query_engine_gets_the_sicorp_passage_first(assistant):
    from llama_index.core.llms import MockLLM
    from llama_index.core.query_engine import RetrieverQueryEngine

    engine = RetrieverQueryEngine.from_args(StiqaRetriever(assistant, k=5), llm=MockLLM())
    resp = engine.query(SICORP)
    first = resp.source_nodes[0].node
    assert first.metadata["source"] == "mext_fy2023_budget_international.md"
    assert "1,073百万円" in first.get_content()
    assert {"source", "title", "section", "line_start", "line_end"} <= set(first.metadata)


def test_query_engine_answers_with_its_cited_source_node(assistant):
    resp = StiqaQueryEngine(assistant).query(SICORP)
    assert "1,073百万円" in str(resp)
    assert resp.metadata["abstained"] is False
    node = resp.source_nodes[0].node
    assert node.metadata["source"] == "mext_fy2023_budget_international.md"
    assert "1,073百万円" in node.get_content()


def test_query_engine_says_when_it_abstains(assistant):
    resp = StiqaQueryEngine(assistant).query("ムーンショットの予算は？")
    assert resp.metadata["abstained"] is True and resp.source_nodes == []


def test_chat_engine_keeps_follow_ups_and_streams(assistant):
    chat = StiqaChatEngine(assistant)
    chat.chat("SATREPSの予算は？")
    follow = chat.chat("その前年度は？")
    assert "1,826百万円" in follow.response and "SATREPS" in follow.metadata["interpretation"]
    assert len(chat.chat_history) == 4
    streamed = chat.stream_chat("その前年度は？")
    assert "".join(streamed.response_gen) == follow.response
    chat.reset()
    assert chat.chat_history == []


def test_retriever_rejects_a_bad_k(assistant):
    with pytest.raises(ValueError):
        StiqaRetriever(assistant, k=0)
