"""The figure readers and the fitted choice among their figures, each on real documents of more than
one shape.

Pure functions over chunks: the documents are chunked here with the project's own chunker (no
index), from ``corpus/`` and ``eval/generality/corpus/``.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from stiqa.chat.conversation import carry_subject
from stiqa.catalog.figures import candidates, slide_candidates, table_candidates
from stiqa.answer.question import analyze, asked_kind

ROOT = Path(__file__).resolve().parents[2]
GEN = ROOT / "eval" / "generality" / "corpus"


@pytest.fixture(scope="module")
def chunks():
    """Every chunk of both corpora, by file name."""
    from stiqa.ingest.chunker import chunk_corpus
    from stiqa.ingest.files import load_corpus

    out = {}
    for folder in (ROOT / "corpus", GEN):
        docs, _ = load_corpus(folder)
        for c in chunk_corpus(docs):
            out.setdefault(c.source, []).append(c)
    return out


@pytest.fixture(scope="module")
def ranker():
    from stiqa.answer.model import load

    return load()


def _choose(ranker, q, doc):
    """The option the committed model chooses among every figure of ``doc`` (its chunks as the
    hits, in reading order), or None when it would abstain."""
    from stiqa.answer.features import matrix
    from stiqa.answer.options import offer
    from stiqa.records import Hit
    from stiqa.answer.passages import idf_table

    got = offer(q.text, [Hit(c, 1.0) for c in doc], [], None)
    if not got.options:
        return None
    best, p = ranker.best(matrix(q, got, idf_table(doc)))
    return got.options[best] if p >= ranker.threshold else None


@pytest.fixture()
def _pick(ranker):
    def pick(chunks, source, question):
        return _choose(ranker, analyze(question), chunks[source])
    return pick


def test_pipe_table_cell_is_read_under_its_row_and_column_with_the_unit(chunks):
    cells = [c for ch in chunks["sta_fy1998_st_budget_table.md"] for c in table_candidates(ch)]
    cell = next(c for c in cells if c.figure == "8,907")
    assert cell.subject.startswith("科学技術振興費") and "平成10年度予算案" in cell.subject
    assert cell.unit == "億円"
    # a rate column belongs to the column before it, and keeps its decrease mark
    rate = next(c for c in cells if c.own == "防衛庁" and "その他の一般会計中の研究関係費" in c.subject
                and c.kind == "percent")
    assert rate.figure == "△17.8"


def test_tab_rows_of_a_slide_are_label_and_value(chunks):
    """The seed budget document writes 「支援期間\\t3年間」: the label cell is the figure's subject."""
    cands = [c for ch in chunks["mext_fy2023_budget_international.md"] for c in slide_candidates(ch)]
    period = [c for c in cands if c.kind == "period" and c.subject.startswith("支援期間")]
    assert period and all(c.shape == "slide" for c in period)


def test_table_answer_takes_the_row_asked_not_another_row_with_the_same_column(chunks, _pick):
    got = _pick(chunks, "sta_fy1998_st_budget_table.md", "平成10年度予算案で、科学技術庁の科学技術関係経費総額は何百万円ですか。")
    assert got is not None and got.candidate.figure == "740,132"
    got = _pick(chunks, "sta_fy1998_st_budget_table.md", "平成9年度の科学技術振興費の当初予算額はいくら？")
    assert got is not None and got.candidate.figure == "8,493"


def test_prose_figure_belongs_to_its_clause_not_to_the_next_subject(chunks, _pick):
    """「日本の研究者数は…70.6万人」 and 「日本の女性研究者数…18.3万人」 sit in one passage."""
    got = _pick(chunks, "nistep_indicators2024_researchers.md", "2023年の日本の研究者数は何万人ですか。")
    assert got is not None and got.candidate.figure == "70.6万人"
    got = _pick(chunks, "nistep_indicators2024_researchers.md", "2023年の日本の女性研究者数は？何万人？")
    assert got is not None and got.candidate.figure == "18.3万人"


@pytest.mark.xfail(strict=True, reason="the model states the total (70.6万人) for the university sector: the "
                   "question's 大学部門 is a noun no option's words hold, and missing_noun does not outweigh the rest")
def test_a_qualifier_no_figure_carries_means_no_figure(chunks, _pick):
    """No clause gives the university sector's count: abstain rather than state the total."""
    assert _pick(chunks, "nistep_indicators2024_researchers.md", "2023年の日本の大学部門の研究者数は何万人ですか。") is None


