"""What the figure ledger holds: one record per figure, with every place that states it.

Plain dataclasses with a JSON form, so `stiqa figures`, the web tab and the change report read
the stored ledger without loading the index, the embedder or Sudachi.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: budget kinds as the ledger names them (the readers' short names -> the issue's spelling)
BUDGET_KINDS = {"予算": "予算", "案": "予算", "補正": "補正", "要求": "要求・要望", "前年度": "前年度",
                "決算": "決算", "合計": "合計", "": ""}
KINDS = ("money", "count", "percent", "period", "rank")


@dataclass(frozen=True)
class Cite:
    """Where a figure is stated: the file in corpus/ and its lines (what a citation needs)."""

    source: str
    line_start: int
    line_end: int
    section: str = ""
    title: str = ""
    date: str = ""

    def short(self) -> str:
        lines = f"L{self.line_start}" if self.line_start == self.line_end else f"L{self.line_start}-{self.line_end}"
        return f"{self.source} {lines}"


@dataclass(frozen=True)
class Record:
    """One figure: what it is of (subject, label), its kind, fiscal year and budget kind, the
    value normalised (yen for money) and as written, and every citation stating it."""

    subject: str  # the program or heading the figure belongs to (official name where known)
    kind: str  # money, count, percent, period, rank
    year: int | None  # western fiscal year, when the documents say which
    budget_kind: str  # 予算, 補正, 要求・要望, 前年度, 決算, 合計 or ""
    value: float | None  # yen for money; the number in ``unit`` otherwise
    unit: str  # 円, 人, 件, %, 年間 ...
    as_written: str  # the figure as the document writes it (「1,073百万円」)
    label: str = ""  # the line label, row label × column header or clause the figure stands in
    citations: tuple[Cite, ...] = field(default_factory=tuple)
    upper: float | None = None  # the upper end of a range (「5百万円~1億円」)

    def key(self) -> tuple[str, str, int | None, str, str]:
        """What the figure is a figure of: two records with one key and two values conflict. A
        budget line is known by its subject, year and budget kind; another figure by its label too
        (SATREPS's count of projects and of partner countries are different facts)."""
        return (self.subject, self.kind, self.year, self.budget_kind, "" if self.budget_kind else self.label)

    def same_fact(self) -> tuple[str, str, int | None, str, str]:
        """The key under which a 前年度 figure meets the budget of that year: 令和6年度資料の
        「前年度予算額」 is the 令和5年度 budget, so a change against 令和5年度予算額（案） is a change."""
        kind = "予算" if self.budget_kind == "前年度" else self.budget_kind
        return (self.subject, self.kind, self.year, kind, "" if self.budget_kind else self.label)

    @property
    def first(self) -> Cite:
        return self.citations[0]

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["citations"] = [asdict(c) for c in self.citations]
        if d["value"] is not None and float(d["value"]).is_integer():
            d["value"] = int(d["value"])
        if d["upper"] is None:
            del d["upper"]
        elif float(d["upper"]).is_integer():
            d["upper"] = int(d["upper"])
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Record":
        cites = tuple(Cite(**{k: c[k] for k in Cite.__dataclass_fields__ if k in c}) for c in d.get("citations", []))
        return cls(subject=d["subject"], kind=d["kind"], year=d.get("year"), budget_kind=d.get("budget_kind", ""),
                   value=d.get("value"), unit=d.get("unit", ""), as_written=d.get("as_written", ""),
                   label=d.get("label", ""), citations=cites, upper=d.get("upper"))


def era(year: int | None) -> str:
    """令和/平成 spelling of a western fiscal year, for messages ('' when unknown)."""
    if year is None:
        return ""
    for name, start in (("令和", 2019), ("平成", 1989), ("昭和", 1926)):
        if year >= start:
            n = year - start + 1
            return f"{name}{'元' if n == 1 else n}年度"
    return f"{year}年度"
