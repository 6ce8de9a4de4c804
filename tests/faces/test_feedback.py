"""Answer ratings and conversation export: the store on its own (concurrent writers lose nothing),
the draft evaluation questions, and the buttons in headless Chromium against a real app."""
from __future__ import annotations

import json
import threading
from dataclasses import replace

import pytest

from conftest import free_port, launch_chromium
from stiqa.chat import feedback


def _answer(assistant, q="SICORPの令和5年度予算額（案）はいくらですか？"):
    return assistant.ask(q)


def test_concurrent_ratings_are_all_kept_whole(tmp_path, assistant):
    path = tmp_path / "fb" / "feedback.jsonl"
    ans = _answer(assistant)

    def writer(n):
        for i in range(25):
            feedback.record(path, feedback.entry(f"q{n}-{i}", ["前の質問"], ans, "down" if i % 2 else "up", "x" * 500))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 200 and all(json.loads(line)["comment"] == "x" * 500 for line in lines)
    assert len(feedback.load(path)) == 200


def test_thumbs_down_become_draft_eval_questions(tmp_path, assistant):
    ans = _answer(assistant)
    items = [feedback.entry("良い質問", [], ans, "up"), feedback.entry("悪い回答の質問", ["前"], ans, "down", "金額が違う")]
    drafts = feedback.to_eval(items)
    assert len(drafts) == 1
    d = drafts[0]
    assert {"id", "question", "history", "expect", "source", "type", "abstain"} <= d.keys()
    assert d["question"] == "悪い回答の質問" and d["history"] == ["前"] and d["expect"] == []
    assert d["source"] == "mext_fy2023_budget_international" and "金額が違う" in d["note"]
    with pytest.raises(ValueError):
        feedback.entry("q", [], ans, "maybe")


def test_a_broken_line_is_skipped_not_fatal(tmp_path):
    path = tmp_path / "feedback.jsonl"
    path.write_text('{"verdict": "up", "question": "a"}\n{broken\n', encoding="utf-8")
    assert [i["question"] for i in feedback.load(path)] == ["a"]


def test_conversation_markdown_has_questions_answers_and_quoted_citations(assistant):
    conv = assistant.chat()
    conv.ask("SATREPSって何？")
    conv.ask("その予算は？")
    md = feedback.conversation_markdown(conv.turns)
    assert md.startswith("# stiqa 会話記録")
    assert "## 1. SATREPSって何？" in md and "## 2. その予算は？" in md
    assert "1,878百万円" in md and "`mext_fy2023_budget_international.md` L" in md and "\n> " in md


def test_cli_lists_and_exports_feedback(tmp_path, assistant, settings):
    import subprocess
    import sys

    fb = tmp_path / "fb"
    feedback.record(fb / "feedback.jsonl", feedback.entry("SATREPSの予算？", [], _answer(assistant), "down", "違う"))
    env = {"STIQA_FEEDBACK_DIR": str(fb), "STIQA_INDEX_DIR": str(settings.index_dir), "PATH": "/usr/bin:/bin"}
    run = lambda *a: subprocess.run([sys.executable, "-m", "stiqa.cli", "feedback", *a], capture_output=True,  # noqa: E731
                                    text=True, env=env, timeout=60)
    out = run()
    assert out.returncode == 0 and "👎" in out.stdout and "SATREPSの予算？" in out.stdout
    drafts = tmp_path / "drafts.jsonl"
    assert run("--to-eval", str(drafts)).returncode == 0
    assert json.loads(drafts.read_text(encoding="utf-8").splitlines()[0])["question"] == "SATREPSの予算？"


@pytest.fixture(scope="module")
def rated_app(settings, tmp_path_factory):
    from stiqa.web.app import launch

    fb = tmp_path_factory.mktemp("feedback")
    s = replace(settings, host="127.0.0.1", port=free_port(), feedback_dir=fb)
    demo = launch(s, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{s.port}/", fb
    demo.close()


@pytest.mark.browser
def test_rate_and_export_in_browser(rated_app, artifacts, tmp_path):
    from playwright.sync_api import sync_playwright

    url, fb = rated_app
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 1280, "height": 1300}, accept_downloads=True)
        page.goto(url)
        page.wait_for_selector("#stiqa-question textarea")
        for q in ("SATREPSって何？", "その予算は？"):
            n = page.locator(".stiqa-answer").count()
            page.fill("#stiqa-question textarea", q)
            page.keyboard.press("Enter")
            page.wait_for_function(f"document.querySelectorAll('.stiqa-answer').length > {n}", timeout=60_000)
        # the answer's events are over once the export button holds the conversation
        page.wait_for_function("!document.querySelector('#stiqa-export').disabled", timeout=30_000)
        page.wait_for_timeout(500)
        page.fill("#stiqa-feedback-comment textarea", "前年度の額も欲しい")
        page.locator("#stiqa-chat button[aria-label='よくない']").last.click()
        page.wait_for_selector("#stiqa-feedback-notice:has-text('を記録しました')", timeout=30_000)
        assert page.locator("#stiqa-chat button[aria-label='よくない（評価済み）']").count() == 1
        items = feedback.load(fb / "feedback.jsonl")
        assert len(items) == 1 and items[0]["verdict"] == "down"
        assert items[0]["question"] == "その予算は？" and items[0]["history"] == ["SATREPSって何？"]
        assert items[0]["comment"] == "前年度の額も欲しい" and "1,878百万円" in items[0]["answer"]
        with page.expect_download() as dl:
            page.click("#stiqa-export")
        saved = tmp_path / "conv.md"
        dl.value.save_as(saved)
        md = saved.read_text(encoding="utf-8")
        assert "## 2. その予算は？" in md and "1,878百万円" in md
        page.screenshot(path=str(artifacts / "web_feedback.png"), full_page=True)
        browser.close()
