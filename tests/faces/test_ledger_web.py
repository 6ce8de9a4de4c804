"""The 「数値一覧」 tab's pieces: the table whose rows open their cited lines, the CSV download, the
chart of one subject over its fiscal years (each point cited), bad filters as messages, and the
documents tab's report of what a new document changes."""
from __future__ import annotations

import pytest

import csv
import json
import shutil

from ledger_corpora import EXCERPT, FIXTURES, FY2025, SEED, revised, two_years  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow  # private indexes of two real documents, built per module


def test_table_rows_open_their_cited_lines(settings):
    from stiqa.web.figures_tab import figures_view

    table, path, plot, _ = figures_view(settings, "SICORP", "令和5年度", "money")
    assert "1,073百万円" in table and f"{SEED} L32" in table
    assert "<details" in table and "令和5年度予算額（案）：1,073百万円" in table  # the cited line itself
    rows = list(csv.DictReader(open(path, encoding="utf-8-sig")))
    assert [(r["as_written"], r["source"], r["line_start"]) for r in rows] == [("1,073百万円", SEED, "32")]
    assert plot["visible"] is False  # one year: no chart


def test_a_subject_over_two_real_documents_gets_a_cited_chart(two_years):
    from stiqa.web.figures_tab import chart_rows, figures_view
    from stiqa.ledger.update import read_ledger

    rows = chart_rows([r for r in read_ledger(two_years.index_dir).records
                       if r.subject == "科学技術イノベーションの戦略的国際展開"])
    years = {r["年度"] for r in rows}
    assert {2022, 2023, 2024, 2025} <= years
    assert all(r["出典"] for r in rows)
    assert any(FY2025.name in r["出典"] for r in rows) and any(SEED in r["出典"] for r in rows)
    _, _, plot, points = figures_view(two_years, "科学技術イノベーションの戦略的国際展開", "", "")
    assert plot["visible"] is True and len(plot["value"]) == len(rows)
    assert "168億円" in points and FY2025.name in points


def test_bad_filters_are_messages_not_tracebacks(settings):
    from stiqa.web.figures_tab import figures_view

    for args, words in ((("ムーンショット型研究", "", ""), "資料にありません"), (("", "abc", ""), "年度の指定が読めません"),
                        (("SICORP", "1999", ""), "資料にある年度")):
        table, path, plot, _ = figures_view(settings, *args)
        assert "stiqa-error" in table and words in table and "Traceback" not in table
        assert path is None and plot["visible"] is False


def test_the_documents_tab_reports_what_an_upload_changes(revised, tmp_path):
    from stiqa.config import load_settings
    from stiqa.web.documents_tab import reindex

    shutil.copytree(revised.corpus_dir, tmp_path / "corpus")
    shutil.copytree(revised.index_dir, tmp_path / "index")
    s = load_settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    shutil.copy(FIXTURES / "v2" / EXCERPT, s.corpus_dir / EXCERPT)
    msg, _ = reindex(s)
    assert "値が変わりました" in msg and "1,900百万円" in msg and "1,950百万円" in msg
    msg, _ = reindex(s)  # nothing changed since: no stale report
    assert "値が変わりました" not in msg


def test_the_app_has_the_figures_tab(settings):
    from stiqa.web.app import build_app

    config = json.dumps(build_app(settings).config, ensure_ascii=False, default=str)
    assert "数値一覧" in config and "stiqa-fig-table" in config


import pytest  # noqa: E402

from conftest import launch_chromium  # noqa: E402


@pytest.mark.browser
def test_figures_tab_in_browser(web_url, artifacts):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.goto(web_url)
        page.get_by_role("tab", name="数値一覧").click()
        page.fill("#stiqa-fig-subject input", "科学技術イノベーションの戦略的国際展開")
        page.keyboard.press("Enter")
        page.click("#stiqa-fig-show")
        page.wait_for_selector("#stiqa-fig-table table", timeout=60_000)
        page.wait_for_selector("#stiqa-fig-chart canvas, #stiqa-fig-chart svg", timeout=60_000)
        table = page.inner_text("#stiqa-fig-table")
        assert "141億円" in table and "138億円" in table and "mext_fy2023_budget_international.md L5" in table
        page.locator("#stiqa-fig-table summary").first.click()
        assert "▶" in page.inner_text("#stiqa-fig-table")  # the cited line, marked
        assert "mext_fy2023_budget_international.md L5" in page.inner_text("#stiqa-fig-points")
        page.screenshot(path=str(artifacts / "web_figures.png"), full_page=True)
        page.fill("#stiqa-fig-year textarea, #stiqa-fig-year input", "abc")
        page.keyboard.press("Enter")
        page.wait_for_selector("#stiqa-fig-table .stiqa-error", timeout=30_000)
        assert "年度の指定が読めません" in page.inner_text("#stiqa-fig-table")
        browser.close()
