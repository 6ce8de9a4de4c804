"""Multi-turn conversations on the real corpus and index: follow-ups read against earlier turns.

Every expectation is the documents' own truth (corpus/), not whatever the engine says today:

* mext_fy2023_budget_international.md — 令和5年度予算額（案） and 前年度予算額 per program, and the
  事業スキーム tables (支援期間, 渡航期間, 新規採用人数, 受入人数, 支援額);
* mext_international_strategy_2025-10-08.txt — ASPIRE 採択結果 (申請件数 469件, 採択件数 106件) and
  LOTUS (支援規模 300万円/人・年 導入支援, 支援期間 最大1年間 導入支援).

A turn is ``(question, expect, source)``: ``expect`` is a list of groups, each group a list of
alternative spellings of which one must be in the answer (after NFKC, commas and spaces removed);
``source`` is a file-name stem one of the citations must come from ("a|b": either; None: not
checked).
Differences between years are not in the documents: the answer must state them as computed.
"""
from __future__ import annotations

import unicodedata

import pytest

BUDGET = "mext_fy2023_budget_international"
STRATEGY = "mext_international_strategy_2025-10-08"
EITHER = f"{BUDGET}|{STRATEGY}"  # both documents state it

SATREPS = ["地球規模課題対応国際科学技術協力プログラム", "SATREPS"]
COMPUTED = ["計算"]

Turn = tuple[str, list[list[str]], "str | None"]

DIALOGUES: dict[str, list[Turn]] = {
    # the brief's own example: what is it -> its budget -> compared with the year before
    "satreps-what-budget-compare": [
        ("SATREPSって何？", [["地球規模課題対応国際科学技術協力プログラム"]], None),
        ("その令和5年度の予算は？", [["1,878百万円", "18.78億円", "約18.8億円"]], BUDGET),
        ("前年度と比べて増えた？",
         [["1,826百万円", "18.26億円"], ["52百万円", "5,200万円", "0.52億円"], ["増"], COMPUTED], BUDGET),
    ],
    "sicorp-budget-previous-year": [
        ("SICORPの令和5年度予算額（案）はいくらですか？", [["1,073百万円", "10.73億円", "約10.7億円"]], BUDGET),
        ("前年度は？", [["1,160百万円", "11.6億円"]], BUDGET),
        ("前年度と比べて増えた？", [["87百万円", "8,700万円", "0.87億円"], ["減"], COMPUTED], BUDGET),
    ],
    "overseas-fellowship-budget-compare-period": [
        ("海外特別研究員事業の令和5年度予算額は？", [["2,611百万円", "26.11億円", "約26.1億円"]], BUDGET),
        ("前年度と比べて増えた？",
         [["2,422百万円", "24.22億円"], ["189百万円", "1億8,900万円", "1.89億円"], ["増"], COMPUTED], BUDGET),
        ("支援期間は？", [["2年間"]], EITHER),
    ],
    "phd-student-3-months-abroad": [
        ("博士課程の学生で3か月海外に行きたい", [["若手研究者海外挑戦プログラム"]], BUDGET),
        ("その渡航期間は？", [["3ヶ月~1年程度", "3か月～1年程度", "3か月~1年程度", "3ヶ月～1年程度"]], BUDGET),
        ("予算は？", [["265百万円", "2.65億円", "約2.7億円"]], BUDGET),
    ],
    "young-researchers-same-as-last-year": [
        ("若手研究者海外挑戦プログラムの令和5年度予算額は？", [["265百万円", "2.65億円"]], BUDGET),
        ("前年度と比べて増えた？", [["同額", "変わら", "増減なし", "横ばい"]], BUDGET),
    ],
    "aspire-adopted-then-applied": [
        ("ASPIREの採択件数は？", [["106件"]], STRATEGY),
        ("申請件数は？", [["469件"]], STRATEGY),
    ],
    "lotus-scale-then-period": [
        ("LOTUSの支援規模は？", [["300万円"]], STRATEGY),
        ("支援期間は？", [["最大1年間", "1年間"]], STRATEGY),
    ],
    # a new program named mid-conversation starts a new topic; the next follow-up is about it
    "new-topic-mid-conversation": [
        ("SATREPSの令和5年度予算額は？", [["1,878百万円", "18.78億円"]], BUDGET),
        ("では、SICORPは？", [["1,073百万円", "10.73億円"]], BUDGET),
        ("前年度と比べて増えた？", [["1,160百万円", "11.6億円"], ["減"], COMPUTED], BUDGET),
    ],
    "invitation-program-decrease": [
        ("外国人研究者招へい事業の令和5年度予算額は？", [["3,375百万円", "33.75億円"]], BUDGET),
        ("前年度と比べて増えた？",
         [["3,414百万円", "34.14億円"], ["39百万円", "3,900万円", "0.39億円"], ["減"], COMPUTED], BUDGET),
    ],
    "youth-exchange-people-budget-compare": [
        ("国際青少年サイエンス交流事業の受入人数は？", [["約2,900人", "2,900人"]], BUDGET),
        ("その予算は？", [["1,454百万円", "14.54億円"]], BUDGET),
        ("前年度と比べて増えた？",
         [["1,371百万円", "13.71億円"], ["83百万円", "8,300万円", "0.83億円"], ["増"], COMPUTED], BUDGET),
    ],
    "satreps-period-then-amount": [
        ("SATREPSの支援期間は？", [["原則3～5年間", "3～5年間", "3~5年間"]], BUDGET),
        ("その支援額は？", [["35百万円程度"]], BUDGET),
    ],
    # the attribute asked carries over to the newly named program
    "recruits-then-other-program": [
        # 176人 stands in both documents (budget slide L298, strategy L472): either answers
        ("海外特別研究員事業の新規採用人数は？", [["176人"]], EITHER),
        ("若手研究者海外挑戦プログラムは？", [["140人"]], BUDGET),
    ],
    "aspire-fy2023-budget-then-period": [
        ("先端国際共同研究推進事業の令和5年度予算額は？", [["100百万円", "1億円"]], BUDGET),
        # budget slides: 支援期間は原則5年; strategy: ASPIRE TOP研究者・TOPチーム 最大5年間
        ("支援期間は？", [["原則5年", "最大5年間"]], EITHER),
    ],
    "switch-program-then-pronoun": [
        ("SATREPSの支援期間は？", [["3～5年間", "3~5年間"]], BUDGET),
        ("海外特別研究員事業の支援期間は？", [["2年間"]], EITHER),
        ("その予算は？", [["2,611百万円", "26.11億円"]], BUDGET),
    ],
}


