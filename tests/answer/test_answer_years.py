"""A figure asked for a fiscal year comes only from a passage about that year; otherwise stiqa
abstains and says which years the passage covers."""
from __future__ import annotations


def test_a_count_for_a_year_the_passage_does_not_cover_abstains_and_names_the_years(assistant):
    ans = assistant.ask("海外特別研究員の令和2年度の新規採用人数は？")
    assert ans.abstained
    assert "令和2年度" in ans.text and "176" not in ans.text


def test_the_same_count_without_a_year_is_answered_from_the_passage(assistant):
    ans = assistant.ask("海外特別研究員の新規採用人数は？")
    assert not ans.abstained and "176人" in ans.text
    assert ans.citations


def test_a_count_for_a_year_the_passage_names_is_answered(assistant):
    ans = assistant.ask("ASPIREの2023年度採択課題で若手等の派遣の実績は何件？")
    assert not ans.abstained
    assert "731件" in ans.text
