"""Answers in parallel: no lock around answering, and no question's context leaks into another's.

Real engine, real index: questions of different types (a budget with its fiscal year, a follow-up
style count, an abstention with its explanatory note, a table-free prose fact) asked from eight
threads at once must get exactly the answers they get one at a time.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

QUESTIONS = [
    "SICORPの令和5年度予算額（案）はいくらですか？",
    "SICORPの令和3年度予算は？",
    "SATREPSの支援期間は何年ですか。",
    "外国人特別研究員の新規採用人数は？",
    "ムーンショットの予算は？",
    "LOTUSの本格支援では1人1年あたりいくら支援されますか。",
    "ASPIREの正式名称は？",
    "海外特別研究員事業の令和5年度予算額は？",
]


def test_parallel_answers_equal_sequential_ones(assistant):
    alone = {q: assistant.answer(q) for q in QUESTIONS}
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(assistant.answer, QUESTIONS * 4))
    for q, ans in zip(QUESTIONS * 4, together):
        assert ans.text == alone[q].text, q
        assert [c.line_start for c in ans.citations] == [c.line_start for c in alone[q].citations], q


def test_answering_leaves_the_long_lived_answerer_unchanged(assistant):
    """Per-question context lives on a per-question copy, never on the shared answerer."""
    before = {k: v for k, v in vars(assistant.answerer).items() if k.startswith("_") and k != "_by_description"}
    assistant.answer("SICORPの令和3年度予算は？")  # an abstention that writes a note on its context
    after = {k: v for k, v in vars(assistant.answerer).items() if k.startswith("_") and k != "_by_description"}
    assert before.keys() == after.keys()
    assert all(before[k] is after[k] for k in before)

