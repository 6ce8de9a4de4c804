"""The prose fallback: when no line of the expected shape answers, the sentence that holds most of
the question is quoted; never for figures, never for a full name the documents do not define."""
from __future__ import annotations

from stiqa.records import Chunk, Hit


def _chunk(i: int, title: str, text: str) -> Chunk:
    return Chunk(id=f"p-{i}", source=f"p/{i}", title=title, date="", section=title, line_start=1, line_end=1,
                 text=text)


CHUNKS = [
    _chunk(0, "梅雨", "梅雨は東アジアの広範囲でみられる雨季である。鹿児島県奄美群島の喜界島では梅雨を「なーみっさ」と呼ぶ。"
                      "梅雨の期間中に晴れが続くことを梅雨の中休みという。"),
    _chunk(1, "富士山", "富士山は静岡県と山梨県にまたがる活火山である。標高は3776メートルで、日本の最高峰である。"),
]


def _answer(question: str, cover: float = 0.6):
    from stiqa.answer.prose import prose_answer
    from stiqa.retrieve.rerank import SentenceMatcher

    m = SentenceMatcher(CHUNKS)
    pos = {c.id: i for i, c in enumerate(CHUNKS)}
    return prose_answer(m, pos, question, [Hit(c, 1.0) for c in CHUNKS], min_cover=cover)


def test_the_sentence_holding_the_question_is_quoted_and_cited():
    # (a two-passage corpus has seen none of the question's own words, which count against it:
    # the share needed is lowered here; on the real corpus the default applies)
    got = _answer("喜界島では梅雨を何と呼ぶか。", cover=0.4)
    assert got is not None
    text, used, span = got
    assert "なーみっさ" in text and "なーみっさ" in span
    assert "富士山" not in text
    assert used == [CHUNKS[0]]


def test_a_question_the_passages_do_not_hold_gets_nothing():
    assert _answer("ラオスの首都はどこか") is None
    assert _answer("ラオスの首都はどこか", cover=0.05) is None  # words no passage holds count against it
    # the same question passes only as far as the passage holds it
    assert _answer("喜界島では梅雨を何と呼ぶか。", cover=0.99) is None


def test_figures_and_undefined_full_names_are_never_left_to_prose():
    from stiqa.answer.prose import MIN_COVER, WHO_COVER, min_cover
    from stiqa.answer.question import analyze

    assert min_cover(analyze("SICORPの令和3年度予算は？")) is None
    assert min_cover(analyze("採択件数は何件？")) is None
    assert min_cover(analyze("J-PEAKSの正式名称は何ですか。")) is None
    assert min_cover(analyze("梅雨の中休みとはどういう意味？")) == MIN_COVER
    assert min_cover(analyze("白鳥の首フラスコで実験をしたのは誰？")) == WHO_COVER > MIN_COVER
