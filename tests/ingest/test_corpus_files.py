"""Odd files dropped into corpus/: each is indexed or skipped with a one-line reason naming it,
and the rest of the corpus is indexed exactly as before.

One build covers them all: `python -m stiqa.cli ingest` on a private corpus copy (embedding cache
copied in, so only the new files' chunks are embedded). The unreadable file needs permission bits to
count; tests run as root, so that build runs under ``setpriv`` without CAP_DAC_OVERRIDE (root then
obeys mode 000 like anyone else); where setpriv cannot drop it the case is skipped, saying so.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stiqa.config import load_settings
from stiqa.index.build import build_index, current_generation, index_status, read_manifest
from stiqa.ingest.files import MAX_FILE_BYTES, load_corpus
from stiqa.records import Chunk

ROOT = Path(__file__).resolve().parents[2]

SJIS_TEXT = ("シフトJIS試験文書\n\n北極海観測ネットワーク事業\n令和5年度予算額（案）\n321百万円\n\n"
             "本事業は北極海の観測網を整備し、国際共同研究を推進するものである。\n")
BOM_TEXT = "# BOM付き試験資料\n\n## 南極氷床コア連携プログラム\n\n令和5年度予算額（案）\n\n47百万円\n"
PDF_PAGES = [
    [("Aurora Polar Program", False), ("オーロラ極地研究プログラム", True), ("令和5年度予算額（案）", True),
     ("512百万円", True)],
    [("Borealis Exchange", False), ("ボレアリス交流事業の支援期間は最大3年間である。", True)],
]


def make_pdf(pages: list[list[tuple[str, bool]]]) -> bytes:
    """A small PDF written by hand: Helvetica for ASCII, the Adobe-Japan1 CID font (not embedded,
    UniJIS-UCS2-H encoding) for Japanese, which text extractors map back to Unicode."""
    objs: dict[int, bytes] = {}
    n = len(pages)
    f_ascii, f_ja, cid, desc = 3 + 2 * n, 4 + 2 * n, 5 + 2 * n, 6 + 2 * n
    objs[1] = b"<< /Type /Catalog /Pages 2 0 R >>"
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n))
    objs[2] = f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode()
    for i, lines in enumerate(pages):
        ops = ["BT", "72 770 Td"]
        for text, ja in lines:
            if ja:
                ops.append(f"/F2 14 Tf <{text.encode('utf-16-be').hex().upper()}> Tj")
            else:
                esc = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
                ops.append(f"/F1 14 Tf ({esc}) Tj")
            ops.append("0 -24 Td")
        ops.append("ET")
        stream = "\n".join(ops).encode()
        objs[3 + 2 * i] = (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << "
                           f"/F1 {f_ascii} 0 R /F2 {f_ja} 0 R >> >> /Contents {4 + 2 * i} 0 R >>").encode()
        objs[4 + 2 * i] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
    objs[f_ascii] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
    objs[f_ja] = (f"<< /Type /Font /Subtype /Type0 /BaseFont /HeiseiMin-W3 /Encoding /UniJIS-UCS2-H "
                  f"/DescendantFonts [{cid} 0 R] >>").encode()
    objs[cid] = (f"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /HeiseiMin-W3 /CIDSystemInfo << /Registry "
                 f"(Adobe) /Ordering (Japan1) /Supplement 2 >> /FontDescriptor {desc} 0 R >>").encode()
    objs[desc] = (b"<< /Type /FontDescriptor /FontName /HeiseiMin-W3 /Flags 6 /FontBBox [0 -141 1000 859] "
                  b"/ItalicAngle 0 /Ascent 859 /Descent -141 /CapHeight 709 /StemV 69 >>")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for k in sorted(objs):
        offsets[k] = len(out)
        out += f"{k} 0 obj\n".encode() + objs[k] + b"\nendobj\n"
    xref, size = len(out), max(objs) + 1
    out += f"xref\n0 {size}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offsets[k]:010d} 00000 n \n".encode() for k in range(1, size))
    out += f"trailer\n<< /Size {size} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def _can_drop_dac(tmp: Path) -> bool:
    probe = tmp / "probe"
    probe.write_text("x")
    probe.chmod(0)
    try:
        r = subprocess.run(["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--", "cat", str(probe)],
                           capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    finally:
        probe.chmod(0o644)
    return r.returncode != 0 and b"Permission denied" in r.stderr


@pytest.fixture(scope="module")
def odd(tmp_path_factory, settings):
    """A corpus copy with every kind of odd file, built once through the CLI."""
    base = tmp_path_factory.mktemp("odd")
    corpus, index = base / "corpus", base / "index"
    shutil.copytree(settings.corpus_dir, corpus)
    index.mkdir()
    if (settings.index_dir / "embcache").is_dir():
        shutil.copytree(settings.index_dir / "embcache", index / "embcache")
    originals = sorted(p.name for p in corpus.iterdir() if p.is_file() and not p.name.upper().startswith("README"))
    (corpus / "sjis.txt").write_bytes(SJIS_TEXT.encode("cp932"))
    (corpus / "bom.md").write_bytes(BOM_TEXT.encode("utf-8-sig"))
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "blank.md").write_text(" \n\u3000\n\t\n", encoding="utf-8")
    (corpus / "binary.txt").write_bytes(bytes(range(256)) * 64)
    (corpus / "latin1-garbage.txt").write_bytes(b"\xff\xfe\xfd" * 100 + b"\x80\xff" * 50)
    shutil.copyfile(corpus / originals[0], corpus / "zz-copy-of-first.md")
    (corpus / "polar.pdf").write_bytes(make_pdf(PDF_PAGES))
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf\n")
    (corpus / "folder.txt").mkdir()
    (corpus / "folder.txt" / "inside.txt").write_text("中身\n", encoding="utf-8")
    (corpus / "notes.docx").write_bytes(b"PK\x03\x04 not indexed: not a corpus suffix")
    secret = corpus / "secret.txt"
    secret.write_text("読めないはずの文書\n\n内容\n", encoding="utf-8")
    secret.chmod(0)
    drop = _can_drop_dac(base)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), STIQA_CORPUS_DIR=str(corpus), STIQA_INDEX_DIR=str(index),
               PYTHONIOENCODING="utf-8")
    cmd = [sys.executable, "-m", "stiqa.cli", "ingest"]
    if drop:
        cmd = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--", *cmd]
    proc = subprocess.run(cmd, capture_output=True, env=env, timeout=600, cwd=ROOT)
    secret.chmod(0o644)
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert proc.returncode == 0, err[-3000:]
    assert "Traceback" not in out + err
    s = load_settings(corpus_dir=corpus, index_dir=index)
    gen = current_generation(index)
    chunks = [Chunk.from_meta(json.loads(l)) for l in (gen / "chunks.jsonl").read_text("utf-8").splitlines() if l]
    if not drop:  # as root with full capabilities the file is readable and indexed like any other
        secret.chmod(0o644)
    return {"settings": s, "out": out, "manifest": read_manifest(gen), "chunks": chunks, "originals": originals,
            "dropped_dac": drop, "corpus": corpus}


def _skip_line(odd, name: str) -> str:
    lines = [l.strip() for l in odd["out"].splitlines() if l.strip().startswith(f"スキップ: {name}:")]
    assert len(lines) == 1, f"no one-line skip reason for {name}:\n{odd['out']}"
    assert odd["manifest"]["skipped"].get(name), f"{name} not in the manifest's skipped files"
    assert "\n" not in odd["manifest"]["skipped"][name]
    return lines[0]


def _chunks_of(odd, name: str) -> list[Chunk]:
    return [c for c in odd["chunks"] if c.source == name]


@pytest.mark.slow
def test_rest_of_corpus_indexed_as_before(odd, settings):
    gen = current_generation(settings.index_dir)
    before = [json.loads(l) for l in (gen / "chunks.jsonl").read_text("utf-8").splitlines() if l]
    after = [c.to_meta() for c in odd["chunks"] if c.source in odd["originals"]]
    assert [c["id"] for c in after] == [c["id"] for c in before]
    assert after == before
    assert sorted(set(odd["manifest"]["files"]) & set(odd["originals"])) == odd["originals"]


def test_shift_jis_decoded_with_a_warning(odd):
    warn = [l for l in odd["out"].splitlines() if "sjis.txt" in l and "注意" in l]
    assert len(warn) == 1 and "CP932" in warn[0], odd["out"]
    chunks = _chunks_of(odd, "sjis.txt")
    assert chunks and any("321百万円" in c.text for c in chunks)
    lines = SJIS_TEXT.split("\n")
    for c in chunks:
        assert c.text == "\n".join(lines[c.line_start - 1:c.line_end])


def test_utf8_bom_is_invisible(odd):
    chunks = _chunks_of(odd, "bom.md")
    assert chunks and "\ufeff" not in "".join(c.text + c.title + c.section for c in chunks)
    assert chunks[0].title == "BOM付き試験資料"
    assert chunks[0].line_start == 1
    assert "bom.md" not in odd["manifest"]["skipped"]


@pytest.mark.parametrize("name,words", [
    ("empty.txt", "空"), ("blank.md", "本文"), ("binary.txt", "バイナリ"), ("latin1-garbage.txt", "バイナリ"),
    ("broken.pdf", "PDF"), ("zz-copy-of-first.md", "重複"),
])
def test_skipped_with_one_line_reason(odd, name, words):
    line = _skip_line(odd, name)
    assert words in line, line
    assert not _chunks_of(odd, name)


def test_duplicate_names_the_original(odd):
    assert odd["originals"][0] in _skip_line(odd, "zz-copy-of-first.md")


def test_unreadable_file(odd):
    if not odd["dropped_dac"]:
        pytest.skip("running as root and setpriv cannot drop CAP_DAC_OVERRIDE: mode 000 does not stop root's reads")
    line = _skip_line(odd, "secret.txt")
    assert "Permission denied" in line or "権限" in line, line
    assert not _chunks_of(odd, "secret.txt")


def test_folder_and_other_suffixes_are_not_documents(odd):
    names = {c.source for c in odd["chunks"]}
    assert not names & {"folder.txt", "inside.txt", "notes.docx", "README.md"}
    assert "folder.txt" not in odd["manifest"]["files"]



def test_pdf_pages_extracted_with_numbers(odd):
    docs, _ = load_corpus(odd["corpus"])
    pdf = next(d for d in docs if d.name == "polar.pdf")
    assert pdf.pages and len(pdf.pages) == len(pdf.lines)
    page_of = {l.strip(): p for l, p in zip(pdf.lines, pdf.pages) if l.strip()}
    assert page_of["512百万円"] == 1 and page_of["ボレアリス交流事業の支援期間は最大3年間である。"] == 2
    assert any("512百万円" in c.text and c.page == 1 for c in _chunks_of(odd, "polar.pdf"))


def test_pdf_pages_are_kept(odd):
    chunks = _chunks_of(odd, "polar.pdf")
    assert {c.page for c in chunks} == {1, 2}, [(c.page, c.text) for c in chunks]
    p1 = next(c for c in chunks if "512百万円" in c.text)
    p2 = next(c for c in chunks if "ボレアリス" in c.text)
    assert p1.page == 1 and p2.page == 2 and p2.line_start > p1.line_end


def test_pdf_citation_carries_the_page(odd):
    from stiqa.engine import get_assistant

    assistant = get_assistant(odd["settings"])
    ans = assistant.ask("オーロラ極地研究プログラムの令和5年度予算額は？")
    assert not ans.abstained and "512百万円" in ans.text, ans.text
    cite = ans.citations[0]
    assert cite.source == "polar.pdf" and cite.page == 1
    assert ans.to_json()["citations"][0]["page"] == 1


def test_pdf_second_page_is_cited_as_page_2(odd):
    from stiqa.engine import get_assistant

    assistant = get_assistant(odd["settings"])
    hits = assistant.searcher.search("ボレアリス交流事業 支援期間", 3)
    assert hits[0].chunk.source == "polar.pdf" and hits[0].chunk.page == 2


def test_status_is_fresh_and_next_ingest_is_a_noop(odd):
    """Skipped files must not make the index look stale, or force a rebuild on every run."""
    st = index_status(odd["settings"])
    assert st["stale"] is False, st["stale_files"]
    build_index(odd["settings"])  # secret.txt is readable again now: one real change
    report = build_index(odd["settings"])
    assert report.noop, "a corpus with skipped files is rebuilt on every `stiqa ingest`"


def test_load_corpus_reasons_directly(odd):
    """The same reasons through the Python API (BuildReport.skipped comes from here)."""
    docs, skipped = load_corpus(odd["corpus"])
    reasons = {s.name: s.reason for s in skipped}
    assert {"empty.txt", "blank.md", "binary.txt", "broken.pdf", "zz-copy-of-first.md"} <= set(reasons)
    assert all(r and "\n" not in r for r in reasons.values())
    assert {"sjis.txt", "bom.md", "polar.pdf", *odd["originals"]} <= {d.name for d in docs}
    sjis = next(d for d in docs if d.name == "sjis.txt")
    assert sjis.warnings and "sjis.txt" in sjis.warnings[0]


@pytest.mark.slow
def test_huge_file_is_skipped_quickly(tmp_path, settings):
    """A file over the size limit is skipped by name, and `stiqa ingest` does not stall on it."""
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(settings.corpus_dir, corpus)
    shutil.copytree(settings.index_dir / "embcache", index / "embcache")
    with (corpus / "huge.txt").open("wb") as fh:
        fh.write("巨大な文書\n".encode())
        fh.truncate(MAX_FILE_BYTES + 1)  # sparse: 20 MiB of NUL bytes after one line
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), STIQA_CORPUS_DIR=str(corpus), STIQA_INDEX_DIR=str(index),
               PYTHONIOENCODING="utf-8")
    try:
        proc = subprocess.run([sys.executable, "-m", "stiqa.cli", "ingest"], capture_output=True, env=env,
                              timeout=90, cwd=ROOT)
    except subprocess.TimeoutExpired:
        pytest.fail("`stiqa ingest` did not finish in 90 s with a 20 MiB file in corpus/ (the catalog scans files "
                    "the loader skips; PAREN_RE in catalog.py is quadratic on long lines)")
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    line = [l for l in out.splitlines() if "スキップ: huge.txt:" in l]
    assert len(line) == 1 and f"{MAX_FILE_BYTES:,}" in line[0], out
