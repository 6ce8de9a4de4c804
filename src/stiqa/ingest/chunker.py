"""Load corpus files and split them into cited chunks the way a reader of these slides would.

Why our own splitter: LlamaIndex's ``SentenceSplitter``/``MarkdownNodeParser`` cut by token count
or Markdown headings only. These documents are PDF slides flattened to text: headings are bare
short lines or 【…】/■/● labels, figures sit on the line after their label, tables are tab rows,
and a slide about a program often never names it. A chunk that does not know its program is
missed by every retriever, so the splitter tracks a heading path and the program of every chunk.
"""
from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field

from stiqa.text.japanese import ngrams, normalize
from stiqa.records import Chunk
from stiqa.ingest.files import SourceDoc

log = logging.getLogger(__name__)

MAX_CHARS = 360  # a chunk grows by whole blocks up to about this many characters


# ---------------------------------------------------------------- line classes

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_FIGURE_LINE = re.compile(r"^[\s(（]*[\d,.]+\s*(百万|千万|億|万)?(円|件|人|€|ユーロ)")
_PROGRAM_END = re.compile(r"(事業|プログラム|Program|Initiative|イニシアティブ|準参加|\([A-Z][A-Za-z\-]{2,}\)|^[A-Z][A-Za-z\-]{2,})$")
_BUDGET_LINE = re.compile(r"予算額|要求|要望額")
_LABEL_WORDS = re.compile(r"予算|要求|要望|補正")
_BULLET = re.compile(r"^\s*([-*・•▶▸➤⇒→✓◆]|\d+\.|\(\d+\)|[①-⑳])")


def _is_blank(line: str) -> bool:
    return not line.strip()


def _heading(lines: list[str], i: int, markdown: bool) -> tuple[int, str] | None:
    """(level, text) if line i is a heading. Levels: 1 document part, 2 slide, 3 label."""
    raw = lines[i]
    s = normalize(raw).strip()
    if not s:
        return None
    m = _MD_HEADING.match(s)
    if m:
        return len(m.group(1)), m.group(2).strip()
    if "\t" in raw or len(s) > 45 or "。" in s or _BULLET.match(s) or s.startswith("※"):
        return None
    if s.startswith("【") and s.endswith("】"):
        return 4, s
    if s[0] in "■●○◆" and len(s) <= 45:
        return 4, s.lstrip("■●○◆ ")
    if markdown:
        return None
    # bare slide titles in extracted text: a short line standing alone between blank lines
    prev_blank = i == 0 or _is_blank(lines[i - 1])
    next_blank = i + 1 >= len(lines) or _is_blank(lines[i + 1])
    if not (prev_blank and next_blank) or _LABEL_WORDS.search(s) or _FIGURE_LINE.match(s) or ":" in s:
        return None
    nxt = next((normalize(l).strip() for l in lines[i + 1:i + 4] if l.strip()), "")
    if _FIGURE_LINE.match(nxt) or len(re.findall(r"[^\W\d_]", s)) < 3:
        return None
    # a slide title names a program, or is followed straight away by the program's budget line
    return (2 if program_name(s) or _BUDGET_LINE.search(nxt) else 3), s


def program_name(heading: str) -> str:
    """The program a heading names, or '' (「2 若手研究者研鑚シンポジウム事業」 -> the name)."""
    s = normalize(heading).strip().strip("#").strip()
    s = re.sub(r"^\d+[\s.]+", "", s)
    s = re.sub(r"(の採択結果|の審査結果について|について)$", "", s).strip("「」 ")
    s = re.sub(r"\s*<[^>]*>$", "", s)  # 「外国人研究者招へい事業 <外国人特別研究員>」
    if ":" in s or not _PROGRAM_END.search(s):
        return ""
    return s


def _bigrams(s: str) -> set[str]:
    return ngrams(re.sub(r"\W", "", normalize(s)))


def _similar(a: set[str], b: set[str]) -> bool:
    return bool(a and b) and len(a & b) / len(a | b) >= 0.6


# ---------------------------------------------------------------- chunking


@dataclass
class _Open:
    lines: list[int] = field(default_factory=list)
    chars: int = 0
    label: bool = False  # the last block is a label whose figure follows
    body: bool = False  # holds more than headings