@pytest.mark.xfail(strict=True, reason="the chooser takes another slide's 要求・要望額 (283億円)")
def test_slide_label_line_gives_the_figure_of_the_slide_title_it_sits_under(chunks, _pick):
    src = "mext_fy2025_request_points.md"
    got = _pick(chunks, src, "令和7年度概算要求で、科学技術・イノベーションの戦略的な国際展開の要求・要望額はいくらですか。")
    assert got is not None and got.candidate.figure == "168億円"
    got = _pick(chunks, src, "令和7年度概算要求で、科学技術・イノベーションの戦略的な国際展開の前年度の予算額はいくら？")
    assert got is not None and got.candidate.figure == "141億円"


@pytest.mark.xfail(strict=True, reason="the answerability model abstains on the 令和4年度 (前年度) label")
def test_seed_budget_slide_labels_keep_their_fiscal_years(chunks, _pick):
    got = _pick(chunks, "mext_fy2023_budget_international.md", "SATREPSの令和4年度の予算額はいくらでしたか。")
    assert got is not None and got.candidate.figure == "1,826百万円"


def test_numbered_siblings_are_told_apart_in_prose_periods(chunks, _pick):
    src = "mext_whitepaper_2024_part2_intro.md"
    got = _pick(chunks, src, "第3期の科学技術基本計画の期間は？")
    assert got is not None and got.candidate.figure == "平成18~22年度"
    assert _pick(chunks, src, "第7期科学技術・イノベーション基本計画の計画期間はいつからいつまでですか。") is None


@pytest.mark.xfail(strict=True, reason="the answerability model abstains on the English page")
def test_english_page_figures_are_read_as_written(chunks, _pick):
    got = _pick(chunks, "jst_actx_about_en.md", "What is the maximum research funding per year in the acceleration phase?")
    assert got is not None and "10 million yen" in got.candidate.figure


@pytest.mark.parametrize("question, kind", [
    ("科研費の令和7年度要求・要望額はいくら？", "money"),
    ("何回開催されましたか。科学技術イノベーション予算戦略会議", "count"),
    ("女性の割合はどれくらいですか", "percent"),
    ("主要国の中で何番目ですか", "rank"),
    ("「一般歳出」とは何を指しますか", ""),
    ("参画機関には事業の経費が配分されますか。", ""),
    ("75%というNatureの記事は何年何月何日のもの？", ""),
])
def test_what_kind_of_figure_a_question_asks(question, kind):
    assert asked_kind(question) == kind


@pytest.mark.parametrize("previous, question, expected", [
    ("令和7年度概算要求での科研費(科学研究費助成事業)の要求・要望額を教えてください。", "前年度の予算額はいくらでしたか。",
     "令和7年度概算要求での科研費(科学研究費助成事業)の前年度の予算額はいくらでしたか。"),
    ("第1期の科学技術基本計画の期間を教えてください。", "では第3期はいつでしたか。", "第3期の科学技術基本計画の期間を教えてください。"),
    ("Who can apply to ACT-X?", "And how much research funding does each project get?",
     "And how much research funding does each project get (ACT-X)?"),
])
def test_follow_up_without_a_program_carries_the_previous_subject(previous, question, expected):
    assert carry_subject(previous, question) == expected


def test_a_question_with_its_own_long_subject_is_not_rewritten():
    assert carry_subject("SATREPSの予算は？", "海外から優れた研究者を呼び込み、国際頭脳循環のハブとなる研究拠点を大学につくりたいと考えています。") == ""


def test_respective_figures_belong_to_the_names_listed_in_order(chunks):
    """「「A」、「B」における…は、それぞれX、Y」: X is A's, Y is B's."""
    cands = [c for ch in chunks["nistep_indicators2024_researchers.md"] for c in candidates(ch)]
    first = next(c for c in cands if c.figure == "41.1%")
    second = next(c for c in cands if c.figure == "39.6%")
    assert "農学" in first.subject and "保健" not in first.subject
    assert "保健" in second.subject and "農学" not in second.subject


def test_a_rank_question_frames_the_set_ranked_in(chunks, _pick):
    """「主要国の中で何番目」: the set ranked in (主要国) need not stand beside the rank."""
    from stiqa.records import Chunk

    got = _pick(chunks, "nistep_indicators2024_researchers.md", "日本の研究者数の規模は、主要国の中で何番目ですか。")
    assert got is not None and got.candidate.figure == "第3位"
    made = Chunk("x", "made.md", "大学ランキング", "", "大学ランキング", 1, 1,
                 "東京大学の論文数は、アジアの大学の中で第5位である。京都大学は第9位である。")
    got = _pick({"made.md": [made]}, "made.md", "東京大学の論文数は、アジアの大学の中で何位ですか。")
    assert got is not None and got.candidate.figure == "第5位"
