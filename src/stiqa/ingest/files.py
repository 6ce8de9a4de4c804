"""Corpus files read as documents: which files count, how they are decoded (text, Markdown, PDF),
their titles and dates, and the files that cannot be read, named rather than dropped."""
from __future__ import annotations

import logging
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from stiqa.text.japanese import normalize

log = logging.getLogger(__name__)


TEXT_SUFFIXES = {".txt", ".md"}
PDF_SUFFIXES = {".pdf"}


MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class SourceDoc:
    """A readable corpus file: its lines as written (1-based via ``lines[i-1]``)."""

    name: str
    path: Path
    sha256: str
    title: str
    date: str
    lines: list[str]
    #: page number of each line (PDF only)
    pages: list[int] | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Skipped:
    name: str
    reason: str


# ---------------------------------------------------------------- loading


def corpus_files(corpus_dir: Path) -> list[Path]:
    """Policy documents in the corpus folder (README.* describes the corpus and is not indexed)."""
    if not corpus_dir.is_dir():
        raise FileNotFoundError(f"コーパスのフォルダがありません: {corpus_dir}")
    suffixes = TEXT_SUFFIXES | PDF_SUFFIXES
    return sorted(p for p in corpus_dir.iterdir()
                  if p.is_file() and p.suffix.lower() in suffixes and not p.name.upper().startswith("README"))


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def decode_text(raw: bytes, name: str) -> tuple[str, list[str]]:
    """UTF-8 (with or without BOM); Shift_JIS/CP932 decoded with a warning; binary refused."""
    if b"\x00" in raw[:8192]:
        raise ValueError("バイナリファイルのようです（NUL バイトを含む）")
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("cp932")
    except UnicodeDecodeError as exc:
        raise ValueError(f"文字コードを判別できません（UTF-8 でも CP932 でもない）: {exc.reason}") from exc
    # CP932 decodes almost any bytes; binary comes out as private-use and control characters
    odd = sum(1 for ch in text if "\ue000" <= ch <= "\uf8ff" or (ch < " " and ch not in "\t\n\r"))
    if odd * 10 > len(text):
        raise ValueError("バイナリか未対応の文字コードのようです（CP932 として読むと私用領域・制御文字ばかり）")
    return text, [f"{name}: UTF-8 ではないため CP932 (Shift_JIS) として読み込みました"]


def read_metadata_table(corpus_dir: Path) -> dict[str, tuple[str, str]]:
    """Titles and dates from the corpus README's table (| `file` | title | date |), if any."""
    meta: dict[str, tuple[str, str]] = {}
    readme = corpus_dir / "README.md"
    try:
        text = readme.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return meta
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("`") and cells[0].endswith("`"):
            meta[cells[0].strip("`")] = (cells[1], cells[2])
    return meta


_DATE = re.compile(r"(令和|平成)\s*(\d{1,2}|元)年\s*\d{1,2}月\s*\d{1,2}日|\d{4}年\d{1,2}月\d{1,2}日")


def _title_and_date(lines: list[str]) -> tuple[str, str]:
    title, date = "", ""
    for line in lines[:15]:
        s = line.strip().lstrip("#").strip()
        if s and not title:
            title = s
        m = _DATE.search(normalize(line))
        if m and not date:
            date = m.group(0)
    return title, date


def load_document(path: Path, meta: dict[str, tuple[str, str]] | None = None) -> SourceDoc:
    """Read one file; raises ``ValueError``/``OSError`` with a reason a maintainer can act on."""
    size = path.stat().st_size
    if size == 0:
        raise ValueError("空のファイルです")
    if size > MAX_FILE_BYTES:
        raise ValueError(f"ファイルが大きすぎます（{size:,} バイト、上限 {MAX_FILE_BYTES:,}）")
    raw = path.read_bytes()
    pages = None
    warnings: list[str] = []
    if path.suffix.lower() in PDF_SUFFIXES:
        lines, pages = _pdf_lines(path)
    else:
        text, warnings = decode_text(raw, path.name)
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if not any(l.strip() for l in lines):
        raise ValueError("本文がありません（空白のみ）")
    title, date = _title_and_date(lines)
    if meta and path.name in meta:
        title, date = meta[path.name]
    return SourceDoc(path.name, path, hashlib.sha256(raw).hexdigest(), title, date, lines, pages, warnings)


def _pdf_lines(path: Path) -> tuple[list[str], list[int]]:
    try:
        from pypdf import PdfReader
    except ImportError as exc:  # optional extra
        raise ValueError("PDF を読むには pypdf が必要です（pip install pypdf）") from exc
    try:
        reader = PdfReader(str(path))
        lines: list[str] = []
        pages: list[int] = []
        for number, page in enumerate(reader.pages, start=1):
            for line in (page.extract_text() or "").split("\n"):
                lines.append(line)
                pages.append(number)
            lines.append("")
            pages.append(number)
    except Exception as exc:  # pypdf raises many types for broken files
        raise ValueError(f"PDF を読み込めません: {exc}") from exc
    return lines, pages


def load_corpus(corpus_dir: Path) -> tuple[list[SourceDoc], list[Skipped]]:
    """All readable documents, and the files skipped with a one-line reason each."""
    meta = read_metadata_table(corpus_dir)
    docs: list[SourceDoc] = []
    skipped: list[Skipped] = []
    seen: dict[str, str] = {}
    # of two files with the same content, the one the corpus README lists keeps the citations
    for path in sorted(corpus_files(corpus_dir), key=lambda p: (p.name not in meta, p.name)):
        try:
            doc = load_document(path, meta)
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            skipped.append(Skipped(path.name, reason))
            log.warning("skipped %s: %s", path.name, reason)
            continue
        if doc.sha256 in seen:
            skipped.append(Skipped(path.name, f"{seen[doc.sha256]} と同じ内容のため重複として除外しました"))
            continue
        seen[doc.sha256] = path.name
        docs.append(doc)
    docs.sort(key=lambda d: d.name)
    return docs, skipped
