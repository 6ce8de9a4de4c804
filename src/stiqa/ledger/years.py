"""The fiscal (or calendar) year of a figure the readers found with none in its own clause:
its line's one year, the year of the sentence before it, of its heading, or of the document's title;
a 「前年度」 or 「同」 bracket's year before that; the nth figure of a flattened table row's nth column.

Why here: the readers see one sentence at a time, but policy documents state a year once and
go on — 「2017年の日本の研究開発費総額は…。部門別で見ると…7.2%」, 「平成15年度の研究費は…。このうち…
92.2%」 — and an audit report's or a budget request's table names its years once, in a header line.
"""
from __future__ import annotations

import re

from stiqa.catalog.figures import Candidate
from stiqa.records import Chunk
from stiqa.text.japanese import era_to_western, fiscal_years, normalize


def heading(chunk: Chunk) -> str:
    parts = [p for p in chunk.section.split(" > ") if p.strip()]
    return parts[-1] if parts else chunk.title


_FY = re.compile(r"(令和|平成|昭和|(?<![A-Za-z])[RHS])\s*(\d{1,2}|元)\s*年度|(?<!\d)((?:19|20)\d{2})\s*年度|FY\s*((?:19|20)\d{2})"
                 r"|((?:19|20)\d{2}) fiscal year|fiscal year ((?:19|20)\d{2})", re.I)


def named_fiscal_years(text: str) -> list[int]:
    """Fiscal years a text names as such (「平成16年」 alone is a calendar year: not one)."""
    out = []
    for m in _FY.finditer(normalize(text)):
        out.append(era_to_western(m.group(1), m.group(2)) if m.group(1)
                   else int(next(g for g in m.groups()[2:] if g)))
    return out


def year_bound(c: Candidate, kind: str, label: str, line: str, at: int | None = None) -> bool:
    """Whether a figure is of the document's year when nothing nearer says: a budget or a count
    of this year's intake is; a scheme's per-project ceiling or a count of partner countries is not."""
    at = line.find(c.figure) if at is None else at
    after = line[at + len(c.figure):at + len(c.figure) + 3] if at >= 0 else ""
    if after.lstrip().startswith(("/", "／")) or re.search(r"最大|上限|程度|以上|以下|まで", label + after):
        return False
    if kind == "count":
        return bool(re.search(r"採用|採択|応募|件数|人数|見込|受入|交付|支援", label))
    return True


def previous_year(year: int | None, line: str, figure: str, at: int | None = None) -> int | None:
    """「応募件数は46,961件(前年度45,530件)」「採択件数は15件(同18件)」: the figure in the 前年度
    bracket is the year before the one the line is about."""
    if year is None or not in_previous_year_bracket(line, figure, at):
        return year
    return year - 1


def in_previous_year_bracket(line: str, figure: str, at: int | None = None) -> bool:
    """Whether the figure at ``at`` (its first place when None) stands in a 「前年度」 bracket or
    after 「前年度の」; 「(同18件)」 after a 「(前年度114件)」 of the same sentence is one too."""
    if at is None:
        at = line.replace(" ", "").find(figure.replace(" ", ""))
        before = line.replace(" ", "")[:at] if at >= 0 else ""
    else:
        before = line[:at].replace(" ", "")
    sentence = _SENTENCE.split(before)[-1]
    return bool(re.search(r"前年度の?$|[(（]前年度:?$", before)
                or (re.search(r"[(（]同$", before) and "前年度" in sentence))


def context_year(chunk: Chunk, line: str, *, document: bool = True, figure: str = "",
                 line_no: int | None = None, at: int | None = None) -> int | None:
    """The one fiscal year the figure's line names, else the one of the sentence before the
    figure's (``figure`` and ``line_no`` given), else the one of its heading, else of the
    document's title (「平成25年度科研費の審査に係る総括」): a document about one year."""
    years = set(named_fiscal_years(line))
    if len(years) == 1:
        return years.pop()
    if figure:
        own = own_sentence_year(line, figure, at)
        if own is not None:
            return own
    if not document:
        return None
    if figure and line_no is not None:
        before = sentence_before_year(chunk, line_no, line, figure, at)
        if before is not None:
            return before
    for text in (heading(chunk), chunk.title):
        fy = set(named_fiscal_years(text))
        if len(fy) == 1 and (not years or fy <= years):
            # a line naming several years, one of them the document's own: the document's
            return fy.pop()
        if fy:
            return None
    return None




_DATE = re.compile(r"(?:令和|平成|昭和)?\s*(?:\d{1,4}|元)\s*年\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?")


def _years_of(text: str) -> set[int]:
    """Years a sentence names, dates (「平成26年7月22日閣議決定」) aside: those date a decision."""
    return set(fiscal_years(_DATE.sub("", normalize(text))))


