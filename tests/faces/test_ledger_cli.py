"""`stiqa figures`: filters, CSV and JSON, one-line errors that name what the ledger has, and a
start fast enough for a shell loop (the stored file only: no answer stage, torch or Chroma)."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stiqa.ledger.query import FilterError, parse_kind, parse_year

ROOT = Path(__file__).resolve().parents[2]


def _figures(settings, *args):
    env = dict(os.environ, STIQA_INDEX_DIR=str(settings.index_dir), STIQA_CORPUS_DIR=str(settings.corpus_dir))
    return subprocess.run([sys.executable, "-m", "stiqa.cli", "figures", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=60)


@pytest.mark.parametrize("text,year", [("2023", 2023), ("2023年度", 2023), ("FY2023", 2023), ("令和5年度", 2023),
                                       ("令和5", 2023), ("R5", 2023), ("令和元年度", 2019), ("H30", 2018), ("２０２３", 2023)])
def test_years_as_users_write_them(text, year):
    assert parse_year(text) == year


@pytest.mark.parametrize("bad", ["abc", "令和", "5", "2023-24", ""])
def test_a_malformed_year_is_a_clear_error(bad):
    with pytest.raises(FilterError, match="年度の指定が読めません"):
        parse_year(bad)


def test_kinds_in_english_or_japanese():
    assert parse_kind("money") == parse_kind("金額") == "money"
    with pytest.raises(FilterError, match="種類の指定が読めません"):
        parse_kind("yen?")


def test_figures_json_filtered_by_subject_alias_and_year(settings):
    got = _figures(settings, "--subject", "SICORP", "--year", "令和5年度", "--kind", "money", "--json")
    assert got.returncode == 0, got.stderr
    rows = json.loads(got.stdout)
    assert [(r["as_written"], r["budget_kind"], r["year"]) for r in rows] == [("1,073百万円", "予算", 2023)]
    assert rows[0]["citations"][0]["source"] == "mext_fy2023_budget_international.md"


def test_figures_csv_has_a_header_and_cited_rows(settings):
    got = _figures(settings, "--kind", "money", "--csv")
    rows = list(csv.DictReader(io.StringIO(got.stdout)))
    assert got.returncode == 0 and len(rows) > 20
    assert all(r["source"] and int(r["line_start"]) >= 1 for r in rows)


@pytest.mark.parametrize("args,message", [
    (["--subject", "ムーンショット型研究"], "「ムーンショット型研究」の数値は資料にありません"),
    (["--subject", "SICORPP"], "近い主題: 戦略的国際共同研究プログラム"),
    (["--subject", "SICORP", "--year", "2019"], "資料にある年度: 令和4年度（2022）、令和5年度（2023）"),
    (["--year", "abc"], "年度の指定が読めません"),
    (["--kind", "円?"], "種類の指定が読めません"),
])
def test_bad_filters_are_one_line_without_a_traceback(settings, args, message):
    got = _figures(settings, *args)
    assert got.returncode == 2
    assert message in got.stderr and "Traceback" not in got.stderr
    assert len(got.stderr.strip().splitlines()) == 1


def test_figures_starts_without_the_answer_stage(settings):
    code = ("import sys, time; t=time.perf_counter(); from stiqa.cli import main; "
            f"rc = main(['--index', {str(settings.index_dir)!r}, 'figures', '--subject', 'SATREPS']); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'chromadb', 'gradio', 'sudachipy') "
            "or m.startswith('stiqa.answer')), file=sys.stderr)")
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert got.returncode == 0
    assert got.stderr.strip().splitlines()[-1] == "[]"


def test_figures_answers_within_a_second_in_a_fresh_process(settings):
    t = time.perf_counter()
    got = _figures(settings, "--subject", "SATREPS")
    assert got.returncode == 0 and "1,878百万円" in got.stdout
    assert time.perf_counter() - t < 2.0  # measured ≈0.1 s; a loose bound for a shared test machine


def test_an_index_built_before_the_ledger_gets_one_on_first_use(settings, tmp_path):
    import shutil

    from stiqa.ledger.store import FILE, generation_dir

    index = tmp_path / "index"
    gen = generation_dir(settings.index_dir)
    (index / gen.name).mkdir(parents=True)
    shutil.copy(gen / "chunks.jsonl", index / gen.name / "chunks.jsonl")
    (index / "CURRENT").write_text(gen.name, encoding="utf-8")
    env = dict(os.environ, STIQA_INDEX_DIR=str(index), STIQA_CORPUS_DIR=str(settings.corpus_dir))
    got = subprocess.run([sys.executable, "-m", "stiqa.cli", "figures", "--subject", "SICORP", "--kind", "money"],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert got.returncode == 0, got.stderr
    assert "1,073百万円" in got.stdout and (index / gen.name / FILE).is_file()
