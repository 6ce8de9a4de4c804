"""Read every figure of the corpus into ledger records: the readers' candidates (figures.py), each
given its subject (the program or heading, official name from the alias table), fiscal year,
budget kind and a normalised value; the same figure stated twice becomes one record with both
citations.

Why from the readers' candidates: the answerer already trusts them for subject, year and budget
kind, so the ledger and the answers agree on what a figure is.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from stiqa.catalog.facts import money_facts
from stiqa.catalog.figures import Candidate, candidates, title_lines
from stiqa.text.japanese import compact, era_to_western, fiscal_years, normalize, parse_amounts
from stiqa.records import Chunk
from stiqa.ledger.records import BUDGET_KINDS, Cite, Record
from stiqa.ledger.years import (column_year, context_year, in_previous_year_bracket, locate, previous_year,
                                year_bound)

_MONEY_UNITS = {"円": 1, "千円": 10**3, "万円": 10**4, "百万円": 10**6, "千万円": 10**7, "億円": 10**8, "兆円": 10**12}
_SCALE = {"兆": 10**12, "億": 10**8, "千万": 10**7, "百万": 10**6, "万": 10**4, "千": 10**3}
_CURRENCY = re.compile(r"(円|ユーロ|€|ドル|ポンド|元|yen)", re.I)
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_NUMBERING = re.compile(r"^(?:\d{1,2}(?:[.．]\d{1,2})+\s*[.．]?\s*(?=\D)|\d{1,2}\s*[.．]?\s+|\d{1,2}\s*[.．]\s*|[①-⑳]\s*)")
_DECOR = re.compile(r"[*#【】■●◆▶<>「」『』]|^[\s\-・○〇•※]+")
_SHAPE_ORDER = {"slide": 0, "table": 1, "prose": 2}


def _loose(name: str) -> str:
    """A spelling-insensitive form of a name: 「科学技術・イノベーションの戦略的な国際展開」 and
    「7.科学技術イノベーションの戦略的国際展開」 are one subject."""
    s = compact(_NUMBERING.sub("", normalize(name).strip()))
    s = re.sub(r"[(（]再掲[)）]", "", s)
    return re.sub(r"[・･の な「」『』*#]", "", s)


def _tidy(name: str) -> str:
    """A name without numbering, decoration (○, ■, 【】) or 「（再掲）」."""
    raw = _NUMBERING.sub("", _DECOR.sub("", normalize(name)).strip()).strip()
    return re.sub(r"\s*[(（]再掲[)）]\s*$", "", raw).strip()


class Subjects:
    """Names of programs, each group official-name-first (catalog first, then the documents' own
    「正式名称（略称）」 groups): turns a heading or program label into one subject name."""

    def __init__(self, groups: Iterable[list[str]]) -> None:
        self.groups: list[list[str]] = []
        self._exact: dict[str, int] = {}
        for g in groups:
            names = [n for n in dict.fromkeys(_tidy(x) for x in g) if n]
            if not names:
                continue
            known = next((self._exact[_loose(n)] for n in names if _loose(n) in self._exact), None)
            if known is None:
                known = len(self.groups)
                self.groups.append(names)
            else:
                self.groups[known] += [n for n in names if n not in self.groups[known]]
            for n in names:
                self._exact.setdefault(_loose(n), known)
        self._aliases = sorted(((_loose(n), i) for i, g in enumerate(self.groups) for n in g if len(_loose(n)) >= 3),
                               key=lambda x: -len(x[0]))

    def canonical(self, name: str) -> str:
        """The official name for ``name`` when it is, or mostly is, a known program's name;
        else the name cleaned of numbering, decoration and 「（再掲）」."""
        raw = _tidy(name)
        key = _loose(raw)
        if not key:
            return ""
        if key in self._exact:
            return self.groups[self._exact[key]][0]
        for alias, i in self._aliases:
            # 「戦略的国際共同研究プログラム(SICORP)」: a name the heading mostly is
            if alias in key and (len(alias) >= 0.5 * len(key) or re.fullmatch(r"[a-z][a-z0-9\-]+", alias)):
                return self.groups[i][0]
        return raw

    def known(self, name: str) -> bool:
        """Whether ``name`` is (mostly) a known program's name."""
        return self.canonical(name) in {g[0] for g in self.groups}

    def aliases(self, subject: str) -> list[str]:
        i = self._exact.get(_loose(subject))
        return list(self.groups[i]) if i is not None else [subject]


