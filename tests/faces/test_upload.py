"""Adding a document from the page: safe names, limits, no overwrite without consent, and in
headless Chromium a real upload that is indexed and then answered from."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from conftest import free_port, launch_chromium
from stiqa.ingest.upload import MAX_BYTES, add_document, safe_name
from stiqa.errors import UploadError

NOTE = "# 架空研究交流事業の概要\n\n架空研究交流事業の令和6年度予算額は12億円である。\n"


@pytest.mark.parametrize("given, stored", [
    ("report.md", "report.md"), ("../../etc/passwd.txt", "passwd.txt"), ("C:\\Users\\a\\資料 1.PDF", "資料_1.pdf"),
    ("a<b>.md", "a_b.md"), ("..md", "document.md"),
])
def test_names_are_base_names_with_safe_characters(given, stored):
    assert safe_name(given) == stored


@pytest.mark.parametrize("bad", ["script.py", "noext", "README.md", "readme.txt"])
def test_other_files_are_refused_with_a_reason(bad):
    with pytest.raises(UploadError):
        safe_name(bad)


def test_add_writes_only_inside_the_corpus_and_never_over_a_file_unasked(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    src = tmp_path / "up.md"
    src.write_text(NOTE, encoding="utf-8")
    saved = add_document(corpus, src, "../note.md")
    assert saved == (corpus / "note.md").resolve() and saved.read_text(encoding="utf-8") == NOTE
    with pytest.raises(UploadError, match="同じ名前"):
        add_document(corpus, src, "note.md")
    src.write_text(NOTE + "追記\n", encoding="utf-8")
    assert "追記" in add_document(corpus, src, "note.md", overwrite=True).read_text(encoding="utf-8")
    assert sorted(p.name for p in corpus.iterdir()) == ["note.md"]  # no temporary file left


def test_unreadable_empty_or_huge_files_are_refused(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    bad = tmp_path / "x.pdf"
    bad.write_bytes(b"not a pdf")
    with pytest.raises(UploadError, match="PDF"):
        add_document(corpus, bad, "x.pdf")
    empty = tmp_path / "e.md"
    empty.write_text("  \n", encoding="utf-8")
    with pytest.raises(UploadError, match="空"):
        add_document(corpus, empty, "e.md")
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * (MAX_BYTES + 1))
    with pytest.raises(UploadError, match="大きすぎ"):
        add_document(corpus, big, "big.txt")
    assert list(corpus.iterdir()) == []


@pytest.fixture()
def private_app(corpus_copy):
    from stiqa.index.build import build_index
    from stiqa.web.app import launch

    build_index(corpus_copy)
    s = replace(corpus_copy, host="127.0.0.1", port=free_port())
    demo = launch(s, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{s.port}/", s
    demo.close()


@pytest.mark.browser
@pytest.mark.slow
def test_upload_a_document_and_ask_about_it_in_browser(private_app, tmp_path, artifacts):
    from playwright.sync_api import sync_playwright

    url, s = private_app
    doc = tmp_path / "kakuu_note.md"
    doc.write_text(NOTE, encoding="utf-8")
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.goto(url)
        page.get_by_role("tab", name="文書と索引").click()
        page.set_input_files("#stiqa-upload input[type=file]", str(doc))
        page.wait_for_timeout(1500)
        page.click("#stiqa-upload-btn")
        page.wait_for_selector("#stiqa-report:has-text('追加しました')", timeout=120_000)
        assert "kakuu_note.md" in page.inner_text("body")
        assert (s.corpus_dir / "kakuu_note.md").read_text(encoding="utf-8") == NOTE
        page.screenshot(path=str(artifacts / "web_upload.png"), full_page=True)
        page.get_by_role("tab", name="質問する").click()
        page.fill("#stiqa-question textarea", "架空研究交流事業の令和6年度予算額は？")
        page.keyboard.press("Enter")
        page.wait_for_function("document.querySelectorAll('.stiqa-answer').length > 0", timeout=60_000)
        chat = page.locator("#stiqa-chat").inner_text()
        assert "12億円" in chat and "kakuu_note.md" in chat
        browser.close()


# ---------------------------------------------------------------- under real use (issue 19)


def test_a_broken_pdf_is_refused_with_the_reason_and_not_saved(tmp_path):
    import random

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n" + random.Random(5).randbytes(20_000))
    with pytest.raises(UploadError, match="索引に加えられない.*PDF"):
        add_document(corpus, broken, "broken.pdf")
    assert list(corpus.iterdir()) == []


def test_a_pdf_without_text_is_refused(tmp_path):
    from pypdf import PdfWriter

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    blank = tmp_path / "scan.pdf"
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    with blank.open("wb") as f:
        writer.write(f)
    with pytest.raises(UploadError, match="本文がありません"):
        add_document(corpus, blank, "scan.pdf")
    assert list(corpus.iterdir()) == []


def test_a_copy_of_a_document_already_there_is_refused(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "note.md").write_text(NOTE, encoding="utf-8")
    src = tmp_path / "up.md"
    src.write_text(NOTE, encoding="utf-8")
    with pytest.raises(UploadError, match="同じ内容.*note.md"):
        add_document(corpus, src, "other.md")  # the index would skip it as a duplicate
    assert add_document(corpus, src, "note.md", overwrite=True).name == "note.md"  # replacing itself is fine


def test_the_browsers_upload_is_deleted_whether_added_or_refused(corpus_copy, tmp_path, monkeypatch):
    from stiqa.web.documents_tab import add_uploaded

    uploads = tmp_path / "gradio"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(uploads))
    refused = uploads / "a1" / "big.docx"
    refused.parent.mkdir(parents=True)
    refused.write_bytes(b"PK\x03\x04 not ours")
    report, _, _ = add_uploaded(corpus_copy, str(refused), False)
    assert "追加できるのは" in report and not refused.exists() and not refused.parent.exists()
    outside = tmp_path / "elsewhere.md"  # a path outside Gradio's folder is never deleted
    outside.write_text(NOTE, encoding="utf-8")
    add_uploaded(corpus_copy, str(outside), False)
    assert outside.exists()


def test_gradio_refuses_a_file_over_the_limit_and_keeps_nothing(private_app, tmp_path):
    import gradio as gr
    import httpx

    url, _ = private_app
    folder = Path(gr.utils.get_upload_folder())
    before = {p for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()
    r = httpx.post(f"{url}gradio_api/upload", files={"files": ("big.md", b"a" * (15 * 1024 * 1024), "text/markdown")},
                   timeout=60)
    assert r.status_code >= 400
    after = {p for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()
    assert not [p for p in after - before if p.stat().st_size >= MAX_BYTES]


def test_the_report_says_left_out_for_a_file_that_stays(tmp_path):
    from types import SimpleNamespace

    from stiqa.web.documents_tab import report_text

    (tmp_path / "kept.pdf").write_bytes(b"%PDF")
    rep = SimpleNamespace(removed=["kept.pdf", "gone.md"],
                          summary=lambda: "索引を更新しました: 1 ファイル\n  削除: kept.pdf, gone.md")
    text = report_text(rep, tmp_path)
    assert "削除: gone.md" in text and "索引から除外（ファイルは corpus/ に残っています）: kept.pdf" in text
    assert "削除: kept.pdf" not in text
