"""The web page under real use (issue 19), in headless Chromium at a desktop width and a phone's:
ratings land on the turn they were given for, copy gives plain text, labels are plain Japanese,
the page fits a phone, and no English or raw value shows in the Japanese page."""
from __future__ import annotations

import re
import pytest
from conftest import launch_chromium, open_tab
from test_feedback import rated_app  # noqa: F401  (the app on loopback, recording ratings in a temporary folder)

from stiqa.chat import feedback

BUDGET_FILE = "mext_fy2023_budget_international.md"
WIDTHS = [1280, 390]
ENGLISH = re.compile(r"\b(Copy message|Copied message|More tabs|Liked?|Disliked?|Clear|Error|Loading|Invalid file|"
                     r"exceed|processing)\b")
#: every text and label the page ever shows, recorded as it appears (so a status that comes and
#: goes during an answer is caught without timing it)
RECORDER = """
window.__seen = new Set();
const shown = [];  // read back at the next frame: what was painted, after the page's own scripts ran
const note = (get) => { shown.push(get); if (shown.length === 1) requestAnimationFrame(flush); };
const flush = () => { for (const get of shown.splice(0)) { const t = get(); if (t && t.trim()) window.__seen.add(t.trim()); } };
const code = (x) => x && ['SCRIPT', 'STYLE', 'HEAD', 'TITLE'].includes(x.nodeName);
new MutationObserver((ms) => { for (const m of ms) {
  if (m.type === 'attributes') { const el = m.target, a = m.attributeName; note(() => el.getAttribute(a)); }
  if (m.type === 'characterData') { const t = m.target; note(() => t.data); }
  for (const n of m.addedNodes || []) {
    if (code(n) || code(n.parentNode)) continue;  // the page's own code is not text it shows
    note(() => n.nodeType === 3 ? n.data : n.innerText);
  }
}}).observe(document, {subtree: true, childList: true, characterData: true, attributes: true,
                       attributeFilter: ['aria-label', 'title']});
"""


def _page(p, url, width):
    browser = launch_chromium(p)
    ctx = browser.new_context(viewport={"width": width, "height": 900 if width > 500 else 844})
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=url.rstrip("/"))
    ctx.add_init_script(RECORDER)
    page = ctx.new_page()
    page.goto(url)
    page.wait_for_selector("#stiqa-question textarea")
    return browser, page


def _ask(page, question):
    n = page.locator(".stiqa-answer").count()
    page.fill("#stiqa-question textarea", question)
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelectorAll('.stiqa-answer').length > {n}", timeout=60_000)
    # the answer's events are over once the export button reflects the conversation
    page.wait_for_function("document.querySelector('#stiqa-question textarea').value === ''", timeout=30_000)