def subjects_for(corpus_dir: Path | None, chunks: list[Chunk]) -> Subjects:
    """The alias table: the program catalog's names (when the catalog can be built) and the
    documents' own name groups."""
    from stiqa.catalog.names import name_groups

    groups: list[list[str]] = []
    if corpus_dir is not None:
        try:
            from stiqa.catalog.build import build_catalog

            for p in build_catalog(Path(corpus_dir)).programs:
                groups.append([p.name.value, *(a.value for a in p.aliases)])
        except Exception:  # noqa: BLE001 - no catalog: the documents' own names still serve
            pass
    groups += name_groups(chunks)
    return Subjects(groups)


# A program page's or call's attribute headings (「○応募総額」「■Research Budget」「期間・予算」「支援経費」)
# say what a figure is, not whose: the program is the heading above, or the document's.
_ATTR = (r"(?:研究|支援|実施|事業|渡航|採択予定|採択|応募|予定|募集|交付|申請)?"
         r"(?:予算額?|経費|費用|期間|課題数|件数|人数|総額|金額|額|規模|対象|資格|数)")
_ATTRIBUTE = re.compile(rf"{_ATTR}(?:[・、/と]|及び)?(?:{_ATTR})?"
                        r"|(?:research |project |grant |support )?(?:budget|period|funds?|funding|duration|amount"
                        r"|eligibility|number of [a-z ]+)", re.I)
# 「●総額上限12億円(直接経費)」: a figure's own line, set apart like a heading
_FIGURE_LINE = re.compile(r"\d[\d,.]*\s*(?:兆|億|万|千)?\s*(?:円|%|人|件|か月|ヶ月|年間)")


def _not_a_subject(heading: str) -> bool:
    """Whether a heading or title line names an attribute or a figure, not a program."""
    bare = _DECOR.sub("", normalize(heading)).strip(" ○〇・:：")
    return not bare or bool(_ATTRIBUTE.fullmatch(bare)) or bool(_FIGURE_LINE.search(normalize(heading)))


def _heading(chunk: Chunk) -> str:
    """The nearest heading that names a subject ('' when none does)."""
    parts = [p for p in chunk.section.split(" > ") if p.strip()]
    for p in reversed(parts):
        if not _not_a_subject(p):
            return p
    return "" if parts else chunk.title


def _base_subject(chunk: Chunk, subjects: Subjects) -> str:
    """The program a chunk is about; for a slide under nothing but the document's title, its
    title lines (a known program's name first)."""
    if chunk.program:
        return subjects.canonical(chunk.program)
    head = _heading(chunk)
    if " > " not in chunk.section:  # under the document's own heading: a slide's title says more
        # 「②連携機関」 among a slide's short lines is an item of a list, not its title
        items = {normalize(x).strip() for x in chunk.text.split("\n") if re.match(r"\s*[①-⑳]", x)}
        titles = [t for t in title_lines(chunk) if not _not_a_subject(t) and t not in items]
        known = [t for t in titles if subjects.known(t)]
        if known:
            return subjects.canonical(known[0])
        if titles and (not head or re.search(r"ページ|抜粋|ポイント|概要", head)):
            return subjects.canonical(titles[0])
    return subjects.canonical(head) or chunk.title


_LABEL_KIND = {"案": "予算", "前年度": "前年度", "補正": "補正", "要求": "要求", "合計": "合計"}
_UNIT_WORD = re.compile(r"(人|名|件|校|大学|機関|か国|カ国|ヵ国|課題|回|拠点|社|者|分野|projects|researchers|people|times"
                        r"|年間|か月|ヶ月|カ月|か年|週間|年先|年度|years?|months?|%|ポイント|割|位)\s*$", re.I)


def _clean(text: str, limit: int = 50) -> str:
    s = re.sub(r"\s+", " ", _DECOR.sub("", normalize(text))).strip(" :：、,()（）/")
    return s[:limit]


