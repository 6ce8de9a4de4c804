"""Questions across years and documents, answered from the figure ledger: both figures cited, each
from its own document, the difference and rate labelled as stiqa's arithmetic; a missing year says
which years the corpus has; two documents that disagree are both shown, the newest first."""
from __future__ import annotations

import pytest

from ledger_corpora import EXCERPT, FY2025, SEED, revised, two_years  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow  # private indexes of two real documents, built per module


def _ask(settings, question):
    from stiqa.engine import get_assistant

    return get_assistant(settings).ask(question)


def test_two_years_named_are_compared_across_two_real_documents(two_years):
    ans = _ask(two_years, "科学技術イノベーションの戦略的国際展開の令和5年度と令和7年度の予算を比べると？")
    assert not ans.abstained
    assert "141億円" in ans.text and "168億円" in ans.text
    assert "+27億円" in ans.text and "stiqaによる計算" in ans.text
    assert [c.source for c in ans.citations] == [SEED, FY2025.name]


def test_the_years_asked_are_the_years_answered(revised):
    # before the ledger: one file's 令和5年度 and 前年度 figures, the years asked ignored
    ans = _ask(revised, "SICORPの令和4年度と令和6年度の予算額を比べると？")
    assert not ans.abstained
    assert "令和4年度" in ans.text and "1,160百万円" in ans.text
    assert "令和6年度" in ans.text and "1,120百万円" in ans.text
    assert "-40百万円" in ans.text and "-3.4%" in ans.text and "（stiqaによる計算）" in ans.text
    assert {c.source for c in ans.citations} == {SEED, EXCERPT}


def test_from_the_previous_year_takes_the_latest_year_and_the_one_before(revised):
    ans = _ask(revised, "SATREPSの予算は前年度からどう変わった？")
    assert "1,878百万円" in ans.text and "1,900百万円" in ans.text and "+22百万円" in ans.text
    assert {c.source for c in ans.citations} == {SEED, EXCERPT}


def test_a_year_the_corpus_lacks_is_named_with_the_years_it_has(revised):
    ans = _ask(revised, "SICORPの令和2年度と令和6年度の予算額を比べると？")
    assert ans.abstained
    assert "令和2年度" in ans.text and "令和4年度、令和5年度、令和6年度" in ans.text


def test_conflicting_figures_state_the_newest_and_name_the_other_with_its_citation(revised):
    ans = _ask(revised, "SICORPの令和5年度の予算額は？")
    assert not ans.abstained
    newest, other = ans.text.index("1,065百万円"), ans.text.index("1,073百万円")
    assert newest < other and "なお、" in ans.text and f"{SEED} L32" in ans.text
    assert {c.source for c in ans.citations} == {SEED, EXCERPT}


def test_one_document_keeps_its_own_previous_year_answer(assistant):
    # the seed corpus alone: the passage's own 前年度 line answers, as before the ledger
    ans = assistant.ask("SICORPの予算は前年度から増えた？")
    assert "1,073百万円" in ans.text and "1,160百万円" in ans.text
    assert "なお、" not in ans.text
