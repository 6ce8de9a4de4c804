"""Property-based tests (hypothesis) on the Japanese text utilities and the chunker.

Bounded (about 100 examples each, no deadline) so the file runs in seconds. The invariants:
normalise/compact are idempotent and never raise; an amount parses to the same yen whether written
with 全角 or 半角 digits, and every canonical spelling ``format_yen`` produces parses back to its
yen; era years and western years convert both ways; the chunker puts every non-blank line of a
document in exactly one chunk whose text is the file's own lines.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from stiqa.ingest.files import SourceDoc

from stiqa.ingest.chunker import chunk_document
from stiqa.text.japanese import (compact, era_to_western, fiscal_years, format_yen, normalize,
                            parse_amounts, tokens, western_to_reiwa)

BOUNDED = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# text that looks like these documents: kana, kanji, digits (both widths), units, symbols, controls
_JA = st.sampled_from(list("あいうえおかがきケヶゲアイウエオｱｲｳｴｵｶﾞﾊﾟ予算額事業国際研究令和平成昭和年度百万億円件人")
                      + list("0123456789０１２３４５６７８９,，、。.．・･〜～-－—―") + ["\u200b", "\ufeff",
                      "\u3000", "\u3099", "\u309a", "\u0301", "\t", "\x00", "\x1f", "\x7f", "㋘", "①", "Ⅻ", "㍻"])
JA_TEXT = st.lists(st.one_of(_JA, st.characters()), max_size=40).map("".join)
ANY_TEXT = st.text(max_size=60)


# ---------------------------------------------------------------- normaliser


@BOUNDED
@given(st.one_of(ANY_TEXT, JA_TEXT))
@example("e\u200b\u0301")
@example("ヶ\u3099")
@example("ǅ")
def test_normalize_is_idempotent_and_total(text):
    once = normalize(text)
    assert isinstance(once, str)
    assert normalize(once) == once


@BOUNDED
@given(st.one_of(ANY_TEXT, JA_TEXT))
@example("İ")
@example("K¸")
@example("0 ケ国")
def test_compact_is_idempotent_and_has_no_spaces_or_commas(text):
    once = compact(text)
    assert compact(once) == once
    assert not any(ch.isspace() or ch in ",、" for ch in once)


@pytest.mark.parametrize("text", ["abc\ud800def", "予算\udcff\udcfe", "\udfff"])
def test_lone_surrogates_are_harmless(text):
    # invalid UTF-8 on a command line reaches Python as lone surrogates (surrogateescape)
    assert "\ud800" not in normalize(text) and "\udcff" not in normalize(text)
    tokens(text)  # the morphological analyser must not see them
    parse_amounts(text)
    fiscal_years(text)


@BOUNDED
@given(JA_TEXT)
def test_tokens_never_raise(text):
    assert all(isinstance(t, str) and t for t in tokens(text))


# ---------------------------------------------------------------- amounts

_UNITS = {"円": 1, "千円": 10**3, "万円": 10**4, "百万円": 10**6, "億円": 10**8}
_FULLWIDTH = str.maketrans("0123456789,.", "０１２３４５６７８９，．")


@BOUNDED
@given(st.integers(min_value=0, max_value=10**9), st.sampled_from(sorted(_UNITS)), st.booleans())
def test_fullwidth_and_halfwidth_digits_give_the_same_yen(n, unit, commas):
    half = (f"{n:,}" if commas else str(n)) + unit
    full = half.translate(_FULLWIDTH)
    a, b = parse_amounts(f"予算額は{half}です"), parse_amounts(f"予算額は{full}です")
    assert len(a) == len(b) == 1
    assert a[0].yen == b[0].yen == n * _UNITS[unit]


@BOUNDED
@given(st.integers(min_value=0, max_value=10**15))  # up to 1,000兆円: beyond any budget line
@example(1_073_000_000)
@example(52_000_000)
@example(10**8 + 1)
def test_format_yen_round_trips(yen):
    spelled = format_yen(yen)
    parsed = parse_amounts(spelled)
    assert [p.yen for p in parsed] == [yen], spelled
    assert parse_amounts(spelled.translate(_FULLWIDTH))[0].yen == yen


@BOUNDED
@given(st.integers(min_value=1, max_value=99_999), st.integers(min_value=1, max_value=9_999), st.booleans())
def test_oku_man_spelling(oku, man, full):
    text = f"{oku:,}億{man:,}万円"
    if full:
        text = text.translate(_FULLWIDTH)
    assert [a.yen for a in parse_amounts(text)] == [oku * 10**8 + man * 10**4]


@BOUNDED
@given(st.decimals(min_value=0, max_value=99_999, places=1, allow_nan=False, allow_infinity=False))
def test_decimal_oku(value):
    text = f"{value}億円"
    assert parse_amounts(text)[0].yen == int(value * 10**8)


# ---------------------------------------------------------------- eras and fiscal years

_ERAS = {"令和": (2018, 1, 30), "平成": (1988, 1, 31), "昭和": (1925, 1, 64)}


@BOUNDED
@given(st.sampled_from(sorted(_ERAS)), st.data())
def test_era_year_to_western_and_back(era, data):
    base, lo, hi = _ERAS[era]
    n = data.draw(st.integers(min_value=lo, max_value=hi))
    western = base + n
    assert era_to_western(era, n) == western
    assert era_to_western(era, str(n)) == western
    for suffix in ("年度", "年", "年度予算", ""):
        assert fiscal_years(f"{era}{n}{suffix}") == [western], (era, n, suffix)
        assert fiscal_years(f"{era}{str(n).translate(_FULLWIDTH)}{suffix}") == [western]
    assert fiscal_years(f"{era}元年度") == [base + 1]


@BOUNDED
@given(st.integers(min_value=2019, max_value=2099))
def test_reiwa_round_trip(year):
    label = western_to_reiwa(year)
    assert fiscal_years(label) == [year], label
    assert fiscal_years(f"{year}年度の予算") == [year]
    assert fiscal_years(f"R{year - 2018}") == [year]
    assert fiscal_years(f"FY{year}") == [year]
    assert fiscal_years(f"FY{year}の予算") == [year]
    assert fiscal_years(f"予算はFY{year}") == [year]


# ---------------------------------------------------------------- chunker

_LINE_PARTS = st.sampled_from([
    "", " ", "\u3000", "\t", "# 見出し", "## 国際共同研究プログラム", "### 事業の概要", "【事業概要】", "■ 予算",
    "● 支援内容", "戦略的国際共同研究プログラム(SICORP)", "令和5年度予算額（案）", "1,073百万円",
    "（前年度予算額 1,100百万円）", "・ 支援期間：3年", "※ 注記", "分野\t件数", "環境\t12件",
    "本事業は、諸外国との国際共同研究を推進し、我が国の科学技術イノベーションの創出を目指すものである。",
    "日本学術振興会", "ASPIRE", "1. 国際頭脳循環", "①", "(1) 若手研究者", "- 項目", "**太字**", "<b>タグ</b>",
    "a" * 50, "長い行" * 40, "\x00", "\x0c", "\u2028", "\x1c", "\ufeff", "2023年度", "10億7,300万円",
])
LINES = st.lists(st.one_of(_LINE_PARTS, st.lists(_LINE_PARTS, max_size=3).map("".join), st.text(max_size=30)),
                 max_size=60)


def _doc(lines: list[str], name: str) -> SourceDoc:
    pages = [1 + i // 10 for i in range(len(lines))] if name.endswith(".pdf") else None
    return SourceDoc(name, Path(name), "0" * 64, "表題", "", lines, pages)


@BOUNDED
@given(LINES, st.sampled_from(["doc.txt", "doc.md", "doc.pdf"]))
@example(["", "見出し", "", "本文です。"], "doc.txt")
@example(["# A", "# B", "## C", "本文"], "doc.md")
def test_chunker_covers_every_line_once(lines, name):
    doc = _doc(lines, name)
    chunks = chunk_document(doc)
    owner: dict[int, int] = {}
    spans = []
    for k, c in enumerate(chunks):
        assert 1 <= c.line_start <= c.line_end <= len(lines), (c.line_start, c.line_end)
        assert lines[c.line_start - 1].strip() and lines[c.line_end - 1].strip(), "a span starts or ends blank"
        assert c.text == "\n".join(l.rstrip() for l in lines[c.line_start - 1:c.line_end])
        assert c.source == name
        if doc.pages:
            assert c.page == doc.pages[c.line_start - 1]
        spans.append((c.line_start, c.line_end))
        for n in range(c.line_start, c.line_end + 1):
            assert n not in owner, f"line {n} in chunks {owner[n]} and {k}"
            owner[n] = k
    for n, line in enumerate(lines, 1):
        if line.strip():
            assert n in owner, f"line {n} {line!r} in no chunk"
    assert spans == sorted(spans)
    assert len({c.id for c in chunks}) == len(chunks)
