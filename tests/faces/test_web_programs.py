"""The 「制度をさがす」 tab: filters from the catalog's tags, a comparison table whose every cell is
linked to the cited lines that contain its value, escaping, and the tab in a real browser.

The browser test (``-m browser``) starts the app on a free loopback port and drives Debian's
headless Chromium through Playwright; its screenshot goes to tests/artifacts/programs_tab.png.
"""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import launch_chromium

from stiqa.catalog.records import Budget, Catalog, Fact, Program, match_key

from stiqa.catalog.build import build_catalog

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus"
BUDGET_FILE = "mext_fy2023_budget_international.md"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return build_catalog(CORPUS)


def _ids(selection) -> list[str]:
    return [p.id for p in selection.programs]


def _columns(html: str) -> int:
    return html.count('<th class="stiqa-prog">')


# ---------------------------------------------------------------- filters and selection


def test_filter_choices_are_the_catalogs_tags(catalog):
    from stiqa.web.programs_tab import FILTER_KINDS, filter_choices

    choices = filter_choices(catalog)
    assert [k for k, _ in FILTER_KINDS] == list(choices)
    for kind, opts in choices.items():
        carried = {t for p in catalog.programs for t in p.tags(kind)}
        assert {v for _, v in opts} == carried, kind  # every tag the catalog carries, and nothing else
    audience = [v for _, v in choices["audience"]]
    assert "博士後期課程学生" in audience and audience.index("高校生") < audience.index("トップ研究者")
    assert ("送り出し（日本から海外へ）", "送り出し") in choices["direction"]
    assert choices["regions"][-1][1] == "全世界"  # 「問わない」 comes last


def test_audience_filter_finds_the_phd_program(catalog):
    from stiqa.web.programs_tab import programs_table_html, select_programs

    sel = select_programs(catalog, audience=["博士後期課程学生"])
    assert "overseas-challenge" in _ids(sel)
    assert all("博士後期課程学生" in p.tags("audience") for p in sel.programs)
    html = programs_table_html(catalog, sel)
    assert "若手研究者海外挑戦プログラム" in html and "3ヶ月~1年程度" in html and "博士後期課程学生等" in html
    assert BUDGET_FILE in html  # the cited passages name their file
    assert _columns(html) == len(sel.programs)


def test_filters_combine_and_open_programs_count_for_any_region(catalog):
    from stiqa.web.programs_tab import select_programs

    ids = _ids(select_programs(catalog, direction=["受け入れ"], regions=["インド"]))
    assert "lotus" in ids and "foreign-fellowship" in ids  # LOTUS: India; 外国人研究者招へい: 国籍を問わず
    assert "overseas-challenge" not in ids and "sicorp" not in ids
    both = _ids(select_programs(catalog, audience=["高校生", "ポスドク"]))  # within a filter: either
    assert {"youth-science-exchange", "nexus", "overseas-fellowship"} <= set(both)
    assert _ids(select_programs(catalog, audience=["高校生"], direction=["送り出し"])) == []
    sel = select_programs(catalog, audience=["高校生"], direction=["送り出し"])
    assert "見当たりません" in sel.empty_message


def test_period_filter(catalog):
    from stiqa.web.programs_tab import select_programs

    two_years = _ids(select_programs(catalog, period="2年"))
    assert "overseas-fellowship" in two_years and "foreign-fellowship" in two_years
    assert "youth-science-exchange" not in two_years and "hope" not in two_years  # no period stated
    assert "youth-science-exchange" in _ids(select_programs(catalog, period="2週間"))
    vague = select_programs(catalog, period="いつでも")
    assert len(vague.programs) == len(catalog.programs) and "読み取れなかった" in vague.notes[0]