def _value(figure: str, kind: str, unit: str) -> tuple[float | None, float | None, str]:
    """(value, upper end of a range, unit): yen for money in 円, the number otherwise."""
    f = normalize(figure).replace(" ", "")
    if kind == "money":
        amounts = parse_amounts(f)
        if amounts:
            return float(amounts[0].yen), (float(amounts[1].yen) if len(amounts) > 1 else None), "円"
        if unit in _MONEY_UNITS:  # a table cell under 「(単位:億円)」
            nums = _NUMBER.findall(f)
            if nums:
                sign = -1 if f.startswith(("△", "▲", "-")) else 1
                return sign * float(nums[0].replace(",", "")) * _MONEY_UNITS[unit], None, "円"
        cur = _CURRENCY.search(f)
        scale = {"million": 10**6, "billion": 10**9, "thousand": 10**3}
        eng = re.search(r"(\d[\d,.]*)\s*(million|billion|thousand)?\s*yen", f, re.I)
        if eng:
            return float(eng.group(1).replace(",", "")) * scale.get((eng.group(2) or "").lower(), 1), None, "円"
        vals = []
        for m in re.finditer(r"(\d[\d,]*(?:\.\d+)?)\s*(兆|億|千万|百万|万|千)?", f):
            vals.append(float(m.group(1).replace(",", "")) * _SCALE.get(m.group(2) or "", 1))
        return (vals[0] if vals else None), (vals[1] if len(vals) > 1 else None), (cur.group(1) if cur else unit)
    nums = _NUMBER.findall(f)
    if not nums:
        return None, None, unit
    era = re.match(r"(昭和|平成|令和)(\d+|元)~(?:(昭和|平成|令和))?(\d+)年度", f)
    if era:  # 「平成28~令和2年度」: how many fiscal years
        start = era_to_western(era.group(1), era.group(2))
        return float(era_to_western(era.group(3) or era.group(1), era.group(4)) - start + 1), None, "年度"
    v = float(nums[0].replace(",", ""))
    m = re.search(r"\d\s*(万|千|億)", f)
    if m:
        v *= _SCALE[m.group(1)]
    if f.startswith(("△", "▲")):
        v = -v
    m = _UNIT_WORD.search(f) or re.search(r"(projects|researchers|people|times)", f)
    return v, None, unit or (m.group(1) if m else "")


def _kind(c: Candidate) -> str:
    """The ledger's kind for a candidate ('' when the figure's kind cannot be told)."""
    if c.kind == "share":
        return "percent"
    if c.kind == "plain":
        if c.unit in _MONEY_UNITS:
            return "money"
        if re.search(r"件数|人数|者数|数$|数\s", c.subject):
            return "count"
        return ""
    return c.kind if c.kind in ("money", "count", "percent", "period", "rank") else ""


def _table_budget_kind(head: str) -> str:
    for word, kind in (("補正", "補正"), ("決算", "決算"), ("要求", "要求"), ("要望", "要求"), ("予算", "予算")):
        if word in head:
            return kind
    return ""


def _physical(chunk: Chunk, line: int, figure: str) -> tuple[int, str, str]:
    """The file line that holds the figure (a reader's logical line may join a PDF's wrapped
    lines): its number, normalised text and raw text."""
    lines = chunk.text.split("\n")
    off = line - chunk.line_start
    target = figure.replace(" ", "")
    for k in range(max(0, off), min(len(lines), off + 4)):
        if target in normalize(lines[k]).replace(" ", ""):
            return chunk.line_start + k, normalize(lines[k]), lines[k]
    raw = lines[off] if 0 <= off < len(lines) else ""
    return line, normalize(raw), raw


def _not_a_figure(c: Candidate, kind: str, line: str, raw: str) -> bool:
    """A figure reading that is no figure: 「Top10%論文」 (a name), 「1件当たり」 (a unit), 「18万3千円」
    read from its middle."""
    at = line.replace(" ", "").find(c.figure.replace(" ", ""))
    flat = line.replace(" ", "")
    before = flat[:at] if at >= 0 else ""
    after = flat[at + len(c.figure.replace(" ", "")):] if at >= 0 else ""
    if kind == "percent" and (re.search(r"top$", before, re.I) or re.search(r"top\s*$", normalize(c.own), re.I)):
        return True
    if c.figure.replace(" ", "") not in normalize(re.sub(r"[①-⑳]", "#", raw)).replace(" ", ""):
        return True  # 「③社会」 read as 「3社」
    if kind == "count" and re.match(r"^\D{0,1}1\D", c.figure + " ") and re.match(r"(当たり|あたり|に対し|につき)", after):
        return True
    return kind == "money" and bool(re.search(r"\d[万億兆]$", before))


