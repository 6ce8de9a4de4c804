"""The foundation: ask the corpus, get the right figure with its source, or an honest abstention."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from stiqa.answer.guard import numbers_supported
from stiqa.text.japanese import compact, parse_amounts, tokens

BUDGET = "mext_fy2023_budget_international.md"
STRATEGY = "mext_international_strategy_2025-10-08.txt"

# (question, a string the answer must state, the file it must cite) — read off the documents
FACTS = [
    ("SICORPの令和5年度予算額（案）はいくらですか？", "1,073百万円", BUDGET),
    ("SATREPSの令和5年度予算額は？", "1,878百万円", BUDGET),
    ("海外特別研究員事業の令和5年度予算案は？", "2,611百万円", BUDGET),
    ("若手研究者海外挑戦プログラムの予算は？", "265百万円", BUDGET),
    ("外国人研究者招へい事業の令和5年度予算額（案）", "3,375百万円", BUDGET),
    ("国際青少年サイエンス交流事業の令和5年度予算は？", "1,454百万円", BUDGET),
    ("先端国際共同研究推進事業の令和4年度第2次補正予算額は？", "44,000百万円", BUDGET),
    ("科学研究費助成事業（国際先導研究）の補正予算額は？", "11,000百万円", BUDGET),
    ("NEXUSの令和5年度補正予算額は？", "146億円", STRATEGY),
    ("海外特別研究員事業の令和8年度要求・要望額は？", "2,754百万円", STRATEGY),
    ("若手研究者研鑚シンポジウム事業の令和8年度要求額は？", "189百万円", STRATEGY),
    ("ASPIREの申請件数と採択件数は？", "106件", STRATEGY),
    ("EXPERT-Jの採択大学数は？", "11大学", STRATEGY),
    ("海外特別研究員の新規採用人数の見込みは？", "176人", BUDGET),
    ("外国人特別研究員の新規採用人数は？", "514人", BUDGET),
    ("若手研究者海外挑戦プログラムの渡航期間は？", "3ヶ月~1年程度", BUDGET),
    ("SATREPSの支援期間は？", "3~5年間", BUDGET),
    ("海外特別研究員事業の事業開始時期は？", "昭和57年度", BUDGET),
    ("SICORPの支援額は？", "5百万円~1億円", BUDGET),
    ("LOTUSの本格支援の支援規模は1人あたりいくら？", "576万円", STRATEGY),
    ("SATREPSの正式名称は？", "地球規模課題対応国際科学技術協力プログラム", (BUDGET, STRATEGY)),
    ("NEXUSは何の略？", "日ASEAN科学技術・イノベーション協働連携", STRATEGY),
    ("国際青少年サイエンス交流事業の受入人数は？", "2,900人", BUDGET),
    ("ASPIREでバイオ分野の採択は何件？", "13", STRATEGY),
    ("EXPERT-Jの公募期間は？", "7月18日", STRATEGY),
    ("ASPIREの採択課題で米国を相手国とするものは何件？", "51", STRATEGY),
]


@pytest.mark.parametrize("question,expected,source", FACTS, ids=[f[0][:18] for f in FACTS])
def test_known_fact_is_answered_with_its_source(assistant, question, expected, source):
    ans = assistant.ask(question)
    assert not ans.abstained, ans.text
    assert compact(expected) in compact(ans.text), ans.text
    assert ans.citations and ans.citations[0].source in (source if isinstance(source, tuple) else (source,))
    c = ans.citations[0]
    assert 1 <= c.line_start <= c.line_end and c.section


@pytest.mark.parametrize("question,expected,forbidden", [
    ("SICORPの令和5年度予算額（案）は？", "1,073百万円", "1,160"),
    ("SICORPの前年度予算額は？", "1,160百万円", "1,073"),
    ("SICORPの令和4年度予算はいくら？", "1,160百万円", "1,073"),
    ("SATREPSの2023年度の予算は？", "1,878百万円", "1,826"),
    ("先端国際共同研究推進事業の令和5年度予算額は？", "100百万円", "44,000"),
    ("先端国際共同研究推進事業の補正予算は？", "44,000百万円", "100百万円"),
    ("海外特別研究員事業の令和8年度の要求額は？", "2,754百万円", "2,611"),
])
def test_the_fiscal_year_and_kind_asked_for_decide_the_figure(assistant, question, expected, forbidden):
    ans = assistant.ask(question)
    assert compact(expected) in compact(ans.text), ans.text
    assert compact(forbidden) not in compact(ans.text), ans.text


@pytest.mark.parametrize("question", [
    "ムーンショットの予算は？",
    "SICORPの令和3年度予算額は？",
    "創発的研究支援事業の採択件数を教えて。",
    "若手研究者海外挑戦プログラムの応募締切はいつ？",
])
def test_questions_the_documents_do_not_answer_abstain_without_a_number(assistant, question):
    ans = assistant.ask(question)
    assert ans.abstained, ans.text
    assert "資料には記載が見つかりませんでした" in ans.text
    assert not parse_amounts(ans.text), "an abstention never states an amount"


def test_every_number_in_an_answer_stands_in_its_citations(assistant):
    for question, _, _ in FACTS:
        ans = assistant.ask(question)
        assert numbers_supported(ans.text, [c.text for c in ans.citations]), (question, ans.text)


def test_number_check_rejects_a_figure_not_in_the_sources():
    assert numbers_supported("予算は1,073百万円（約10.7億円）です。", ["令和5年度予算額（案）：1,073百万円"])
    assert numbers_supported("予算は10億7,300万円です。", ["1,073百万円"])
    assert not numbers_supported("予算は1,037百万円です。", ["令和5年度予算額（案）：1,073百万円"])
    assert not numbers_supported("採択は107件です。", ["採択件数:106件"])


def test_the_tokenizer_matches_budget_words_across_spellings():
    # the query's 「予算額」 finds the text's 「予算額（案）」: same analyser, same tokens
    assert set(tokens("予算額は？")) <= set(tokens("令和5年度予算額（案）：1,073百万円"))
    assert set(tokens("予算額")) and not set(tokens("予算額")) & set(tokens("（案）、。は"))
    assert "sicorp" in tokens("ＳＩＣＯＲＰの予算")  # 全角 letters normalised
    assert not [t for t in tokens("SICORPの予算はいくらですか？") if t in ("の", "は", "です", "か")]


def test_follow_up_takes_the_program_of_the_previous_turn(assistant):
    conv = assistant.chat()
    conv.ask("SATREPSって何？")
    ans = conv.ask("その令和5年度の予算は？")
    assert "1,878百万円" in ans.text and ans.interpretation.startswith("解釈：SATREPS")
    ans = conv.ask("前年度と比べて増えた？")
    assert "1,826百万円" in ans.text and "52百万円" in ans.text.replace("5,200万円", "52百万円")
    assert "stiqaによる計算" in ans.text


def _cli(settings, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, STIQA_INDEX_DIR=str(settings.index_dir), STIQA_CORPUS_DIR=str(settings.corpus_dir))
    return subprocess.run([sys.executable, "-m", "stiqa.cli", *args], capture_output=True, text=True,
                          env=env, timeout=120)


@pytest.mark.slow
def test_cli_ask_json_follows_the_contract(settings):
    out = _cli(settings, "ask", "SICORPの令和5年度予算額（案）はいくらですか？", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert {"question", "answer", "abstained", "citations", "latency_ms"} <= set(data)
    assert "1,073百万円" in data["answer"] and data["abstained"] is False
    cit = data["citations"][0]
    assert cit["source"] == BUDGET and {"title", "section", "line_start", "line_end", "text"} <= set(cit)


def test_cli_errors_are_one_line_without_traceback(settings, tmp_path):
    out = _cli(settings, "ask", "   ")
    assert out.returncode != 0 and "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    env_missing = _cli(settings, "--index", str(tmp_path / "none"), "ask", "SICORPの予算は？")
    assert env_missing.returncode != 0 and "stiqa ingest" in env_missing.stderr
    assert "Traceback" not in env_missing.stderr
