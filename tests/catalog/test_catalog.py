"""Catalog tests on the real corpus: every value sits at its cited lines; corpus edits are caught."""
from __future__ import annotations

import re
import shutil
import time
import unicodedata
from pathlib import Path

import pytest

from stiqa.catalog.records import DATA_FILE, find_program_mentions, mention_key

from stiqa.catalog.build import build_catalog
from stiqa.config import Settings

CORPUS = Settings().corpus_dir
BUDGET = "mext_fy2023_budget_international.md"
STRATEGY = "mext_international_strategy_2025-10-08.txt"
AUDIENCE_TAGS = {"高校生", "大学生", "大学院生", "博士後期課程学生", "ポスドク", "若手研究者", "トップ研究者",
                 "研究者", "大学・研究機関", "企業"}
BUDGET_KINDS = {"予算額（案）", "予算額", "前年度予算額", "補正予算額", "要求・要望額", "合計"}


def norm(text: str) -> str:
    """NFKC, one middle dot, no whitespace, commas or markdown emphasis (independent of the module)."""
    t = unicodedata.normalize("NFKC", text)
    t = t.replace("·", "・").replace("･", "・").replace("•", "・")
    return re.sub(r"[\s,、*]", "", t)


def lines_of(corpus: Path) -> dict[str, list[str]]:
    return {p.name: p.read_text(encoding="utf-8").splitlines() for p in corpus.glob("*") if p.suffix in (".md", ".txt")}


def all_facts(catalog):
    for p in catalog.programs:
        for field, fact in p.facts():
            yield p, field, fact


def assert_all_cited(catalog, corpus: Path) -> int:
    texts = lines_of(corpus)
    n = 0
    for p, field, f in all_facts(catalog):
        assert f.source in texts, (p.id, field, f)
        assert 1 <= f.line_start <= f.line_end <= len(texts[f.source]), (p.id, field, f)
        cited = norm("".join(texts[f.source][f.line_start - 1:f.line_end]))
        assert norm(f.value) in cited, f"{p.id}.{field}: {f.value!r} not at {f.source} L{f.line_start}-{f.line_end}"
        n += 1
    return n


@pytest.fixture(scope="module")
def catalog():
    return build_catalog(CORPUS)


def test_every_value_occurs_at_its_cited_lines(catalog):
    assert assert_all_cited(catalog, CORPUS) >= 250
    assert catalog.problems == ()


def test_enough_programs_with_ascii_ids_and_both_origins(catalog):
    ids = [p.id for p in catalog.programs]
    assert len(ids) >= 18 and len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9\-]*", i) for i in ids)
    origins = {f.origin for _, _, f in all_facts(catalog)}
    assert origins == {"code", "data"}
    for must in ("aspire", "sicorp", "satreps", "expert-j", "j-rise", "nexus", "lotus", "overseas-fellowship",
                 "overseas-fellowship-rra", "overseas-challenge", "foreign-fellowship", "youth-science-exchange",
                 "symposium", "hope", "lindau", "fos", "nobel-dialogue", "kakenhi-intl", "horizon-europe",
                 "overseas-dispatch"):
        assert catalog.get(must) is not None, must


def test_sicorp_budgets_with_lines(catalog):
    budgets = {(b.fiscal_year, b.kind, b.amount): b.fact for b in catalog.get("sicorp").budgets}
    now = budgets[("令和5年度", "予算額（案）", "1,073百万円")]
    prev = budgets[("令和4年度", "前年度予算額", "1,160百万円")]
    assert (now.source, now.line_start, now.line_end) == (BUDGET, 32, 32)
    assert (prev.source, prev.line_start, prev.line_end) == (BUDGET, 32, 32)


def test_budget_forms_split_over_lines(catalog):
    lotus = {(b.fiscal_year, b.kind, b.amount) for b in catalog.get("lotus").budgets}
    assert ("令和8年度", "要求・要望額", "10億円") in lotus and ("令和7年度", "前年度予算額", "8億円") in lotus
    aspire = {(b.kind, b.amount) for b in catalog.get("aspire").budgets}
    assert {("予算額（案）", "100百万円"), ("補正予算額", "44,000百万円"), ("合計", "502億円")} <= aspire
    assert all(b.kind in BUDGET_KINDS for p in catalog.programs for b in p.budgets)


def test_scheme_rows_extracted_by_code(catalog):
    def values(pid, field):
        return {(f.value, f.origin) for f in getattr(catalog.get(pid), field)}
    assert ("2年間", "code") in values("overseas-fellowship", "period")
    assert ("昭和57年度", "code") in values("overseas-fellowship", "start")
    assert ("3ヶ月~1年程度", "code") in values("overseas-challenge", "period")
    assert ("2年以内", "code") in values("foreign-fellowship", "period")
    assert ("平成21年度~", "code") in values("sicorp", "start")  # row under an untitled slide (anchor)
    assert ("平成19年度", "code") in values("hope", "start")
    assert ("平成21年度", "code") in values("lindau", "start")  # not taken by the 'HOPEミーティング' caption


