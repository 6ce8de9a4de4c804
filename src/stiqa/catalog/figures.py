"""Figures as documents state them, each with the subject it belongs to: one reader per shape.

- prose: 「我が国の研究者数は2022年に68万人であり、…第2位の…」 — the figure's subject is its
  clause (from the previous figure or clause break to the figure, the sentence's topic before 「は」
  and the words right after the figure);
- slides: a figure alone on its line (「146億円」) belongs to the label above it (「令和5年度補正予算額」) and to the slide's title lines; money labels come from ``facts.money_facts``;
- tables: Markdown pipe rows and tab rows, each cell under its row label and column header, in the
  unit stated above the table (「(単位:億円)」); a rate column (対前年度伸び率%) belongs to the column
  before it; △ is a decrease;
- English pages: the same prose reader over English sentences (「10 million yen / year」).

Pure functions over a ``Chunk``; the choice among candidates is the answer model's (answer/).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from stiqa.catalog.facts import money_facts
from stiqa.text.japanese import normalize
from stiqa.records import Chunk

#: a figure with its unit, as written (normalised): money, percent, share, rank, count, period
FIGURE = re.compile(
    r"(?P<money>(?:約|最大)?\d[\d,.]*\s*(?:兆\s*\d[\d,.]*\s*)?(?:兆|億|千万|百万|万|千)?\s*(?:円|ユーロ|€|ドル|ポンド|元)"
    # a range is one figure (「5百万円~1億円」): its first end alone misstates it
    r"(?:\s*[~〜～]\s*\d[\d,.]*\s*(?:兆|億|千万|百万|万|千)?\s*(?:円|ユーロ|€|ドル|ポンド|元))?"
    r"|(?:approximately |about |several |total of )?(?:\d[\d,.]*|several)\s*(?:million|billion|thousand)?\s*yen)"
    r"|(?P<percent>[△▲]?\s*\d[\d.]*\s*(?:%|％|ポイント))"
    r"|(?P<share>約?\d+割)"
    r"|(?P<rank>第\s*\d+\s*位|\d+\s*位)"
    r"|(?P<period>(?:昭和|平成|令和)\s*(?:\d+|元)\s*[~〜～-]\s*(?:(?:昭和|平成|令和)\s*)?\d+\s*年度?|\d+\s*(?:年間|か月|ヶ月|カ月|か年|週間)|\d+\s*years?(?:\s+and\s+\d+\s+months?)?(?:\s+or\s+less)?"
    r"|[\d~〜-]+\s*年先|約?\d+\s*年間)"
    r"|(?P<count>約?\d[\d,.]*\s*(?:万|千|億)?\s*(?:人|名|件|校|大学|機関|か国|カ国|ヵ国|課題|回|拠点|社|者|分野)"
    r"|\d+\s+to\s+\d+(?:\s+\w+){0,2}\s+projects|\d[\d,]*\s+(?:projects|researchers|people|times))",
    re.I,
)
_LABEL_MONEY = {"案": "予算", "前年度": "前年度", "補正": "補正", "要求": "要求", "合計": "合計", "": ""}
_UNIT = re.compile(r"[（(]?\s*単位\s*[:：]\s*([^)）\s]+)\s*[)）]?")
_CLAUSE_BREAK = re.compile(r"[、,，;；]|であり|であるが|に対し")


@dataclass(frozen=True)
class Candidate:
    """A figure in a passage with what it is a figure of."""

    chunk: Chunk
    line: int  # line in the source file
    figure: str  # as written (normalised), e.g. 「68万人」「1,073百万円」「△3.1」
    kind: str  # money, percent, share, rank, period, count, plain (a bare table number)
    subject: str  # the words beside the figure: clause, row label + column header, label line
    context: str  # the wider heading: section, slide title lines, table caption, document title
    span: str  # what to quote
    shape: str  # prose, slide, table
    budget_kind: str = ""  # 前年度, 補正, 要求, 合計, 予算 or "" (from a money label)
    unit: str = ""  # a table's stated unit (億円, 百万円)
    year: int | None = None  # the fiscal year a money label resolves to (前年度 of 令和5年度 = 2022)
    own: str = ""  # the figure's own subject phrase (row label; the clause topic): its qualifiers count
    extra: tuple[str, ...] = field(default_factory=tuple)


def title_lines(chunk: Chunk) -> list[str]:
    """Short heading-like lines of a slide chunk: what a figure alone on its line is about."""
    out = []
    for raw in chunk.text.split("\n"):
        s = normalize(raw).strip().lstrip("#").strip()
        if not s or len(s) > 40 or "。" in s or s.startswith(("(", "※", "・", "○", "〇", "•", "-", "|")):
            continue
        if FIGURE.search(s) or not re.search(r"[一-龯ァ-ヴA-Za-z]{2,}", s) or re.search(r"ページ|^\d+$", s):
            continue
        if re.search(r"要求|要望額|予算額|事業概要|主な|背景|課題$|事業内容", s):
            continue
        out.append(s)
    return out


def _context(chunk: Chunk, extra: str = "") -> str:
    return " ".join(p for p in (chunk.title, chunk.section, chunk.program, extra) if p)


def _sentences(line: str) -> list[str]:
    # a full stop, or an English one before a space (「0.9億円」 keeps its decimal point)
    parts = re.split(r"(?<=[。!?])\s*(?=\S)|(?<=\.)\s+(?=[A-Z(・*])", line) if len(line) > 40 else [line]
    return [p for p in parts if p.strip()]


_BULLET_START = re.compile(r"^\s*(?:[○〇•・\-▶■●◆※<【(（\[*]|\d+[.．)]|[①-⑳])")
#: a numbered heading written inline (「…を措置2.NEXUS 日ASEAN…連携事業」): the subject of
#: what follows until the next one
_INLINE_HEADING = re.compile(r"(?<![\d.,])(\d{1,2})\s*[.．]\s*([A-Za-z][\w\-]*\s+[^\s、。]{4,}|[^\s\d、。(（]{4,}[^\s、。]*)")


def logical_lines(chunk: Chunk) -> list[tuple[int, str]]:
    """The chunk's lines with PDF line wraps undone: a long line that stops mid-sentence continues
    on the next one (「…あらゆる「学」 / 「術研究」…」) unless that one opens a new item."""
    out: list[tuple[int, str]] = []
    for off, raw in enumerate(chunk.text.split("\n")):
        line = normalize(raw).strip()
        if not line:
            out.append((off, ""))
            continue
        if out and out[-1][1] and len(out[-1][1]) >= 30 and not out[-1][1].endswith(("。", ":", "：")) \
                and not _BULLET_START.match(line) and not _alone(line) and "\t" not in raw \
                and len(line) >= 6 and re.search(r"[ぁ-んァ-ヴ一-龯]{2,}", line) \
                and not out[-1][1].startswith("|") and not re.search(r"[A-Za-z]$", out[-1][1]):
            out[-1] = (out[-1][0], out[-1][1] + line)
            continue
        out.append((off, line if "\t" not in raw else ""))
    return out


def prose_candidates(chunk: Chunk) -> list[Candidate]:
    """Figures in running sentences, each with its clause (and the sentence's topic); the whole
    item and the latest inline numbered heading are its wider context."""
    out: list[Candidate] = []
    base = _context(chunk)
    heading = ""
    for off, line in logical_lines(chunk):
        if not line or line.startswith("|") or _alone(line):
            continue  # a figure alone on its line is a slide's: slide_candidates reads it
        pos = 0
        for sent in _sentences(line):
            heads = list(_INLINE_HEADING.finditer(sent))
            topic = sent.split("は", 1)[0] if "は" in sent[:40] else ""
            prev_end = 0
            matches = list(FIGURE.finditer(sent))
            for i, m in enumerate(matches):
                before = sent[prev_end:m.start()]
                cut = list(_CLAUSE_BREAK.finditer(before))
                # the clause: from the last break before the figure, unless the clause is only a
                # list of names (「中国、米国に次ぐ」): then from the previous figure
                clause = before[cut[-1].end():] if cut and len(before) - cut[-1].end() >= 4 else before
                if not re.search(r"[ぁ-んァ-ヴ一-龯]", sent):
                    clause = before  # English puts a figure's frame first (「In the … phase, maximum …」)
                nxt = matches[i + 1].start() if i + 1 < len(matches) else len(sent)
                after = re.split(r"[、。,;]", sent[m.end():nxt], maxsplit=1)[0][:30]
                head = next((h.group(2) for h in reversed(heads) if h.end() <= m.start()), heading)
                own_clause = _respective(sent, matches, i)
                subject = f"{own_clause} {after}" if own_clause else f"{topic} {clause} {after}"
                out.append(Candidate(chunk, chunk.line_start + off, m.group(0).strip(), m.lastgroup or "plain",
                                     subject, f"{base} {head} {line}", sent.strip(),
                                     "prose", own=own_clause or topic or clause))
                prev_end = m.end()
            if heads:
                heading = heads[-1].group(2)
            pos += len(sent)
    return out


def _respective(sent: str, matches: list[re.Match[str]], i: int) -> str:
    """「「A」、「B」における…は、それぞれ41.1%、39.6%」: the i-th figure after それぞれ belongs to the
    i-th name listed before it; its clause is given with the other names taken out."""
    at = sent.find("それぞれ")
    if at < 0 or matches[i].start() < at:
        return ""
    after = [m for m in matches if m.start() > at]
    names = re.findall(r"「([^」]+)」", sent[:at]) or re.findall(r"([一-龯ァ-ヴー]{2,})(?=、|と)", sent[:at])
    if len(names) != len(after) or len(names) < 2:
        return ""
    own = names[after.index(matches[i])]
    rest = sent[:at]
    for n in names:
        if n != own:
            rest = rest.replace(f"「{n}」", "").replace(n, "")
    return rest


def _alone(line: str) -> bool:
    m = FIGURE.search(line)
    return bool(m) and len(re.sub(r"[\s()（）]", "", line.replace(m.group(0), ""))) <= 2


def slide_candidates(chunk: Chunk) -> list[Candidate]:
    """Figures alone on a line: their label (money labels paired by ``money_facts``) and the slide's
    title lines are their subject."""
    titles = " ".join(title_lines(chunk))
    ctx = _context(chunk, titles)
    out: list[Candidate] = []
    paired: set[int] = set()
    for f in money_facts(chunk):
        line_text = normalize(f.line_text).strip()
        if not _alone(line_text) and f.label and f.label not in line_text:
            continue
        if not _alone(line_text) and not f.label:
            continue
        kind = _LABEL_MONEY.get(f.kind, f.kind)
        out.append(Candidate(chunk, f.line, f.amount.text, "money", f"{f.label} {titles}", ctx,
                             f"{f.label} {f.amount.text}".strip(), "slide", budget_kind=kind, own=titles,
                             year=f.year))
        paired.add(f.line)
    lines = chunk.text.split("\n")
    for off, raw in enumerate(lines):
        line = normalize(raw).strip()
        if raw.count("\t") == 1 and chunk.line_start + off not in paired:
            # a two-cell row 「支援期間\t3年間（タイプにより異なる）」: the label cell is the subject
            label, value = (normalize(x).strip() for x in raw.split("\t"))
            for m in FIGURE.finditer(value):
                out.append(Candidate(chunk, chunk.line_start + off, m.group(0).strip(), m.lastgroup or "plain",
                                     f"{label} {titles}", ctx, f"{label} {value}", "slide", own=label))
            continue
        if chunk.line_start + off in paired or not _alone(line):
            continue
        m = FIGURE.search(line)
        label = next((normalize(x).strip() for x in reversed(lines[:off]) if x.strip()), "")
        if FIGURE.search(label):
            label = ""
        out.append(Candidate(chunk, chunk.line_start + off, m.group(0).strip(), m.lastgroup or "plain",
                             f"{label} {titles}", ctx, f"{label} {line}".strip(), "slide", own=titles))
    return out


def _cells(line: str) -> list[str]:
    if line.strip().startswith("|"):
        return [c.strip() for c in line.strip().strip("|").split("|")]
    return [c.strip() for c in line.split("\t")]


def _is_rule(cells: list[str]) -> bool:
    return all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c)


_VALUE = re.compile(r"[△▲-]?\s*\d[\d,.]*")


def table_candidates(chunk: Chunk) -> list[Candidate]:
    """Cells of pipe or tab tables, each with its row label, column header and stated unit."""
    out: list[Candidate] = []
    lines = chunk.text.split("\n")
    i = 0
    while i < len(lines):
        raw = lines[i]
        is_row = raw.strip().startswith("|") or raw.count("\t") >= 2
        if not is_row:
            i += 1
            continue
        start = i
        while i < len(lines) and (lines[i].strip().startswith("|") or lines[i].count("\t") >= 2):
            i += 1
        rows = [_cells(lines[j]) for j in range(start, i)]
        above = [normalize(x).strip() for x in lines[max(0, start - 6):start] if x.strip()]
        unit = next((m.group(1) for x in reversed(above) if (m := _UNIT.search(x))), "")
        caption = " ".join(x.lstrip("#").strip() for x in above if not _UNIT.search(x))
        header = rows[0]
        if any(_VALUE.fullmatch(c) for c in header[1:]) or len(rows) < 2:
            continue  # rows without column headers: a cell says nothing of what it counts
        body = [r for r in rows[1:] if not _is_rule(r)] if any(header) else [r for r in rows if not _is_rule(r)]
        heads = []
        for k, h in enumerate(header):
            h = normalize(h)
            # a 「伸び率%」 column after a 「…費」 column is that column's rate
            if k > 0 and re.search(r"率|比|%", h) and not re.search(r"[一-龯]{2,}費|額", h):
                h = f"{normalize(header[k - 1])} {h}"
            heads.append(h)
        ctx = _context(chunk, caption)
        for r in body:
            label = normalize(r[0]) if r else ""
            for k, cell in enumerate(r[1:], 1):
                cell = normalize(cell)
                if not _VALUE.fullmatch(cell):
                    continue
                head = heads[k] if k < len(heads) else ""
                rate = bool(re.search(r"率|%", head))
                shown = cell.replace(" ", "")
                out.append(Candidate(chunk, chunk.line_start + start + rows.index(r), shown,
                                     "percent" if rate else "plain", f"{label} {head}", ctx,
                                     f"{label} | {head} | {shown}", "table",
                                     unit="%" if rate else unit, own=label))
    return out


@lru_cache(maxsize=8192)
def _cached(chunk: Chunk) -> tuple[Candidate, ...]:
    return tuple(table_candidates(chunk) + slide_candidates(chunk) + prose_candidates(chunk))


def candidates(chunk: Chunk) -> list[Candidate]:
    """Every figure of a passage, read by the reader of its shape (a pure function of the chunk,
    so it is computed once per chunk and process)."""
    return list(_cached(chunk))
