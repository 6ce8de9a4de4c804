"""Unit tests of stiqa.evaluate.scoring: the judge of every evaluation figure (DESIGN.md contract)."""
from __future__ import annotations

import pytest

from stiqa.evaluate.scoring import citation_correct, faithful, is_correct, retrieval_rank, states_yen

SICORP = {"id": "budget-sicorp-r5", "expect": [["1,073百万円", "10.73億円", "10億7,300万円"]],
          "yen": 1073000000, "source": "mext_fy2023_budget_international", "type": "budget", "abstain": False}
#: only one spelling listed: every other spelling must go through the ``yen`` value
SICORP_ONE = {**SICORP, "expect": [["1,073百万円"]]}
ABSTAIN = {"id": "abstain-x", "expect": [], "source": "", "type": "abstain", "abstain": True}


def ans(text: str, *, abstained: bool = False, sources: tuple[str, ...] = (), texts: tuple[str, ...] = ()):
    """A result dict; citations from source names (empty text) or from chunk texts (source x.md)."""
    cits = [{"source": s, "text": ""} for s in sources] + [{"source": "x.md", "text": t} for t in texts]
    return {"answer": text, "abstained": abstained, "citations": cits}


# ------------------------------------------------------------------------------------ is_correct

@pytest.mark.parametrize("text", [
    "SICORPの令和5年度予算額(案)は1,073百万円です。",
    "10億7,300万円です。",
    "10.73億円です。",
    "１，０７３百万円です。",  # 全角
    "1073 百万円",  # spaces and no comma
])
def test_yen_spellings_correct(text):
    assert is_correct(SICORP, ans(text))


@pytest.mark.parametrize("text", ["10億7,300万円です。", "10.73億円", "1,073,000,000円", "10億7300万円"])
def test_yen_value_counts_when_spelling_not_listed(text):
    assert is_correct(SICORP_ONE, ans(text))


@pytest.mark.parametrize("text", [
    "1,160百万円です。",  # the previous year's figure
    "約10.7億円です。",  # a rounded conversion is not the amount
    "10億円です。",
    "SICORPの予算は資料に記載があります。",
])
def test_wrong_amounts_incorrect(text):
    assert not is_correct(SICORP_ONE, ans(text))
    assert not is_correct(SICORP, ans(text))


def test_every_group_must_match_and_yen_only_serves_the_first():
    item = {"expect": [["英国", "イギリス"], ["35"]], "abstain": False}
    assert is_correct(item, ans("2番目は英国で35件です。"))
    assert is_correct(item, ans("イギリス（35件）"))
    assert not is_correct(item, ans("2番目は英国です。"))
    assert not is_correct(item, ans("35件です。"))
    money = {"expect": [["1,073百万円"], ["令和5年度"]], "yen": 1073000000, "abstain": False}
    assert is_correct(money, ans("令和5年度は10億7,300万円"))
    assert not is_correct(money, ans("10億7,300万円"))


def test_abstention():
    assert is_correct(ABSTAIN, ans("資料には記載が見つかりませんでした。", abstained=True))
    assert not is_correct(ABSTAIN, ans("SATREPSの令和9年度予算は1,878百万円です。"))
    # an answerable question that is abstained on is wrong, even if the text happens to hold the fact
    assert not is_correct(SICORP, ans("1,073百万円かどうかは資料に見つかりません。", abstained=True))


def test_case_and_width_insensitive():
    item = {"expect": [["ASPIRE"]], "abstain": False}
    assert is_correct(item, ans("ＡＳＰＩＲＥです"))
    assert is_correct(item, ans("aspire"))


def test_number_inside_a_larger_number_is_not_a_match():
    item = {"expect": [["100百万円", "1億円"]], "abstain": False}
    assert not is_correct(item, ans("1,100百万円です。"))
    assert not is_correct(item, ans("11億円です。"))


def test_states_yen():
    assert states_yen("予算は10億7,300万円", 1073000000)
    assert states_yen("1,073百万円（約10.7億円）", 1073000000)
    assert not states_yen("約10.7億円", 1073000000)
    assert not states_yen("1,073人", 1073000000)