def _norm(s: str) -> str:
    return unicodedata.normalize("NFKC", s).replace(",", "").replace(" ", "").replace("\u3000", "")


def _problems(ans, expect: list[list[str]], source: str | None) -> list[str]:
    text = _norm(ans.text)
    out = []
    if ans.abstained:
        out.append("abstained")
    for group in expect:
        if not any(_norm(alt) in text for alt in group):
            out.append(f"missing {group}")
    if source and not any(stem in c.source for stem in source.split("|") for c in ans.citations):
        out.append(f"no citation from {source} (cited: {[c.source for c in ans.citations]})")
    return out


@pytest.mark.parametrize("name", list(DIALOGUES))
def test_dialogue(assistant, name):
    """Ask each turn in one conversation; report every wrong turn with the answer given."""
    conv = assistant.chat()
    failures = []
    for i, (question, expect, source) in enumerate(DIALOGUES[name], 1):
        ans = conv.ask(question)
        problems = _problems(ans, expect, source)
        if problems:
            failures.append(f"turn {i} 「{question}」 {ans.interpretation or '(解釈なし)'} -> "
                            f"「{ans.text}」: {'; '.join(problems)}")
    assert not failures, "\n".join(failures)


def test_conversations_do_not_share_turns(assistant):
    """Two users' conversations are independent: a follow-up reads only its own history."""
    a, b = assistant.chat(), assistant.chat()
    a.ask("SATREPSの令和5年度予算額は？")
    b.ask("SICORPの令和5年度予算額は？")
    ans_a = a.ask("前年度は？")
    ans_b = b.ask("前年度は？")
    assert [t.question for t in a.turns] == ["SATREPSの令和5年度予算額は？", "前年度は？"]
    assert [t.question for t in b.turns] == ["SICORPの令和5年度予算額は？", "前年度は？"]
    assert "1826" in _norm(ans_a.text), ans_a.text
    assert "1160" in _norm(ans_b.text), ans_b.text


def test_follow_up_shows_its_reading(assistant):
    """A follow-up says how it was read (「解釈：…」) and names the earlier topic."""
    conv = assistant.chat()
    conv.ask("SATREPSって何？")
    ans = conv.ask("その令和5年度の予算は？")
    assert ans.interpretation.startswith("解釈：")
    assert any(n in ans.interpretation for n in SATREPS), ans.interpretation


def test_standalone_question_has_no_reading(assistant):
    ans = assistant.chat().ask("SICORPの令和5年度予算額（案）はいくらですか？")
    assert ans.interpretation == ""


def test_abstains_on_what_the_documents_do_not_say(assistant):
    """A question the corpus cannot answer is not answered with a nearby figure."""
    conv = assistant.chat()
    conv.ask("SATREPSの令和5年度予算額は？")
    ans = conv.ask("火星探査計画の令和5年度予算額は？")
    assert ans.abstained, ans.text
