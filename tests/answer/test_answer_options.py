"""What the readers offer the answer model: figures of the asked kind, sentences, and the dates in
them, quoted in the source's own spelling, on documents of different shapes (a ministry's web page,
a statistics summary, an agency's overview, the seed budget slides)."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = (ROOT / "corpus", ROOT / "eval" / "programs" / "corpus", ROOT / "eval" / "budget" / "corpus")


@pytest.fixture(scope="module")
def docs():
    from stiqa.ingest.chunker import chunk_corpus
    from stiqa.ingest.files import load_corpus
    from stiqa.retrieve.rerank import SentenceMatcher

    chunks = []
    for folder in FOLDERS:
        loaded, _ = load_corpus(folder)
        chunks += chunk_corpus(loaded)
    return chunks, SentenceMatcher(chunks), {c.id: i for i, c in enumerate(chunks)}


def _offer(docs, source, question):
    from stiqa.answer.options import offer
    from stiqa.records import Hit

    chunks, matcher, position = docs
    hits = [Hit(c, 1.0) for c in chunks if c.source == source]
    return offer(question, hits, [], None, matcher=matcher, position=position)


@pytest.mark.parametrize("source, question, date", [
    ("mext_research_integrity.md", "研究インテグリティの確保に関する政府の対応方針が決まったのはいつですか？", "令和3年4月27日"),
    ("jst_erato_gaiyou.md", "ERATOが総括実施型研究として新たにスタートしたのはいつからですか？", "平成14年度"),
])
def test_a_when_question_is_offered_the_dates_of_the_passages(docs, source, question, date):
    got = _offer(docs, source, question)
    assert any(o.figure == date for o in got.options)
    assert all(o.origin != "figure" or o.text.startswith(o.candidate.figure) for o in got.options)


def test_a_question_for_no_figure_is_offered_the_sentence_that_holds_the_answer(docs):
    got = _offer(docs, "stat_kagaku_chosa_h16_gaiyou.md", "平成15年度の科学技術研究費は、何年続けて前年度を上回りましたか？")
    # 「何年続けて」 asks for a count of years in words: the sentence is offered, quoted whole
    assert any("4年連続" in o.text for o in got.options)


def test_figures_of_the_asked_kind_only(docs):
    got = _offer(docs, "mext_fy2023_budget_international.md", "SICORPの令和5年度予算額はいくら？")
    kinds = {o.candidate.kind for o in got.options if o.candidate is not None}
    assert "1,073百万円" in {o.candidate.figure for o in got.options if o.candidate is not None}
    assert kinds <= {"money", "plain"}


def test_a_range_is_offered_whole_in_the_source_spelling(docs):
    got = _offer(docs, "mext_fy2023_budget_international.md", "SICORPの支援額は？")
    assert any("5百万円~1億円" in o.text.replace("〜", "~") for o in got.options)


def test_quotes_keep_the_documents_own_spelling():
    from stiqa.text.japanese import normalize, source_spelling

    text = "NZ、加、英、韓を含め20カ国が準参加。\n期間：３ヶ月（最大）"
    assert source_spelling(normalize("20カ国が準参加"), text) == "20カ国が準参加"
    assert source_spelling(normalize("３ヶ月（最大）"), text) == "３ヶ月（最大）"
    assert source_spelling("書かれていない", text) == "書かれていない"