def test_audience_tags_are_normalised(catalog):
    for p in catalog.programs:
        assert p.tags("audience") <= AUDIENCE_TAGS, (p.id, p.tags("audience"))
    assert "博士後期課程学生" in catalog.get("overseas-challenge").tags("audience")
    assert {"高校生", "大学生", "大学院生"} <= catalog.get("youth-science-exchange").tags("audience")
    assert "送り出し" in catalog.get("overseas-fellowship").tags("direction")
    assert "受け入れ" in catalog.get("foreign-fellowship").tags("direction")
    assert "インド" in catalog.get("lotus").tags("regions")


def test_nothing_the_text_does_not_say(catalog):
    assert not any(f.value == "JSPS" for p in catalog.programs for f in p.agency)
    table = dict(catalog.aliases)
    assert not any("さくら" in k for k in table)
    text = mention_key("".join("".join(v) for v in lines_of(CORPUS).values())).replace(" ", "")
    for key in table:  # every alias is spelled in the documents
        assert key.replace(" ", "") in text, key


def test_aliases(catalog):
    table = dict(catalog.aliases)
    assert table[mention_key("国際科学技術共同研究推進事業")] == "sicorp"
    assert table[mention_key("SICORP")] == "sicorp"
    assert table[mention_key("先端国際共同研究推進事業")] == "aspire"
    assert table[mention_key("外国人特別研究員")] == "foreign-fellowship"
    assert table[mention_key("海外特別研究員")] == "overseas-fellowship"
    assert table[mention_key("EXPERT-J")] == "expert-j"
    assert table[mention_key("日ASEAN科学技術・イノベーション協働連携事業")] == "nexus"


@pytest.mark.parametrize("text,expected", [
    ("国際科学技術共同研究推進事業の予算は？", ["sicorp"]),
    ("先端国際共同研究推進事業について", ["aspire"]),
    ("海外特別研究員と外国人特別研究員の違い", ["overseas-fellowship", "foreign-fellowship"]),
    ("海外特別研究員-RRAの開始年度", ["overseas-fellowship-rra"]),
    ("sicorp と Satreps", ["sicorp", "satreps"]),
    ("ＬＯＴＵＳの支援期間", ["lotus"]),
    ("information science for society", []),  # 'fos' inside words is no mention
    ("さくらサイエンスプラン", []),
])
def test_find_program_mentions(catalog, text, expected):
    assert find_program_mentions(text, catalog) == expected


def test_mentions_are_fast(catalog):
    find_program_mentions("warm up", catalog)
    start = time.perf_counter()
    for _ in range(200):
        find_program_mentions("先端国際共同研究推進事業とSICORPとNEXUSの違いを教えてください。" * 3, catalog)
    assert (time.perf_counter() - start) / 200 < 0.005


def test_catalog_is_cached_by_content(catalog):
    assert build_catalog(CORPUS) is catalog


def copy_corpus(tmp_path: Path) -> Path:
    dst = tmp_path / "corpus"
    dst.mkdir()
    for p in CORPUS.glob("*"):
        shutil.copy(p, dst / p.name)
    return dst


def test_inserted_lines_are_reported_as_moved(tmp_path, catalog):
    corpus = copy_corpus(tmp_path)
    for name in (BUDGET, STRATEGY):
        path = corpus / name
        path.write_text("挿入1\n挿入2\n挿入3\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    moved = build_catalog(corpus)
    assert assert_all_cited(moved, corpus) == sum(1 for _ in all_facts(catalog))
    assert moved.problems and all(p.startswith("移動") for p in moved.problems)
    assert any(STRATEGY in p and "620–620 行から 623–623 行" in p for p in moved.problems)
    old = {(p.id, fld, f.value): f.line_start for p, fld, f in all_facts(catalog)}
    for p, fld, f in all_facts(moved):
        assert f.line_start == old[(p.id, fld, f.value)] + 3, (p.id, fld, f.value)
    sicorp = {(b.kind, b.amount, b.fact.line_start) for b in moved.get("sicorp").budgets}
    assert ("予算額（案）", "1,073百万円", 35) in sicorp


def test_deleted_line_is_reported_as_vanished(tmp_path):
    corpus = copy_corpus(tmp_path)
    path = corpus / STRATEGY
    lines = path.read_text(encoding="utf-8").splitlines()
    idx = next(i for i, x in enumerate(lines) if "総予算は955億" in x)
    path.write_text("\n".join(lines[:idx] + lines[idx + 1:]) + "\n", encoding="utf-8")
    cat = build_catalog(corpus)
    assert any(p.startswith("消失") and "総予算は955億€" in p and STRATEGY in p for p in cat.problems)
    assert not cat.get("horizon-europe").amount
    assert any(p.startswith("移動") for p in cat.problems)  # later lines moved up by one
    assert_all_cited(cat, corpus)


def test_unreadable_file_is_skipped(tmp_path):
    corpus = copy_corpus(tmp_path)
    (corpus / BUDGET).write_bytes(b"\xff\xfe\x00broken")
    cat = build_catalog(corpus)
    assert any(p.startswith("読み込み不可") and BUDGET in p for p in cat.problems)
    assert cat.get("lotus") is not None and cat.get("sicorp") is None
    assert all(f.source == STRATEGY for _, _, f in all_facts(cat))


def test_data_file_is_reviewed_format():
    import json
    raw = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    for prog in raw["programs"]:
        for key, value in prog.items():
            if key in ("id", "kind", "parent"):
                continue
            for fact in ([value] if key == "name" else value):
                assert isinstance(fact[0], str) and fact[1] in raw["files"] and isinstance(fact[2], int)