def test_situation_box_uses_the_finder(catalog):
    from stiqa.catalog.finder import NO_MATCH
    from stiqa.web.programs_tab import programs_table_html, select_programs

    sel = select_programs(catalog, situation="博士課程 3か月 海外")
    assert _ids(sel)[0] == "overseas-challenge"
    assert "博士後期課程学生" in sel.notes[0] and "3か月" in sel.notes[0]
    html = programs_table_html(catalog, sel)
    assert "合う理由" in html and "期間（3ヶ月~1年程度）" in html
    # filters narrow the finder's list further
    narrowed = select_programs(catalog, regions=["インド"], situation="大学院生を受け入れたい")
    assert "lotus" in _ids(narrowed) and all(p.tags("regions") & {"インド", "全世界"} for p in narrowed.programs)
    assert set(narrowed.reasons) >= set(_ids(narrowed))
    none = select_programs(catalog, situation="小学生の理科教育を国内だけで充実させたい")
    assert none.programs == () and none.empty_message == NO_MATCH
    assert NO_MATCH in programs_table_html(catalog, none)


def test_chosen_programs_and_column_cap(catalog):
    from stiqa.web.programs_tab import MAX_COLUMNS, programs_table_html, select_programs

    sel = select_programs(catalog, chosen=["satreps", "sicorp"])
    assert set(_ids(sel)) == {"sicorp", "satreps"}
    html = programs_table_html(catalog, sel)
    assert "1,073百万円" in html and "1,878百万円" in html and "令和5年度 予算額（案）" in html
    everything = programs_table_html(catalog, select_programs(catalog))
    assert _columns(everything) == MAX_COLUMNS and "ほかに該当する制度" in everything
    assert "ホライズン・ヨーロッパへの準参加" in everything  # named below the table, not lost


# ---------------------------------------------------------------- citations and 資料に記載なし


def test_every_cell_cites_lines_containing_its_value(catalog):
    from stiqa.web.programs_tab import PROGRAM_ROWS, cited_passage, comparison_cells

    n = 0
    for p in catalog.programs:
        assert match_key(p.name.value) in match_key(cited_passage(CORPUS, p.name))
        for row, _ in PROGRAM_ROWS:
            for cell in comparison_cells(p, row):
                assert cell.value == cell.fact.value
                passage = cited_passage(CORPUS, cell.fact)
                assert match_key(cell.value) in match_key(passage), (p.id, row, cell.fact)
                n += 1
    assert n > 150


def test_links_lead_to_passages_in_the_panel(catalog):
    from stiqa.web.programs_tab import programs_table_html, select_programs

    html = programs_table_html(catalog, select_programs(catalog, chosen=["overseas-challenge", "lotus"]))
    targets = set(re.findall(r'href="#(stiqa-src-\d+)"', html))
    ids = set(re.findall(r'id="(stiqa-src-\d+)"', html))
    assert targets and targets == ids  # every link has its passage, every passage is linked
    # the PhD program's period cell links to the scheme row that states it (file, line, passage)
    m = re.search(r'href="#(stiqa-src-\d+)" title="([^"]+)">3ヶ月~1年程度', html)
    assert m and m.group(2) == f"{BUDGET_FILE} L425"
    card = html[html.index(f'id="{m.group(1)}"'):]
    card = card[:card.index("</div></div>")]
    assert BUDGET_FILE in card and "L425" in card and "<mark>3ヶ月~1年程度</mark>" in card
    # what the documents do not state is said so
    assert html.count("資料に記載なし") >= 3  # e.g. 海外挑戦: 支援額・実施機関, LOTUS: 実施機関


def test_absent_values_read_not_stated(catalog):
    from stiqa.web.programs_tab import NOT_STATED, PROGRAM_ROWS, programs_table_html, select_programs

    html = programs_table_html(catalog, select_programs(catalog, chosen=["overseas-challenge"]))
    rows = dict(re.findall(r'<th class="stiqa-rowhead">([^<]+)</th><td>(.*?)</td></tr>', html))
    assert set(rows) == {label for _, label in PROGRAM_ROWS}
    assert NOT_STATED in rows["支援額"] and NOT_STATED in rows["実施機関"] and NOT_STATED in rows["相手国・地域"]
    assert "140人" in rows["採用人数・件数"] and "平成29年度" in rows["開始"] and "265百万円" in rows["予算"]


