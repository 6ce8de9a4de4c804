"""The sentence re-ranker: among passages on the same topic, the one whose single sentence holds
the question's words wins; the heading's words count for every passage under it."""
from __future__ import annotations

import pytest

from dataclasses import replace

from stiqa.records import Chunk


def _chunk(i: int, title: str, text: str) -> Chunk:
    return Chunk(id=f"t-{i}", source=f"t/{i}", title=title, date="", section=title, line_start=1, line_end=1,
                 text=text)


TSUYU = [
    _chunk(0, "梅雨", "梅雨は5月から7月にかけて雨が多い時期である。東アジアに特有の現象とされる。"),
    _chunk(1, "梅雨", "梅雨明けの発表は気象庁が行う。梅雨がないのは北海道と小笠原諸島である。"),
    _chunk(2, "梅雨", "梅雨前線は太平洋高気圧とオホーツク海高気圧の間にできる。"),
    _chunk(3, "富士山", "富士山は静岡県と山梨県にまたがる。梅雨の時期は登山道が閉じている。"),
]


def test_the_passage_whose_sentence_holds_the_question_scores_highest():
    from stiqa.retrieve.rerank import SentenceMatcher

    m = SentenceMatcher(TSUYU)
    scores = m.scores("日本で梅雨がないのは北海道とどこか。", [0, 1, 2, 3])
    assert int(scores.argmax()) == 1
    assert all(0.0 <= float(s) <= 1.0 for s in scores)


def test_heading_words_count_for_every_passage_under_the_heading():
    from stiqa.retrieve.rerank import SentenceMatcher

    m = SentenceMatcher(TSUYU)
    # 「梅雨前線」: chunk 2 names it in a sentence; chunks 0 and 1 only share the heading 梅雨,
    # which still beats a passage on another topic that mentions 梅雨 in passing
    s = m.scores("梅雨前線はどこにできる？", [0, 2, 3])
    assert s[1] > s[0] > 0.0
    assert m.scores("", [0, 1]).tolist() == [0.0, 0.0]


def test_search_times_the_rerank_stage_and_the_weight_changes_the_order(settings):
    from stiqa.retrieve.search import Searcher

    searcher = Searcher.open(settings)
    q = "SATREPSの相手国はどこですか"
    searcher.settings = replace(settings, sentence_weight=0.0)
    plain = searcher.search(q, 10)
    searcher.settings = replace(settings, sentence_weight=5.0)
    heavy, times = searcher.search_timed(q, 10)
    assert times.rerank > 0.0
    assert len(plain) == len(heavy) == 10
    # a heavy weight lets the best-matching sentence decide the order: the new first hit has a
    # sentence score at least as high as the old first hit's
    m = searcher.matcher
    pos = searcher.position
    first_new, first_old = m.scores(q, [pos[heavy[0].chunk.id], pos[plain[0].chunk.id]])
    assert first_new >= first_old
    searcher.settings = settings


def test_an_unknown_fusion_is_refused_with_the_choices(settings):
    from stiqa.retrieve.search import Searcher

    searcher = Searcher.open(settings)
    with pytest.raises(ValueError, match="weighted, rrf, bm25, dense"):
        searcher.search("SATREPSの相手国は", 5, fusion="x")
    assert [h.chunk.id for h in searcher.search("SATREPSの相手国は", 5, fusion="rrf")]


def test_the_searcher_keeps_no_state_per_call(settings):
    """Shared by every thread: each call's timings come back with its hits, never on the searcher."""
    from stiqa.retrieve.search import Searcher

    searcher = Searcher.open(settings)
    before = dict(vars(searcher))
    _, a = searcher.search_timed("SICORPの予算は", 5)
    _, b = searcher.search_timed("SATREPSの相手国は", 5)
    assert a is not b and a.embed >= 0 and b.fuse >= 0
    assert {k for k in vars(searcher) if k not in before} <= {"_matcher", "_position"}


def test_sentence_scores_do_not_depend_on_string_hashing(settings):
    """Two interpreters with different PYTHONHASHSEED score the same chunks bit for bit the same: n-gram
    ids and sums never follow a set's order (the answer model's options once did, in the last bit)."""
    import os
    import subprocess
    import sys

    code = ("import sys; from stiqa.ingest.files import load_corpus; from stiqa.ingest.chunker import chunk_corpus; "
            "from stiqa.retrieve.rerank import SentenceMatcher; from pathlib import Path; "
            "docs, _ = load_corpus(Path(sys.argv[1])); m = SentenceMatcher(chunk_corpus(docs)); "
            "q = 'LOTUSの応募締切はいつですか？'; "
            "print(m.scores(q, list(range(len(m.texts)))).tobytes().hex()); "
            "print([s for p in range(len(m.texts)) for _, s in m.sentence_scores(q, p)])")
    outs = [subprocess.run([sys.executable, "-c", code, str(settings.corpus_dir)], capture_output=True, text=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}, check=True).stdout for seed in ("1", "7")]
    assert outs[0] == outs[1] and len(outs[0]) > 100
