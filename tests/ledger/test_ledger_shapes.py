"""The figure ledger on shapes of document that many policy documents share (eval/ledger_check.md):
a year stated in the sentence before, a 「前年度」/「同」 bracket, a flattened table whose column
headers name the years, and headings that are not a figure's subject (an attribute heading, a
figure's own line set apart, a circled list item). Each rule on real documents of the evaluation
sets, two where the corpus has two; no index is built (the chunker alone feeds the ledger).
"""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUDGET = ROOT / "eval" / "budget" / "corpus"
GENERALITY = ROOT / "eval" / "generality" / "corpus"
PROGRAMS = ROOT / "eval" / "programs" / "corpus"


def _ledger(*paths: Path):
    from stiqa.ingest.chunker import chunk_document
    from stiqa.ingest.files import load_document
    from stiqa.ledger.build import build_ledger, subjects_for

    chunks = [c for p in paths for c in chunk_document(load_document(p))]
    return build_ledger(chunks, subjects=subjects_for(None, chunks))


def _one(records, as_written, line=None):
    found = [r for r in records if r.as_written == as_written and (line is None or r.first.line_start == line)]
    assert found, as_written
    return found


@pytest.fixture(scope="module")
def budget():
    return _ledger(*(BUDGET / n for n in ("nistep_indicators2019_gaiyou.md", "stat_kagaku_chosa_h16_gaiyou.md",
                                          "jsps_kakenhi_h25_shinsa_soukatsu.md", "jbaudit_h14_jsps_kessan.md")))


# ------------------------------------------------------------------ years


def test_a_year_stated_in_the_sentence_before_is_the_figures_year(budget):
    # 「2017年の日本の研究開発費総額…」 then 「…部門別で見ると、「公的機関」では7.2%…」 (NISTEP)
    for fig in ("7.2%", "1.0%"):
        assert {r.year for r in _one(budget, fig, 24)} == {2017}
    # 「平成15年度の我が国の科学技術研究費(以下「研究費」という。)は…」 then 「このうち…92.2%」 (総務省統計局):
    # the 「。」 inside the bracket ends no sentence
    [r] = _one(budget, "92.2%", 45)
    assert r.year == 2003


def test_a_calendar_year_earlier_in_the_figures_own_sentence_is_its_year(budget):
    # 「中国は2017年では50.8兆円、対前年比は9.7%増」 (NISTEP 2019)
    assert {r.year for r in _one(budget, "9.7%")} == {2017}
    assert {r.year for r in _one(budget, "17.5兆円", 21)} == {2017}
    # 「日本の研究者数は2023年において70.6万人」「…2023年では18.3万人、対前年比率は4.5%増」 (NISTEP 2024)
    records = _ledger(GENERALITY / "nistep_indicators2024_researchers.md")
    for fig in ("70.6万人", "18.3万人", "4.5%"):
        assert {r.year for r in _one(records, fig)} == {2023}


def test_a_year_something_began_is_not_the_next_sentences_year(budget):
    # 「平成22年度公募から設けた…」「平成23年度に基金化された…」 date a scheme, not the figures after them
    assert {r.year for r in _one(budget, "28.3%")} == {2013}
    assert {r.year for r in _one(budget, "25.8%")} == {2013}


def test_a_previous_year_bracket_and_its_doh_are_the_year_before(budget):
    # 「応募件数は112件(前年度114件)、採択件数は15件(同18件)」 in the 平成25年度 review
    assert {r.year for r in _one(budget, "112件")} == {2013}
    assert {r.year for r in _one(budget, "114件")} == {2012}
    assert {r.year for r in _one(budget, "15件")} == {2013}
    assert {r.year for r in _one(budget, "18件")} == {2012}
    assert {r.year for r in _one(budget, "3,759件")} == {2012}
    assert {r.year for r in _one(budget, "3,582件")} == {2013}


def test_two_equal_figures_in_one_line_are_placed_by_their_own_sentences(budget):
    # 「…前年度の30%とほぼ同様の29.9%」 (this year) and 「採択率は前年度の29.9%から低下し」 (last year)
    assert sorted(r.year for r in _one(budget, "29.9%")) == [2012, 2013]


def test_a_flattened_tables_columns_give_their_years(budget):
    # 「区分 14事業年度 (13事業年度)」 over 「交付件数 25,721件 40,313件」 (会計検査院)
    assert {r.year for r in _one(budget, "25,721件")} == {2002}
    assert {r.year for r in _one(budget, "40,313件")} == {2001}
    assert {r.year for r in _one(budget, "80,303,605千円")} == {2002}
    assert {r.year for r in _one(budget, "95,500,751千円")} == {2001}


def test_a_budget_table_copied_out_of_a_pdf_has_the_same_shape():
    from stiqa.ledger.build import build_ledger, subjects_for
    from stiqa.records import Chunk

    text = "区分 令和4年度 令和5年度\n運営費交付金 1,000億円 1,100億円\n\n事業費は1,200億円。"
    chunk = Chunk("c1", "x.md", "令和5年度 予算の概要", "", "予算", 10, 13, text)
    records = build_ledger([chunk], subjects=subjects_for(None, [chunk]))
    assert {r.year for r in _one(records, "1,000億円")} == {2022}
    assert {r.year for r in _one(records, "1,100億円")} == {2023}


# ------------------------------------------------------------------ subjects


def test_an_attribute_heading_is_not_the_subject():
    records = _ledger(GENERALITY / "jst_actx_about_en.md", PROGRAMS / "fukushima_u_kokusai_kyoka.md",
                      PROGRAMS / "jst_erato_gaiyou.md")
    # 「■Research Budget」「■Research Period」 of ACT-X's page
    for fig in ("Total of several million yen", "60 to 90 research projects", "2 years and 6 months or less"):
        assert {r.subject for r in _one(records, fig)} == {"ACT-X"}
    # 「○応募総額」「○採択予定課題数」「○渡航期間」 of a call for proposals
    for fig in ("1,200万円", "400件", "6か月"):
        subjects = {r.subject for r in _one(records, fig)}
        assert subjects and not subjects & {"応募総額", "採択予定課題数", "渡航期間"}
        assert all(s.startswith("国際共同研究加速基金") for s in subjects)
    # 「●総額上限12億円(直接経費)」 set apart like a heading is the figure's line, not its subject
    [erato] = [r for r in _one(records, "12億円") if r.first.line_start == 101]
    assert erato.subject.startswith("ERATO")


def test_a_circled_list_item_is_not_a_slides_title():
    # 「②連携機関」 among J-PEAKS's short lines: an item of the list of applicants
    records = _ledger(GENERALITY / "jsps_jpeaks_overview.md")
    for fig in ("最大25億円", "最大55億円"):
        assert {r.subject for r in _one(records, fig)} == {"地域中核・特色ある研究大学強化促進事業"}


def test_numbered_section_headings_still_name_their_subject():
    # 「7.科学技術イノベーションの戦略的国際展開」 is a section's number, not a list item
    records = _ledger(ROOT / "corpus" / "mext_fy2023_budget_international.md")
    assert any(r.subject == "科学技術イノベーションの戦略的国際展開" and r.as_written == "141億円" for r in records)
