"""The figure ledger on real documents: built with the index, stored beside it, merged duplicates,
the change report a new or revised document produces, and answers across years and documents.

Corpora: the seed corpus; the seed corpus plus the generality set's FY2025 request slides (a real
second-year document); the seed corpus plus a FY2024 fixture in two versions (tests/fixtures/ledger).
"""
from __future__ import annotations

import pytest

import shutil

from ledger_corpora import EXCERPT, FIXTURES, FY2025, SEED, revised, two_years  # noqa: F401 - fixtures


def _find(ledger, subject, year, budget_kind, kind="money"):
    return [r for r in ledger.records if r.subject == subject and r.year == year
            and r.budget_kind == budget_kind and r.kind == kind]


# ------------------------------------------------------------------ the ledger itself


def test_ledger_is_built_with_the_index_and_stored_in_its_generation(settings):
    from stiqa.index.build import current_generation
    from stiqa.ledger.store import FILE
    from stiqa.ledger.update import read_ledger

    assert (current_generation(settings.index_dir) / FILE).is_file()
    ledger = read_ledger(settings.index_dir)
    [sicorp] = _find(ledger, "戦略的国際共同研究プログラム", 2023, "予算")
    assert sicorp.as_written == "1,073百万円" and sicorp.value == 1_073_000_000 and sicorp.unit == "円"
    assert (sicorp.first.source, sicorp.first.line_start) == (SEED, 32)
    [prev] = _find(ledger, "戦略的国際共同研究プログラム", 2022, "前年度")
    assert prev.as_written == "1,160百万円"
    assert "SICORP" in ledger.aliases["戦略的国際共同研究プログラム"]


def test_the_same_figure_stated_twice_is_one_record_with_both_citations(settings):
    from stiqa.ledger.update import read_ledger

    [r] = _find(read_ledger(settings.index_dir), "海外特別研究員事業", 2023, "予算")
    assert r.as_written == "2,611百万円"
    assert [(c.source, c.line_start) for c in r.citations] == [(SEED, 46), (SEED, 338)]


def test_json_records_carry_the_contract_fields(settings):
    from stiqa.ledger.update import read_ledger

    for r in read_ledger(settings.index_dir).records[:50]:
        d = r.to_json()
        assert {"subject", "kind", "year", "budget_kind", "value", "unit", "as_written", "citations"} <= set(d)
        assert d["kind"] in ("money", "count", "percent", "period", "rank")
        assert all({"source", "line_start", "line_end"} <= set(c) for c in d["citations"])


@pytest.mark.slow
def test_two_years_of_one_program_from_two_real_documents(two_years):
    from stiqa.ledger.update import read_ledger

    ledger = read_ledger(two_years.index_dir)
    subject = "科学技術イノベーションの戦略的国際展開"  # 「科学技術・イノベーションの戦略的な国際展開」 in FY2025
    rows = {(r.year, r.budget_kind): (r.as_written, r.first.source) for r in ledger.records
            if r.subject == subject and r.kind == "money"}
    assert rows[(2023, "予算")] == ("141億円", SEED)
    assert rows[(2022, "前年度")] == ("138億円", SEED)
    assert rows[(2025, "要求・要望")] == ("168億円", FY2025.name)
    assert rows[(2024, "前年度")] == ("141億円", FY2025.name)


def test_adding_the_fy2025_document_reports_its_new_subjects_and_no_false_changes(two_years):
    from stiqa.ledger.changes import read_changes

    rep = read_changes(two_years.index_dir)
    assert rep.changed_files == [FY2025.name]
    assert "世界トップレベル研究拠点プログラム" in rep.new_subjects
    assert rep.changed == [] and rep.gone == []


# ------------------------------------------------------------------ what a new document changes


@pytest.mark.slow
def test_a_revised_figure_in_a_new_document_is_reported_old_to_new_both_cited(revised):
    from stiqa.ledger.changes import ingest_report, read_changes

    rep = read_changes(revised.index_dir)
    [c] = [c for c in rep.changed if c.new.subject == "戦略的国際共同研究プログラム"]
    assert (c.old.as_written, c.old.first.source, c.old.first.line_start) == ("1,073百万円", SEED, 32)
    assert (c.new.as_written, c.new.first.source) == ("1,065百万円", EXCERPT)
    assert c.new.year == 2023
    assert "国際頭脳循環拠点形成事業" in rep.new_subjects
    text = ingest_report(revised.index_dir)
    assert "1,073百万円" in text and "→ 1,065百万円" in text and f"{SEED} L32" in text


def test_a_changed_file_reports_its_changed_and_vanished_figures(revised, tmp_path):
    from stiqa.config import load_settings
    from stiqa.index.build import build_index
    from stiqa.ledger.changes import read_changes

    shutil.copytree(revised.corpus_dir, tmp_path / "corpus")
    shutil.copytree(revised.index_dir, tmp_path / "index")
    s = load_settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    shutil.copy(FIXTURES / "v2" / EXCERPT, s.corpus_dir / EXCERPT)
    assert not build_index(s).noop
    rep = read_changes(s.index_dir)
    assert rep.changed_files == [EXCERPT]
    assert [(c.old.as_written, c.new.as_written) for c in rep.changed
            if c.new.subject == "地球規模課題対応国際科学技術協力プログラム"] == [("1,900百万円", "1,950百万円")]
    assert any(r.as_written == "300百万円" and r.subject == "国際頭脳循環拠点形成事業" for r in rep.gone)
    assert rep.new_subjects == []


def test_ingest_prints_the_change_report(revised, tmp_path):
    from stiqa.cli import main

    shutil.copytree(revised.corpus_dir, tmp_path / "corpus")
    shutil.copytree(revised.index_dir, tmp_path / "index")
    shutil.copy(FIXTURES / "v2" / EXCERPT, tmp_path / "corpus" / EXCERPT)
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--corpus", str(tmp_path / "corpus"), "--index", str(tmp_path / "index"), "ingest"]) == 0
    assert "値が変わりました" in out.getvalue() and "1,950百万円" in out.getvalue()
    assert "見当たらなくなった数値" in out.getvalue()


def test_eval_compare_flags_questions_whose_expected_figure_changed(revised, tmp_path):
    import json

    from stiqa.ledger.changes import eval_flags_text, flag_questions, read_changes

    items = [{"id": "q-sicorp", "question": "SICORPの令和5年度予算額は？", "expect": [["1,073百万円", "10.73億円"]]},
             {"id": "q-satreps", "question": "SATREPSの令和5年度予算額は？", "expect": [["1,878百万円"]]},
             {"id": "q-yen", "question": "SICORPの予算は？", "expect": [["10億7,300万円"]], "yen": 1_073_000_000}]
    flagged = flag_questions(read_changes(revised.index_dir), items)
    assert [i["id"] for i, _ in flagged] == ["q-sicorp", "q-yen"]
    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")
    text = eval_flags_text(revised.index_dir, path)
    assert "q-sicorp" in text and "1,073百万円" in text and "1,065百万円" in text and "q-satreps" not in text