def _records_of(chunk: Chunk, subjects: Subjects) -> list[Record]:
    base = _base_subject(chunk, subjects)
    cands = candidates(chunk)
    labelled = {(c.line, c.figure) for c in cands if c.budget_kind}
    facts = {(f.line, f.amount.text): f for f in money_facts(chunk)}
    out: list[Record] = []
    seen: set[tuple] = set()
    for c in sorted(cands, key=lambda c: _SHAPE_ORDER.get(c.shape, 3)):
        kind = _kind(c)
        if not kind:
            continue
        if not c.budget_kind and (c.line, c.figure) in labelled:
            continue  # the prose reading of a budget line the slide reader labelled
        line_no, line_text, raw = _physical(chunk, c.line, c.figure)
        if _not_a_figure(c, kind, line_text, raw):
            continue
        year, bkind, label, subject = c.year, c.budget_kind, "", base
        if c.shape == "table":
            row, _, head = c.subject.partition(" ")
            subject = subjects.canonical(row) if subjects.canonical(row) != row else _clean(row)
            label = _clean(head)
            years = sorted(set(fiscal_years(head))) or sorted(set(fiscal_years(c.context)))
            year = years[0] if len(years) == 1 else None
            bkind = (_table_budget_kind(head) or (_table_budget_kind(c.context) if len(years) == 1 else "")
                     ) if kind == "money" else ""
        elif not bkind:
            fact = facts.get((c.line, c.figure))
            label = _clean(c.own if c.shape == "slide" else c.subject)
            if c.shape == "slide" and c.subject.strip():
                label = _clean(c.subject.split(" ")[0]) or label
            # the year of the figure's own clause (not of an earlier item: 「■開始:昭和57年度 ■期間:2年間」)
            own = re.split(r"[■●◆]", normalize(c.own))[-1]
            years = sorted(set(fiscal_years(own)))
            if fact is not None and fact.kind and fact.year:
                year, bkind = fact.year, _LABEL_KIND.get(fact.kind, "")
            elif fact is not None and fact.year:
                year = fact.year
            elif len(years) == 1:
                year = years[0]
            at = locate(line_text, c.figure, normalize(c.span))
            if (fact is None or not fact.year) and not years:
                year = column_year(chunk, line_no, line_text, at) or year
            if year is None and kind in ("money", "count", "percent") and not years:
                segment = next((p for p in re.split(r"[■●◆]", line_text) if c.figure in p), line_text)
                # a 「(前年度114件)」 bracket's figure is of the year its sentence is about
                bound = year_bound(c, kind, label, line_text, at) or in_previous_year_bracket(line_text, c.figure, at)
                year = context_year(chunk, segment, document=bound, figure=c.figure, line_no=line_no,
                                    at=locate(segment, c.figure, normalize(c.span)))
            year = previous_year(year, line_text, c.figure, at)
        if year is not None and not 1900 < year < 2100:
            year = None
        value, upper, unit = _value(c.figure, kind, c.unit)
        key = (line_no, c.figure, bkind, year, label)
        if key in seen:
            continue
        seen.add(key)
        cite = Cite(chunk.source, line_no, line_no, chunk.section, chunk.title, chunk.date)
        out.append(Record(subject or chunk.title, kind, year, BUDGET_KINDS.get(bkind, bkind), value, unit,
                          c.figure, label, (cite,), upper))
    return out


def build_ledger(chunks: Iterable[Chunk], *, subjects: Subjects | None = None,
                 corpus_dir: Path | None = None) -> list[Record]:
    """Every figure of ``chunks`` as a record; one record per (key, value) with all its citations."""
    chunks = list(chunks)
    subjects = subjects or subjects_for(corpus_dir, chunks)
    merged: dict[tuple, Record] = {}
    for chunk in chunks:
        for r in _records_of(chunk, subjects):
            k = (r.key(), r.value, r.upper, r.unit)
            have = merged.get(k)
            if have is None:
                merged[k] = r
                continue
            cites = have.citations + tuple(c for c in r.citations if (c.source, c.line_start) not in
                                           {(x.source, x.line_start) for x in have.citations})
            merged[k] = Record(have.subject, have.kind, have.year, have.budget_kind, have.value, have.unit,
                               have.as_written, have.label, tuple(sorted(cites, key=lambda c: (c.source, c.line_start))),
                               have.upper)
    return sorted(merged.values(), key=lambda r: (r.subject, r.kind, r.year or 0, r.budget_kind, r.label,
                                                  r.first.source, r.first.line_start))
