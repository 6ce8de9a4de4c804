"""Finder tests on the real corpus: expected top program per situation, plain 'no fit', citations."""
from __future__ import annotations

import json
import re
import unicodedata

import pytest

from stiqa.catalog.build import build_catalog
from stiqa.config import Settings
from stiqa.catalog.finder import (NO_MATCH, find_programs, format_matches, format_programs_table, parse_situation,
                          programs_command, to_json)

CORPUS = Settings().corpus_dir


def norm(text: str) -> str:
    t = unicodedata.normalize("NFKC", text).replace("·", "・").replace("･", "・").replace("•", "・")
    return re.sub(r"[\s,、*]", "", t)


@pytest.fixture(scope="module")
def catalog():
    return build_catalog(CORPUS)


SITUATIONS = [
    ("博士課程の学生です。3か月から1年ほど海外の研究室で研究したい", {"overseas-challenge"}),
    ("博士後期課程2年。半年くらい海外の大学で共同研究に挑戦したい", {"overseas-challenge"}),
    ("ポスドクとして2年間海外の大学で研究に専念したい", {"overseas-fellowship"}),
    ("大学として外国人のポスドクを最長2年間招へいしたい", {"foreign-fellowship"}),
    ("インドの優秀な大学院生を研究室に受け入れたい", {"lotus"}),
    ("開発途上国とSDGsに関する共同研究をJICAと連携して進めたい", {"satreps"}),
    ("米国や欧州のトップ研究者と大型の国際共同研究をしたい", {"aspire"}),
    ("ASEAN諸国の大学と共同研究や人材交流を進めたい", {"nexus"}),
    ("海外の高校生を日本に招いて科学技術の交流をしたい", {"youth-science-exchange"}),
    ("米国を離れようとしている優秀な研究者を大学として雇用したい", {"expert-j"}),
    ("若手研究者としてノーベル賞受賞者と交流したい", {"hope", "lindau", "symposium"}),
    ("量子分野でインドの研究者と連携したい", {"lotus"}),
    ("I am a PhD student and want to do research abroad for 6 months", {"overseas-challenge"}),
    ("Our university wants to host graduate students from India", {"lotus"}),
    ("We want joint research with developing countries on disaster prevention", {"satreps"}),
    ("Postdoc wanting to spend two years at a lab overseas", {"overseas-fellowship"}),
]


@pytest.mark.parametrize("situation,expected", SITUATIONS)
def test_expected_top_program(catalog, situation, expected):
    matches = find_programs(catalog, situation)
    assert matches, situation
    assert matches[0].program.id in expected, [(m.program.id, m.score) for m in matches]
    assert matches[0].reason and "\n" not in matches[0].reason
    assert any("応募時期" in x for x in matches[0].open_points)


@pytest.mark.parametrize("situation", [
    "企業の研究者が国内だけで研究費がほしい",
    "小学生向けの科学教室を開きたい",
    "学部生で海外に留学したい",
    "お金がほしい",
])
def test_no_program_fits_said_plainly(catalog, situation):
    assert find_programs(catalog, situation) == []
    text = programs_command(CORPUS, situation, as_json=False)
    assert text.startswith("条件に合う制度は資料に見当たりません")
    data = json.loads(programs_command(CORPUS, situation, as_json=True))
    assert data["no_match"] is True and data["matches"] == [] and data["message"] == NO_MATCH


def test_situation_parsing_is_general(catalog):
    s = parse_situation("PhD student going abroad for 3 months to 1 year, AI research in India", catalog)
    assert "博士後期課程学生" in s.audience and "送り出し" in s.direction
    assert s.duration == (3.0, 12.0) and "インド" in s.regions and "AI" in s.fields
    s = parse_situation("大学として最大2年間、外国人研究者を招へいしたい", catalog)
    assert "大学・研究機関" in s.audience and "受け入れ" in s.direction and s.duration == (0.0, 24.0)
    s = parse_situation("数週間、東南アジアの学生と交流したい", catalog)
    assert "ASEAN" in s.regions and "交流" in s.direction and s.duration == (0.25, 1.0)


def test_deciding_facts_are_cited(catalog):
    texts = {p.name: p.read_text(encoding="utf-8").splitlines() for p in CORPUS.glob("*.*")}
    for situation, _ in SITUATIONS:
        for m in find_programs(catalog, situation):
            assert m.facts
            for _, f in m.facts:
                assert norm(f.value) in norm("".join(texts[f.source][f.line_start - 1:f.line_end]))


def test_formatting(catalog):
    matches = find_programs(catalog, "ポスドクとして2年間海外の大学で研究したい", top=3)
    text = format_matches(matches)
    assert text.startswith("1. 海外特別研究員事業")
    assert re.search(r"〔mext_fy2023_budget_international\.md L\d+(-\d+)?〕", text)
    assert "資料に記載がありません" in text
    data = json.loads(to_json(matches))
    assert data[0]["id"] == "overseas-fellowship" and data[0]["facts"][0]["line_start"] >= 1
    table = format_programs_table(catalog)
    for p in catalog.programs:
        assert p.id in table
    assert "SICORP" in table and "1,073百万円" in table


def test_programs_command(catalog):
    assert "aspire" in programs_command(CORPUS, None, as_json=False)
    data = json.loads(programs_command(CORPUS, None, as_json=True))
    assert len(data["programs"]) == len(catalog.programs) and data["problems"] == []
    data = json.loads(programs_command(CORPUS, "インドの大学院生を受け入れたい", as_json=True))
    assert data["no_match"] is False and data["matches"][0]["id"] == "lotus"


def test_naming_a_program_finds_it(catalog):
    assert find_programs(catalog, "SICORPに応募したい")[0].program.id == "sicorp"


def test_answer_situation_hook(catalog):
    from stiqa.catalog.finder import answer_situation
    ans = answer_situation(catalog, "博士課程の学生です。3か月くらい海外の研究室に行きたい。使える制度は？")
    assert ans is not None and not ans.abstained and ans.backend == "catalog"
    assert "若手研究者海外挑戦プログラム" in ans.text.splitlines()[1]
    assert ans.citations and all(c.line_start >= 1 and c.text for c in ans.citations)
    assert any(c.span == "3ヶ月~1年程度" for c in ans.citations)
    none = answer_situation(catalog, "小学生向けの科学教室を開きたい。使える制度は？")
    assert none is not None and none.abstained and none.text == NO_MATCH
    assert answer_situation(catalog, "どの事業が一番予算が大きい？") is None  # not a situation: retrieval answers