def _rate(page, fb, verdict, n_before):
    label = "よい" if verdict == "up" else "よくない"
    page.locator(f"#stiqa-chat button[aria-label='{label}']:visible").last.click()
    page.wait_for_function(f"document.querySelector('#stiqa-feedback-notice').innerText.includes('を記録しました')",
                           timeout=30_000)
    for _ in range(100):
        items = feedback.load(fb / "feedback.jsonl")
        if len(items) > n_before:
            return items[-1]
        page.wait_for_timeout(100)
    raise AssertionError("no rating recorded")


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
def test_ratings_land_on_the_turn_rated_and_clearing_starts_anew(rated_app, artifacts, width):
    from playwright.sync_api import sync_playwright

    url, fb = rated_app
    n = len(feedback.load(fb / "feedback.jsonl"))
    with sync_playwright() as p:
        browser, page = _page(p, url, width)
        _ask(page, "   ")  # an input message first: no turn, no rating buttons, no shift
        assert page.locator("#stiqa-chat .message-row:has(.stiqa-error) button[aria-label='よい']:visible").count() == 0
        _ask(page, "SATREPSって何？")
        _ask(page, "その予算は？")
        item = _rate(page, fb, "down", n)
        assert item["question"] == "その予算は？" and item["history"] == ["SATREPSって何？"]
        assert "1,878百万円" in item["answer"]
        page.get_by_role("button", name="会話をクリア").click()  # the chat's trash icon
        page.wait_for_function("document.querySelectorAll('#stiqa-chat .stiqa-answer').length === 0")
        _ask(page, "その予算は？")  # a new conversation: nothing hidden to read it against
        _ask(page, "SICORPの令和5年度予算額（案）はいくらですか？")
        item = _rate(page, fb, "up", n + 1)
        assert item["question"] == "SICORPの令和5年度予算額（案）はいくらですか？"
        assert item["history"] == ["その予算は？"] and "1,073百万円" in item["answer"]
        page.screenshot(path=str(artifacts / f"web_ratings_{width}.png"), full_page=True)
        browser.close()


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
def test_copy_gives_plain_text_and_labels_hold_no_markup(rated_app, artifacts, width):
    from playwright.sync_api import sync_playwright

    url, _ = rated_app
    with sync_playwright() as p:
        browser, page = _page(p, url, width)
        _ask(page, "SICORPの令和5年度予算額（案）はいくらですか？")
        page.locator("#stiqa-chat .bot-row button[aria-label='回答をコピー']:visible").last.click()
        copied = page.evaluate("navigator.clipboard.readText()")
        assert "<" not in copied and "stiqa-answer" not in copied
        assert "1,073百万円" in copied and f"[1] {BUDGET_FILE} L" in copied
        labels = page.evaluate("[...document.querySelectorAll('#stiqa-chat [aria-label]')].map(e => e.getAttribute('aria-label'))")
        assert labels and not [x for x in labels if "<" in x or "&lt;" in x or "'s message" in x]
        assert any(x.startswith("回答：") and "1,073百万円" in x for x in labels)
        assert "質問：SICORPの令和5年度予算額（案）はいくらですか？" in labels
        page.screenshot(path=str(artifacts / f"web_copy_{width}.png"))
        browser.close()


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
def test_the_page_fits_the_screen(rated_app, artifacts, width):
    from playwright.sync_api import sync_playwright

    url, _ = rated_app
    with sync_playwright() as p:
        browser, page = _page(p, url, width)
        # no floating label over the chat's placeholder or its first answer
        assert page.locator("#stiqa-chat [data-testid='block-label']:visible").count() == 0
        _ask(page, "SATREPSって何？")
        page.get_by_role("tab", name="文書と索引").click()
        page.wait_for_selector("text=チャンク数")
        fits = "document.documentElement.scrollWidth <= window.innerWidth"
        assert page.evaluate(fits)
        widths = page.evaluate("[...document.querySelectorAll('.stiqa-docs td.stiqa-doctitle')].map(e => e.getBoundingClientRect().width)")
        assert widths and min(widths) >= min(200, width * 0.5), widths  # a title reads as a title
        docs = page.locator(".stiqa-docs")
        assert docs.evaluate("e => e.scrollWidth <= e.clientWidth + 1")  # nothing clipped
        page.screenshot(path=str(artifacts / f"web_documents_{width}.png"), full_page=True)
        open_tab(page, "制度をさがす")
        page.fill("#stiqa-situation textarea", "博士課程 3か月 海外")
        page.click("#stiqa-find")
        page.wait_for_selector("#stiqa-programs :text('該当')")
        # the results come into view, whatever the filters above them take
        page.wait_for_function("(() => { const r = document.getElementById('stiqa-programs').getBoundingClientRect();"
                               " return r.top < window.innerHeight && r.bottom > 0; })()", timeout=10_000)
        page.screenshot(path=str(artifacts / f"web_finder_{width}.png"))
        browser.close()


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
def test_the_page_speaks_japanese(rated_app, artifacts, tmp_path, width):
    from playwright.sync_api import sync_playwright

    url, _ = rated_app
    with sync_playwright() as p:
        browser, page = _page(p, url, width)
        _ask(page, "SICORPの令和5年度予算額（案）はいくらですか？")
        page.get_by_role("tab", name="文書と索引").click()
        page.wait_for_selector("text=チャンク数")
        body = page.inner_text("body")
        assert re.search(r"作成日時\s*\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d", body), body[:2000]
        assert "+0000" not in body and "FY2023" not in body and " 0 KB" not in body
        assert "Use via API" not in body
        if width > 500:  # a phone's footer shows no API link at all
            assert "APIで使う" in page.inner_text("footer")
        assert "令和5年度" in page.inner_text(".stiqa-docs")
        doc = tmp_path / "memo.docx"
        doc.write_bytes(b"PK\x03\x04 a word file")
        page.set_input_files("#stiqa-upload input[type=file]", str(doc))
        page.wait_for_timeout(1000)  # let the browser finish sending the file before the click
        page.click("#stiqa-upload-btn")
        page.wait_for_selector("#stiqa-report:has-text('追加できるのは')", timeout=30_000)
        page.screenshot(path=str(artifacts / f"web_japanese_{width}.png"), full_page=True)
        seen = page.evaluate("[...window.__seen]")
        labels = page.evaluate("[...document.querySelectorAll('[aria-label],[title]')]"
                               ".map(e => (e.getAttribute('aria-label') || '') + ' ' + (e.getAttribute('title') || ''))")
        english = sorted({t[:120] for t in [*seen, *labels] for m in [ENGLISH.search(t)] if m})
        assert not english, english
        browser.close()