# ---------------------------------------------------------------- escaping


def test_document_text_is_escaped(tmp_path):
    from stiqa.web.programs_tab import programs_table_html, select_programs

    evil = "<script>alert(1)</script>"
    lines = ["# 事業<b>X</b>", f"支援対象者\t博士後期課程学生 {evil}", "支援額\t100万円 & <img src=x onerror=alert(2)>"]
    (tmp_path / "evil.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    name = Fact("事業<b>X</b>", "evil.md", 1, 1)
    aud = Fact(f"博士後期課程学生 {evil}", "evil.md", 2, 2, ("博士後期課程学生",))
    amount = Fact("100万円 & <img src=x onerror=alert(2)>", "evil.md", 3, 3)
    prog = Program("evil", "program", "", name, aliases=(Fact("EVIL", "evil.md", 1, 1),), audience=(aud,),
                   amount=(amount,), budgets=(Budget("令和5年度", "予算額<i>", "100万円", "", Fact("100万円", "evil.md", 3, 3)),))
    cat = Catalog((prog,), ("移動: <u>x</u>",), str(tmp_path))
    html = programs_table_html(cat, select_programs(cat, audience=["博士後期課程学生"]))
    for tag in ("<script", "<img", "<b>", "<i>", "<u>"):
        assert tag not in html, tag
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "事業&lt;b&gt;X&lt;/b&gt;" in html and "&amp;" in html and "予算額&lt;i&gt;" in html
    assert "evil.md" in html and "L3" in html
    # the situation the user typed is text too
    sel = select_programs(cat, situation='<img src=x onerror="p()">博士課程')
    assert "<img" not in programs_table_html(cat, sel)


def test_view_never_raises(settings, tmp_path):
    from stiqa.web.programs_tab import programs_view

    assert "若手研究者海外挑戦プログラム" in programs_view(settings, ["博士後期課程学生"])
    assert "長すぎます" in programs_view(settings, situation="あ" * (settings.max_question_chars + 1))
    missing = programs_view(replace(settings, corpus_dir=tmp_path / "none"))
    assert "コーパス" in missing and "Traceback" not in missing


# ---------------------------------------------------------------- the tab in a browser


@pytest.mark.browser
def test_programs_tab_in_browser(web_url, artifacts):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(web_url)
        page.get_by_role("tab", name="制度をさがす").click()
        page.wait_for_selector("#stiqa-programs .stiqa-cmp", timeout=60_000)  # the unfiltered overview
        page.locator("#stiqa-f-audience").get_by_label("博士後期課程学生").check()
        page.wait_for_function("document.querySelector('#stiqa-programs').innerText.includes('該当 4 件')",
                               timeout=60_000)
        out = page.locator("#stiqa-programs")
        text = out.inner_text()
        assert "若手研究者海外挑戦プログラム" in text and "3ヶ月~1年程度" in text
        assert BUDGET_FILE in text and "資料に記載なし" in text
        assert "先端国際共同研究推進事業" not in text  # filtered out
        # a cell's link brings its cited passage into view, highlighted
        page.locator("a.stiqa-cite", has_text="3ヶ月~1年程度").click()
        target = page.locator(".stiqa-src:target")
        target.wait_for(timeout=10_000)
        assert "L425" in target.inner_text() and target.locator("mark").inner_text() == "3ヶ月~1年程度"
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(artifacts / "programs_tab.png"), full_page=True)
        # the situation box: typed text is text, and the finder ranks
        page.fill("#stiqa-situation textarea", '<img src=x onerror="window.__pwned=1">博士課程 3か月 海外')
        page.locator("#stiqa-situation textarea").press("Enter")
        page.wait_for_function("document.querySelector('#stiqa-programs').innerText.includes('合う理由')",
                               timeout=60_000)
        assert page.evaluate("window.__pwned") is None
        assert "若手研究者海外挑戦プログラム" in out.inner_text()
        out.screenshot(path=str(artifacts / "programs_tab_situation.png"))
        browser.close()