def sentence_before_year(chunk: Chunk, line_no: int, line: str, figure: str, at: int | None = None) -> int | None:
    """The one year of the sentence before the figure's, when the figure's own sentence names
    none: 「2017年の日本の研究開発費総額は…である。」 then 「…部門別で見ると…7.2%」. The sentence
    before is in the same line, or ends the line before (a paragraph's previous sentence, ending
    in 「。」: a wrapped PDF line or a heading is not one) and states a figure of its year."""
    at = line.find(figure) if at is None else at
    if at < 0:
        return None
    *earlier, current = _SENTENCE.split(line[:at])
    if _years_of(current):
        return None
    prev = next((x for x in reversed(earlier) if x.strip()), "")
    if not prev:
        lines = chunk.text.split("\n")
        off = line_no - chunk.line_start
        if not 0 < off < len(lines):
            return None
        above = normalize(lines[off - 1]).strip()
        if not above.endswith("。"):
            return None
        prev = [x for x in _SENTENCE.split(above) if x.strip()][-1]
    years = _years_of(prev)
    if len(years) != 1 or not _FIGURE.search(prev):
        return None
    # the year the sentence's figures are of (「2017年の」「2017年では」「平成15年度の…研究費は」), not
    # the year something began (「平成22年度公募から」「平成23年度に基金化された」)
    return years.pop() if _TOPIC_YEAR.search(normalize(prev)) else None


_SENTENCE = re.compile(r"(?<=。)(?![)）」』])")  # 「(以下「研究費」という。)」 ends no sentence
def own_sentence_year(line: str, figure: str, at: int | None = None) -> int | None:
    """The one year the figure's own sentence names before it as its topic: 「2017年の日本の研究開発費
    総額(名目額)は、19.1兆円」, 「中国は2017年では50.8兆円、対前年比は9.7%増」 (a calendar year, which
    the line's fiscal-year rule does not read)."""
    at = line.find(figure) if at is None else at
    if at < 0:
        return None
    current = _SENTENCE.split(line[:at])[-1]
    years = _years_of(current)
    return years.pop() if len(years) == 1 and _TOPIC_YEAR.search(normalize(current)) else None


_FIGURE = re.compile(r"\d[\d,.]*\s*(?:兆|億|万|千)?\s*(?:円|%|人|件|倍|ユーロ|ドル)")
_TOPIC_YEAR = re.compile(r"(?:(?:令和|平成|昭和)\s*(?:\d{1,2}|元)|(?:19|20)\d{2})\s*年度?\s*(?:の|では|は|における|において)")


def locate(line: str, figure: str, span: str = "") -> int:
    """Where in ``line`` the figure stands: inside its own sentence ``span`` when the line holds
    it (「前年度の30%とほぼ同様の29.9%」 and 「前年度の29.9%から低下」 are two figures 29.9%)."""
    start = line.find(span) if span else -1
    if start >= 0:
        inner = span.find(figure)
        if inner >= 0:
            return start + inner
    return line.find(figure)


_ERA = re.compile(r"(令和|平成|昭和)")
_BARE_FY = re.compile(r"(?<![\d年和成])(\d{1,2})\s*事業年度")
_NUM = re.compile(r"(?<![\d,.])\d[\d,]*(?:\.\d+)?")


def _header_years(text: str, era: str) -> list[int]:
    """The years a table's header row names, in order: 「区分 14事業年度 (13事業年度)」 in a 平成
    document is [2002, 2001]; 「平成9年度当初予算額 平成10年度予算案」 is [1997, 1998]."""
    norm = normalize(text)
    found = [(m.start(), y) for m in re.finditer(r"(令和|平成|昭和)\s*(\d{1,2}|元)\s*年度", norm)
             for y in [era_to_western(m.group(1), m.group(2))]]
    found += [(m.start(), int(m.group(1))) for m in re.finditer(r"(?<!\d)((?:19|20)\d{2})\s*年度", norm)]
    if era:
        found += [(m.start(), era_to_western(era, m.group(1))) for m in _BARE_FY.finditer(norm)]
    return [y for _, y in sorted(found)]


def column_year(chunk: Chunk, line_no: int, line: str, at: int) -> int | None:
    """The year of a flattened table's column: a header line naming N years and no figure, then
    rows (no blank line between) each holding N numbers — the figure that is a row's i-th number
    is of the header's i-th year. An audit report's 「区分 14事業年度 (13事業年度)」 tables and a
    budget table copied out of a PDF have this shape."""
    lines = chunk.text.split("\n")
    off = line_no - chunk.line_start
    if not 0 <= off < len(lines) or at < 0:
        return None
    nums = [m.start() for m in _NUM.finditer(line)]
    if len(nums) < 2 or at not in nums:
        return None
    era = next((m.group(1) for m in [_ERA.search(normalize(chunk.title))] if m), "")
    for k in range(off - 1, max(-1, off - 13), -1):
        text = normalize(lines[k])
        if not text.strip():
            return None
        years = _header_years(text, era)
        if len(set(years)) >= 2:
            if _FIGURE.search(text) or len(years) != len(nums):
                return None
            return years[nums.index(at)]
    return None
