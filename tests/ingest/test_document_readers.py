"""Names, definitions and suggestions read from the documents themselves (no catalog entries),
each on documents of more than one shape: slides extracted from PDF, rules pages, bullet pages,
the seed budget document."""
from __future__ import annotations

from pathlib import Path

import pytest

from stiqa.answer.definitions import asked_term, enumeration, gloss
from stiqa.catalog.names import name_groups, topic_lookup
from stiqa.answer.suggest import _clause_name
from stiqa.catalog.names import program_names_in

ROOT = Path(__file__).resolve().parents[2]
GEN = ROOT / "eval" / "generality" / "corpus"


@pytest.fixture(scope="module")
def chunks():
    from stiqa.ingest.chunker import chunk_corpus
    from stiqa.ingest.files import load_corpus

    out = []
    for folder in (ROOT / "corpus", GEN):
        docs, _ = load_corpus(folder)
        out.extend(chunk_corpus(docs))
    return out


def _by_source(chunks, source):
    return [c for c in chunks if c.source == source]


@pytest.mark.parametrize("official, short", [
    ("世界トップレベル研究拠点プログラム", "WPI"),  # 「正式名称(略称)」 on a slide
    ("科学研究費助成事業", "科研費"),  # a kanji abbreviation, read in its name in order
    ("地域中核・特色ある研究大学強化促進事業", "J-PEAKS"),  # a name with kana, opened by a quote mark
    ("戦略的イノベーション創造プログラム", "SIP"),  # 「2. SIP 戦略的…」 in a list
    ("革新的研究開発推進プログラム", "ImPACT"),  # the same, run on inside a line
    ("地球規模課題対応国際科学技術協力プログラム", "SATREPS"),  # the seed budget document
])
def test_documents_name_their_programs_with_their_abbreviations(chunks, official, short):
    groups = name_groups(chunks)
    assert any(g[0] == official and short in g for g in groups), [g for g in groups if short in g]


def test_a_sub_program_in_brackets_is_no_abbreviation(chunks):
    """「科学研究費助成事業(国際先導研究)」: 国際先導研究 is not read in the name in order."""
    assert not any("国際先導研究" in g for g in name_groups(chunks))


def test_topic_lookup_finds_a_new_documents_program_beside_the_catalog(chunks):
    catalog = lambda text: [["戦略的国際共同研究プログラム", "SICORP"]] if "SICORP" in text else []  # noqa: E731
    lookup = topic_lookup(name_groups(chunks), catalog)
    assert lookup("WPIの予算は？") == [["世界トップレベル研究拠点プログラム", "WPI"]]
    assert lookup("SICORPの予算は？") == [["戦略的国際共同研究プログラム", "SICORP"]]  # the catalog's, once


def test_gloss_in_brackets_is_the_documents_definition(chunks):
    got = gloss("学術研究", _by_source(chunks, "mext_fy2025_request_points.md"))  # wrapped across a PDF line
    assert got is not None and got[2] == "研究者の自由な発想に基づく研究"
    assert gloss("SICORP", _by_source(chunks, "mext_fy2023_budget_international.md")) is None  # a name, not a gloss


def test_named_set_lists_its_numbered_items_even_run_on_in_a_line(chunks):
    got = enumeration("3本の矢", _by_source(chunks, "cao_sip_about_2015.md"))
    assert got is not None
    items = got[0].split("\n")[1:]
    assert [i.split(". ", 1)[0] for i in items] == ["1", "2", "3"]
    assert "SIP" in items[1] and "ImPACT" in items[2]


@pytest.mark.parametrize("question, term", [
    ("科研費が対象とする「学術研究」とは、どのような研究のことですか。", "学術研究"),
    ("「3本の矢」とは何ですか。", "3本の矢"),
    ("一般歳出とは何を指しますか", "一般歳出"),
    ("SICORPの予算は？", ""),
])
def test_the_term_a_definition_question_asks(question, term):
    assert asked_term(question) == term


def test_program_names_in_text_leave_agencies_and_bare_kind_words_out():
    assert program_names_in("JSTが実施する本事業と、戦略的創造研究推進事業(新技術シーズ創出)") == ["戦略的創造研究推進事業(新技術シーズ創出)"]
    assert program_names_in("ACT-X: About The Program (Japan Science and Technology Agency, JST)") == ["ACT-X"]


def test_the_clause_that_fits_the_situation_names_the_program():
    sentence = "○チーム型研究のCREST、若手の登竜門となっている「さきがけ」、卓越したリーダーによるERATO等の競争的研究費を通じて"
    assert _clause_name(sentence, "卓越したリーダーのもとで研究したい") == "ERATO"
    assert _clause_name(sentence, "若手の登竜門はどれ？") == "さきがけ"


def test_curated_program_file_is_optional(tmp_path, chunks):
    """Without data/programs.json the catalog is empty, not an error, and the documents' own names
    still give the conversation its topics."""
    from stiqa.catalog.build import build_catalog

    catalog = build_catalog(GEN, data_file=tmp_path / "missing.json")
    assert catalog.programs == [] or not list(catalog.programs)
    lookup = topic_lookup(name_groups(chunks), None)
    assert lookup("ImPACTの補正予算は？") == [["革新的研究開発推進プログラム", "ImPACT"]]
