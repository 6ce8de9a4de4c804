"""Pair every figure in a passage with its label, as a reader of the slides does.

「令和5年度予算額（案）：1,073百万円（前年度予算額：1,160百万円）」 gives two facts; a label on one
line and its figure two lines below (「令和5年度補正予算額」 … 「146億円」) gives one; labels listed
first and figures after (「要求·要望額 (前年度予算 … 10億円 8億円)」) pair in order.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from stiqa.text.japanese import Amount, era_to_western, normalize, parse_amounts
from stiqa.records import Chunk

_BUDGET_LABEL = re.compile(
    r"(?:(?P<era>令和|平成)\s*(?P<y>\d{1,2}|元)\s*年度\s*)?"
    r"(?:第\s*\d\s*次\s*)?"
    r"(?P<label>補正予算額|補正予算|予算額\s*[（(]案[）)]|予算額|前年度予算額?|前年度|要求\s*[・·]?\s*要望額|要求額|要望額|合計|総額|総予算額?)"
)


@dataclass(frozen=True)
class MoneyFact:
    """A yen figure with its label, fiscal year and kind, located in a chunk."""

    chunk: Chunk
    line: int  # 1-based line in the source file
    label: str  # as written, e.g. 「令和5年度予算額（案）」
    kind: str  # "案", "前年度", "補正", "要求", "合計" or "" (unlabelled)
    year: int | None  # western fiscal year when known
    amount: Amount
    line_text: str


def _kind(label: str) -> str:
    if "合計" in label or "総額" in label:
        return "合計"
    if "補正" in label:
        return "補正"
    if "前年度" in label:
        return "前年度"
    if "要求" in label or "要望" in label:
        return "要求"
    if "合計" in label or "総" in label:
        return "合計"
    return "案" if "予算" in label else ""


def money_facts(chunk: Chunk) -> list[MoneyFact]:
    """Label/amount pairs of a chunk in reading order (labels queue up until figures arrive)."""
    facts: list[MoneyFact] = []
    pending: list[tuple[str, int | None, int, int, int]] = []  # label, year, line, start, end
    for offset, raw in enumerate(chunk.text.split("\n")):
        line_no = chunk.line_start + offset
        text = normalize(raw)
        events: list[tuple[int, str, object]] = []
        for m in _BUDGET_LABEL.finditer(text):
            year = era_to_western(m.group("era"), m.group("y")) if m.group("era") else None
            events.append((m.start(), "label", (m.group(0), year, line_no, m.start(), m.end())))
        for a in parse_amounts(text):
            events.append((a.start, "amount", a))
        events.sort(key=lambda e: e[0])
        for _, what, value in events:
            if what == "label":
                pending.append(value)  # type: ignore[arg-type]
                continue
            amount: Amount = value  # type: ignore[assignment]
            label, year = "", None
            last = pending[-1] if pending else None
            if last and last[2] == line_no and 0 <= amount.start - last[4] <= 4:
                # the label right before the figure is its own; earlier labels on the same line
                # belong to it too when it sums them (「補正予算額及び令和5年度予算額の合計502億円」)
                same_line = [p for p in pending if p[2] == line_no]
                if last[0] in ("合計", "総額") and len(same_line) > 1:
                    label, year = text[same_line[0][3]:last[4]], None
                    pending = [p for p in pending if p[2] != line_no]
                else:
                    label, year = last[0], last[1]
                    pending.pop()
            elif pending:
                label, year = pending.pop(0)[:2]
            facts.append(MoneyFact(chunk, line_no, label, _kind(label), year, amount, raw.strip()))
    _fill_years(facts)
    return _column_labels(chunk, facts)


def _column_labels(chunk: Chunk, facts: list[MoneyFact]) -> list[MoneyFact]:
    """A row of figures under a row of headings (「研究代表者 博士研究員 大学院生」 over
    「3,000万円/年 1,500万円/年 500万円/年」) pairs by position."""
    lines = chunk.text.split("\n")
    out = list(facts)
    by_line: dict[int, list[int]] = {}
    for i, f in enumerate(facts):
        by_line.setdefault(f.line, []).append(i)
    for line_no, idx in by_line.items():
        if len(idx) < 2 or any(facts[i].label for i in idx):
            continue
        above = [l for l in lines[: line_no - chunk.line_start] if l.strip()]
        if not above or "\t" in above[-1] or "\t" in facts[idx[0]].line_text:
            continue  # tab rows are key/value tables, not columns
        cells = [c for c in re.split(r"\s+", normalize(above[-1]).strip()) if c and not c.startswith("<")]
        # headings are names (研究代表者 博士研究員 大学院生), not values: a line of periods or
        # figures above (「支援期間 【導入支援】最大1年間…」) is another row, not the column heads
        if len(cells) == len(idx) and not any(parse_amounts(c) or re.search(r"\d", c) for c in cells):
            for cell, i in zip(cells, idx):
                f = facts[i]
                out[i] = MoneyFact(f.chunk, f.line, cell, "", f.year, f.amount, f.line_text)
    return out


def _fill_years(facts: list[MoneyFact]) -> None:
    """前年度 is the year before the labelled year next to it (令和5年度 … 前年度 = 令和4年度)."""
    base = next((f.year for f in facts if f.year and f.kind in ("案", "要求")), None)
    for i, f in enumerate(facts):
        if f.kind == "前年度" and f.year is None and base:
            facts[i] = MoneyFact(f.chunk, f.line, f.label, f.kind, base - 1, f.amount, f.line_text)
