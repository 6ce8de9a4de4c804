"""Budget figures across fiscal years and documents, read from the figure ledger (ledger/).

「SICORPの令和4年度と令和6年度の予算額を比べると？」 needs the figure of each year asked, each from the
document that states it, not the two figures of whichever passage ranked first; the difference and
the rate are stiqa's arithmetic and labelled so (the number guard skips only that labelled clause).
When two documents state different values for one fact (a revised budget, an uploaded note), the
newest document's figure is stated and the other named with its citation.
"""
from __future__ import annotations

import re
from typing import Any

from stiqa.answer.guard import numbers_supported
from stiqa.text.japanese import compact, era_to_western, fiscal_years, normalize, parse_amounts
from stiqa.ledger.records import Record, era
from stiqa.ledger.store import FILE, Ledger, LedgerMissing, load
from stiqa.records import ABSTAIN_TEXT, Answer, Chunk, Citation
from stiqa.answer.question import KINDS, Query, asked_kind

#: which budget kind answers for a year, best first (the year's own budget document, then a later
#: document's 前年度 line, then a request)
_PREFER = {"予算": 0, "前年度": 1, "要求・要望": 2}
_LABEL = {"予算": "予算額", "要求・要望": "要求・要望額", "前年度": "予算額"}


def ledger_for(searcher: Any) -> Ledger:
    """The ledger of the searcher's index generation (read once per searcher; built from its
    chunks when the generation has none)."""
    led = getattr(searcher, "_stiqa_ledger", None)
    if led is not None:
        return led
    settings, gen = getattr(searcher, "settings", None), getattr(searcher, "generation", "")
    try:
        if settings is None or not gen:
            raise LedgerMissing("no generation")
        led = load(settings.index_dir / gen / FILE)
    except LedgerMissing:
        from stiqa.ledger.build import build_ledger, subjects_for

        corpus = getattr(settings, "corpus_dir", None)
        subjects = subjects_for(corpus, searcher.chunks)
        records = build_ledger(searcher.chunks, subjects=subjects)
        led = Ledger(records, {s: subjects.aliases(s) for s in {r.subject for r in records}})
    try:
        setattr(searcher, "_stiqa_ledger", led)
    except AttributeError:
        pass
    return led


def _subject(ledger: Ledger, q: Query, groups: list[list[str]]) -> str:
    """The one ledger subject the question names ('' when none, or when it names several)."""
    names = {s: [s, *ledger.aliases.get(s, [])] for s in ledger.subjects()}
    keys = {compact(n).lower(): s for s, al in names.items() for n in al if len(compact(n)) >= 2}
    for g in groups:
        for n in g:
            if compact(n).lower() in keys:
                return keys[compact(n).lower()]
    text = compact(q.text).lower()
    found = sorted({(len(k), s) for k, s in keys.items() if len(k) >= 4 and k in text}, reverse=True)
    return found[0][1] if found else ""


def _named(subject: str, ledger: Ledger) -> str:
    """「戦略的国際共同研究プログラム（SICORP）」: the official name with its abbreviation."""
    abbr = [a for a in ledger.aliases.get(subject, []) if re.fullmatch(r"[A-Za-z][A-Za-z0-9\-]{1,15}", a)]
    return f"{subject}（{abbr[0]}）" if abbr and abbr[0] not in subject else subject


def _budget_records(ledger: Ledger, subject: str, q: Query) -> list[Record]:
    kinds = {"補正"} if q.kind == "補正" else set(_PREFER)
    return [r for r in ledger.records if r.subject == subject and r.kind == "money" and r.budget_kind in kinds
            and r.year is not None and r.value is not None]


def _for_year(records: list[Record], year: int, q: Query) -> Record | None:
    own = [r for r in records if r.year == year]
    if not own:
        return None
    want_request = q.kind == "要求"
    return min(own, key=lambda r: (0 if want_request and r.budget_kind == "要求・要望" else 1,
                                   _PREFER.get(r.budget_kind, 9)))


def _doc_rank(r: Record, ledger: Ledger | None = None) -> int:
    """How new the document stating ``r`` is: its date as written (YYYYMMDD); else its latest
    fiscal year (from the date text, or from the budget years the document states) as YYYY0000."""
    c = r.first
    date = normalize(c.date or "")
    m = re.search(r"((?:19|20)\d{2})[-/.年](\d{1,2})(?:[-/.月](\d{1,2}))?", date)
    if m:
        return int(m.group(1)) * 10000 + int(m.group(2)) * 100 + int(m.group(3) or 0)
    m = re.search(r"(令和|平成)\s*(\d{1,2}|元)\s*年\s*(\d{1,2})\s*月(?:\s*(\d{1,2})\s*日)?", date)
    if m:  # 「令和5年12月22日」
        return era_to_western(m.group(1), m.group(2)) * 10000 + int(m.group(3)) * 100 + int(m.group(4) or 0)
    years = fiscal_years(date)
    if not years and ledger is not None:
        years = [x.year for x in ledger.records if x.year and x.budget_kind in ("予算", "要求・要望")
                 and any(y.source == c.source for y in x.citations)]
    return max(years) * 10000 if years else 0


def _chunk(chunks: list[Chunk], r: Record) -> Chunk | None:
    c = r.first
    return next((ch for ch in chunks if ch.source == c.source and ch.line_start <= c.line_start <= ch.line_end), None)


def _stated(r: Record) -> str:
    if r.budget_kind == "前年度":
        return f"{era(r.year)}の予算額は{r.as_written}（{era((r.year or 0) + 1)}の資料の前年度予算額）"
    return f"{era(r.year)}の{_LABEL.get(r.budget_kind, '金額')}は{r.as_written}"