# ------------------------------------------------------------------------------------ citations

def test_citation_stem_match():
    assert citation_correct(SICORP, ans("…", sources=("mext_fy2023_budget_international.md",)))
    assert citation_correct(SICORP, ans("…", sources=("other.txt", "mext_fy2023_budget_international.md")))
    assert not citation_correct(SICORP, ans("…", sources=("mext_international_strategy_2025-10-08.txt",)))
    assert not citation_correct(SICORP, ans("…"))  # nothing cited


def test_citation_alternative_stems():
    item = {**SICORP, "source": "mext_fy2023_budget_international|mext_international_strategy_2025-10-08"}
    assert citation_correct(item, ans("…", sources=("mext_international_strategy_2025-10-08.txt",)))
    assert citation_correct(item, ans("…", sources=("mext_fy2023_budget_international.md",)))
    assert not citation_correct(item, ans("…", sources=("notes.md",)))


def test_citation_not_judged_without_source():
    assert citation_correct(ABSTAIN, ans("…", sources=("mext_fy2023_budget_international.md",))) is None
    assert citation_correct({**SICORP, "source": ""}, ans("…")) is None


# ------------------------------------------------------------------------------------ faithfulness

CHUNK = "戦略的国際共同研究プログラム(SICORP)\n令和5年度予算額(案) 1,073百万円\n前年度予算額 1,160百万円\n採択 13件"


@pytest.mark.parametrize("text", [
    "SICORPの令和5年度予算額(案)は1,073百万円（約10.7億円）です。",  # 約 conversion within 5%
    "10億7,300万円です。",  # same value, other spelling
    "１，０７３百万円、採択は１３件です。",  # 全角
    "前年度予算額は1,160百万円です。",
])
def test_faithful(text):
    assert faithful(ans(text, texts=(CHUNK,)))


@pytest.mark.parametrize("text", [
    "10.7億円です。",  # a rounded figure without 約 is a different amount
    "約15億円です。",  # 約 does not stretch beyond 5%
    "2,000百万円です。",
    "採択は3件です。",  # 3 is not 13
    "採択は14件です。",
])
def test_unfaithful(text):
    assert not faithful(ans(text, texts=(CHUNK,)))


def test_faithful_needs_the_number_in_a_cited_chunk():
    assert not faithful(ans("1,073百万円です。"))  # nothing cited
    assert not faithful(ans("1,073百万円です。", texts=("別の事業 500百万円",)))
    assert faithful(ans("1,073百万円です。", texts=("別の事業 500百万円", CHUNK)))


def test_era_year_exemption_only_covers_the_previous_year():
    assert not faithful(ans("前年度（令和2年度）は1,160百万円です。", texts=(CHUNK,)))


def test_oku_with_senman_spelling():
    assert faithful(ans("1億5千万円です。", texts=("予算 150百万円",)))


def test_abstention_is_faithful():
    assert faithful(ans("資料には記載が見つかりませんでした（令和9年度）。", abstained=True))


# ------------------------------------------------------------------------------------ retrieval

def test_retrieval_rank():
    texts = ["SATREPS 1,878百万円", "SICORP 前年度 1,160百万円", "SICORP 令和5年度 1,073百万円"]
    assert retrieval_rank(SICORP, texts) == 3
    assert retrieval_rank(SICORP, texts[:2]) is None
    assert retrieval_rank(SICORP, []) is None
    assert retrieval_rank(SICORP_ONE, ["無関係", "予算 10億7,300万円"]) == 2  # by yen value
    assert retrieval_rank(ABSTAIN, texts) is None  # nothing expected


def test_retrieval_rank_needs_every_group_in_one_chunk():
    item = {"expect": [["英国", "イギリス"], ["35"]], "abstain": False}
    assert retrieval_rank(item, ["英国 20件", "米国 35件", "相手国: イギリス 35件"]) == 3
    assert retrieval_rank(item, ["英国 20件", "米国 35件"]) is None