def chunk_document(doc: SourceDoc, known_programs: frozenset[str] = frozenset()) -> list[Chunk]:
    """Split a document into chunks; every non-blank line lands in exactly one chunk.

    ``known_programs`` (compact forms of program names from the catalog) marks a bare slide
    title such as 「優秀な海外研究者の受入強化」 as the program its slide is about.
    """
    lines = doc.lines
    markdown = doc.name.lower().endswith(".md")
    stack: list[tuple[int, str]] = []  # heading path
    override: tuple[int, str] | None = None  # (level it lives under, program) inferred from a lead
    summaries: list[tuple[set[str], str]] = []  # program overview paragraphs seen so far
    seen_titles: set[str] = set()  # program and slide titles met so far
    chunks: list[Chunk] = []
    cur = _Open()

    def program_and_level() -> tuple[str, int]:
        if override:
            return override[1], 0
        for level, text in reversed(stack):
            name = program_name(text) or (text if level == 2 and not markdown else "")
            if name:
                return name, level
        return "", 0

    def current_program() -> str:
        return program_and_level()[0]

    def section_path() -> str:
        parts = [t for _, t in stack]
        if override:
            below = [t for lvl, t in stack if lvl > override[0]]
            parts = [override[1], *below]
        return " > ".join(parts)

    def flush() -> None:
        nonlocal cur
        body = [n for n in cur.lines if lines[n - 1].strip()]
        if body:
            text = "\n".join(lines[n - 1].rstrip() for n in range(body[0], body[-1] + 1))
            page = doc.pages[body[0] - 1] if doc.pages else None
            cid = hashlib.sha1(f"{doc.name}:{body[0]}:{text}".encode()).hexdigest()[:16]
            chunks.append(Chunk(cid, doc.name, doc.title, doc.date, section_path(), body[0], body[-1],
                                text, current_program(), page))
        cur = _Open()

    i = 0
    n_lines = len(lines)
    while i < n_lines:
        if _is_blank(lines[i]):
            i += 1
            continue
        if markdown and _RULE.fullmatch(lines[i]):
            # a thematic break (pages or slides joined with 「---」) ends the slide: its headings
            # do not carry over to the next page, and a figure stays with its own page's title
            cur.lines.append(i + 1)
            flush()
            stack = [h for h in stack if h[0] <= 1]
            override = None
            i += 1
            continue
        head = _heading(lines, i, markdown)
        if head:
            if cur.body:  # consecutive headings stay with the content below them
                flush()
            level, text = head
            bare = not markdown and not text.startswith(("【", "■", "●", "○", "◆")) and level > 2
            if bare and compact_name(text) in seen_titles:
                level = 5  # a slide caption repeating an earlier title (OCR order), not a new slide
            elif level > 2 and not markdown and compact_name(text) in known_programs:
                level = 2
            if program_name(text) or level <= 2:
                seen_titles.add(compact_name(program_name(text) or text))
            while stack and stack[-1][0] >= level:
                stack.pop()
            if override and level <= override[0]:
                override = None
            stack.append((level, text))
            cur.lines.append(i + 1)
            cur.chars += len(text)
            i += 1
            continue
        # a block: consecutive non-blank, non-heading lines; a PDF page break ends the chunk
        if doc.pages and cur.lines and doc.pages[cur.lines[0] - 1] != doc.pages[i]:
            flush()
        j = i
        while j < n_lines and not _is_blank(lines[j]) and not (j > i and _heading(lines, j, markdown)) \
                and not (doc.pages and doc.pages[j] != doc.pages[i]):
            j += 1
        block = list(range(i + 1, j + 1))
        block_text = "".join(lines[n - 1] for n in block)
        grams = _bigrams(block_text)
        # A slide that never names its program often opens with the program's overview sentence,
        # seen earlier under the program's own heading: recognise it and carry that program.
        prose = len(block_text) >= 40 and "。" in block_text and not block_text.lstrip().startswith("※") \
            and not _BUDGET_LINE.search(block_text)
        if prose:
            program, level = program_and_level()
            owner = next((p for g, p in summaries if _similar(g, grams)), "")
            if owner and owner != program and level <= 1:
                flush()
                top = stack[0][0] if stack else 1
                override = (top, owner)
            elif program and not override:
                summaries.append((grams, program))
        is_label = len(block_text) <= 30 and "。" not in block_text and "\t" not in block_text
        if cur.chars + len(block_text) > MAX_CHARS and cur.body and not cur.label:
            flush()
        cur.lines.extend(block)
        cur.chars += len(block_text)
        cur.label = is_label  # keep a label with the figure below it
        cur.body = True
        i = j
    flush()
    return chunks


_RULE = re.compile(r"\s*(?:-{3,}|\*{3,}|_{3,})\s*")


def compact_name(text: str) -> str:
    return re.sub(r"[\s「」『』]", "", normalize(text))


def chunk_corpus(docs: list[SourceDoc], known_programs: frozenset[str] = frozenset()) -> list[Chunk]:
    return [c for d in docs for c in chunk_document(d, known_programs)]