def _difference(a: Record, b: Record) -> str:
    """「差は+52百万円（+4.5%）の増です（stiqaによる計算）」, in the unit both figures are written in;
    the direction said in words too, as the question asked it (「増えた？」)."""
    d = (b.value or 0) - (a.value or 0)
    if d == 0:
        return "同額です（stiqaによる計算）"
    sign = "+" if d > 0 else "-"
    for unit, scale in (("百万円", 10**6), ("億円", 10**8), ("万円", 10**4)):
        if a.as_written.endswith(unit) and b.as_written.endswith(unit):
            n = abs(d) / scale
            amount = f"{n:,.0f}{unit}" if float(n).is_integer() else f"{n:,.1f}{unit}"
            break
    else:
        amount = f"{abs(d) / 10**6:,.0f}百万円" if abs(d) % 10**6 == 0 else f"{abs(d):,.0f}円"
    rate = f"（{sign}{abs(d) / a.value * 100:.1f}%）" if a.value else ""
    return f"差は{sign}{amount}{rate}の{'増' if d > 0 else '減'}です（stiqaによる計算）"


def _years_note(subject: str, records: list[Record]) -> str:
    years = sorted({r.year for r in records if r.year is not None})
    listed = "、".join(era(y) for y in years)
    return f"（資料にある{subject}の予算の年度は {listed} です。）" if listed else ""


def compare_answer(question: str, q: Query, groups: list[list[str]], searcher: Any) -> Answer | None:
    """An answer comparing one subject's budget across two fiscal years, or None when the question
    is not one (or the corpus holds that subject's budget in one document only and the passage's
    own 前年度 line answers it)."""

    asks = asked_kind(q.text)
    two_years = len(set(q.years)) >= 2
    previous = bool(KINDS["前年度"].search(q.text)) and len(set(q.years)) <= 1
    if asks not in ("money", "") or not (two_years or previous):
        return None
    if not re.search(r"比べ|比較(?!的)|変わ|変化|増え|減っ|増額|減額|増加|減少|差|推移|compared|change", q.text):
        return None
    ledger = ledger_for(searcher)
    subject = _subject(ledger, q, groups)
    if not subject:
        return None
    records = _budget_records(ledger, subject, q)
    if not records:
        return None
    if two_years:
        y1, y2 = sorted(set(q.years))[0], sorted(set(q.years))[-1]
    else:
        if len({c.source for r in records for c in r.citations}) < 2:
            return None  # one document: its own 「前年度」 line answers (claims.Claims._compare)
        y2 = q.years[0] if q.years else max(r.year for r in records if r.budget_kind in ("予算", "要求・要望")) \
            if any(r.budget_kind in ("予算", "要求・要望") for r in records) else max(r.year for r in records)
        y1 = y2 - 1
    a, b = _for_year(records, y1, q), _for_year(records, y2, q)
    if a is None or b is None:
        missing = "、".join(era(y) for y, r in ((y1, a), (y2, b)) if r is None)
        return Answer(question, f"{ABSTAIN_TEXT}（{subject}の{missing}の予算額は資料にありません。"
                                + _years_note(subject, records).strip("（）") + "）", [], True)
    ca, cb = _chunk(searcher.chunks, a), _chunk(searcher.chunks, b)
    if ca is None or cb is None:
        return None
    text = f"{_named(subject, ledger)}の{_stated(a)}、{_stated(b)}で、{_difference(a, b)}。"
    used = [ca] if ca.id == cb.id else [ca, cb]
    if not numbers_supported(text, [c.text for c in used]):
        return None
    cites = [Citation.from_chunk(ca, a.as_written)] + ([Citation.from_chunk(cb, b.as_written)] if cb.id != ca.id else [])
    return Answer(question, text, cites, False)


def conflict_note(text: str, used: list[Chunk], searcher: Any) -> tuple[str, list[Chunk]]:
    """When a yen figure the answer states has another value in another document for the same
    (subject, kind, year, budget kind): the newest document's figure first, the other named with
    its citation (「なお、…では…と記載されています」)."""
    amounts = {a.yen for a in parse_amounts(text)}
    if not amounts or not used:
        return text, used
    try:
        ledger = ledger_for(searcher)
    except Exception:  # noqa: BLE001 - a note is an extra: never fail the answer for it
        return text, used
    cited = [(c.source, c.line_start, c.line_end) for c in used]
    stated = [r for r in ledger.records if r.kind == "money" and r.budget_kind and r.value in amounts
              and any(s == x.source and lo <= x.line_start <= hi for x in r.citations for s, lo, hi in cited)]
    for r in stated:
        others = [o for o in ledger.records if o.same_fact() == r.same_fact() and o.value != r.value
                  and o.value is not None and not {x.source for x in o.citations} & {x.source for x in r.citations}]
        if not others:
            continue
        newest = max([r, *others], key=lambda x: _doc_rank(x, ledger))
        rest = [o for o in [r, *others] if o is not newest]
        chunk_new = _chunk(searcher.chunks, newest)
        notes, extra = [], []
        for o in rest:
            ch = _chunk(searcher.chunks, o)
            if ch is None:
                continue
            title = o.first.title or o.first.source
            notes.append(f"なお、「{title}」（{o.first.short()}）では{_stated(o)}と記載されています。")
            extra.append(ch)
        if not notes or chunk_new is None:
            continue
        if newest is not r:  # the newest document's figure is the answer
            text = (f"{_named(newest.subject, ledger)}の{_stated(newest)}です"
                    f"（より新しい資料「{newest.first.title or newest.first.source}」による）。")
            used = [chunk_new]
        chunks = used + [c for c in extra if c.id not in {u.id for u in used}]
        return text + "".join(notes), chunks
    return text, used
