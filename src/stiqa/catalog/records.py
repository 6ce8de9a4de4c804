"""The program catalog's records: ``Program``s whose every value is a ``Fact`` with its file and line
citation, the ``Catalog`` of them with its alias table, and the tag vocabulary of ``data/programs.json``
(shared with the finder). Pure data and lookups; ``build`` makes them from the corpus."""
from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Iterator


DATA_FILE = Path(__file__).with_name("data") / "programs.json"
LIST_FIELDS = ("aliases", "agency", "purpose", "audience", "direction", "regions", "fields",
               "amount", "expenses", "period", "headcount", "start")
FIELD_LABELS = {"name": "名称", "aliases": "別称", "agency": "実施機関", "purpose": "目的",
                "audience": "対象者", "direction": "方向", "regions": "国・地域", "fields": "分野",
                "amount": "支援額", "expenses": "支援経費", "period": "期間", "headcount": "人数・件数",
                "start": "開始", "budgets": "予算", "anchor": "区切り"}
TAGGED = ("audience", "direction", "regions", "fields")
_DOTS = str.maketrans({"·": "・", "･": "・", "•": "・"})
T = tuple[str, ...]


def nfkc(text: str) -> str:
    """NFKC plus one middle dot: the PDF text mixes ・, ·, ･."""
    return unicodedata.normalize("NFKC", text).translate(_DOTS)


def match_key(text: str) -> str:
    """Comparison form for citations: NFKC, no whitespace, commas or markdown emphasis."""
    return re.sub(r"[\s,、*]", "", nfkc(text))


def mention_key(text: str) -> str:
    """Alias form: NFKC, lower case, spaces dropped unless between two ASCII characters."""
    t = nfkc(text).lower()
    return re.sub(r"\s+", lambda m: " " if m.start() and m.end() < len(t) and t[m.start() - 1].isascii()
                  and t[m.end()].isascii() else "", t).strip()


@lru_cache(maxsize=4)
def load_vocabulary(data_file: Path = DATA_FILE) -> dict[str, list[tuple[re.Pattern[str], T]]]:
    """Tag vocabulary of the data file: kind -> [(regex over NFKC text, tags)]; shared with the finder."""
    if not data_file.is_file():  # the curated file is optional: no tags beyond what the text gives
        return {}
    raw = json.loads(data_file.read_text(encoding="utf-8"))["vocabulary"]
    return {k: [(re.compile(p), tuple(t)) for p, t in rows] for k, rows in raw.items()}


def tags_for(kind: str, text: str, data_file: Path = DATA_FILE) -> T:
    """Normalised tags for an audience/region/field/direction value (vocabulary rules)."""
    t, out = nfkc(text), []
    for pat, tags in load_vocabulary(data_file)[kind]:
        if pat.search(t):
            out += [x for x in tags if x not in out]
    if kind == "audience" and "研究者" in t and not {"若手研究者", "トップ研究者"} & set(out):
        out.append("研究者")
    if kind == "audience" and re.search(r"(?<![小中])学生", t) and not {"博士後期課程学生", "大学生", "大学院生"} & set(out):
        out.append("大学生")
    return tuple(out)


@dataclass(frozen=True)
class Fact:
    """One value as the documents state it, where (file, 1-based lines) and how it was obtained."""

    value: str
    source: str
    line_start: int
    line_end: int
    tags: T = ()
    origin: str = "code"  # "code" (extracted by rule) or "data" (data/programs.json)

    def cite(self) -> str:
        lines = f"L{self.line_start}" if self.line_start == self.line_end else f"L{self.line_start}-{self.line_end}"
        return f"〔{self.source} {lines}〕"


@dataclass(frozen=True)
class Budget:
    """A budget figure: fiscal year, kind (予算額（案）, 前年度予算額, 補正予算額, 要求・要望額, 合計)."""

    fiscal_year: str
    kind: str
    amount: str
    label: str
    fact: Fact


@dataclass(frozen=True)
class Program:
    """A program, initiative or scheme; ``kind`` is program, sub, umbrella or initiative."""

    id: str
    kind: str
    parent: str
    name: Fact
    aliases: tuple[Fact, ...] = ()
    agency: tuple[Fact, ...] = ()
    purpose: tuple[Fact, ...] = ()
    audience: tuple[Fact, ...] = ()
    direction: tuple[Fact, ...] = ()
    regions: tuple[Fact, ...] = ()
    fields: tuple[Fact, ...] = ()
    amount: tuple[Fact, ...] = ()
    expenses: tuple[Fact, ...] = ()
    period: tuple[Fact, ...] = ()
    headcount: tuple[Fact, ...] = ()
    start: tuple[Fact, ...] = ()
    budgets: tuple[Budget, ...] = ()

    def facts(self) -> Iterator[tuple[str, Fact]]:
        """Every cited value with its field name (budgets as their amount fact)."""
        yield "name", self.name
        for f in LIST_FIELDS:
            for fact in getattr(self, f):
                yield f, fact
        for b in self.budgets:
            yield "budgets", b.fact

    def tags(self, kind: str) -> set[str]:
        return {t for f in getattr(self, kind) for t in f.tags}


def _alias_regex(table: dict[str, str]) -> re.Pattern[str]:
    """Longest-first alternation of ``mention_key`` aliases; Latin ends need word edges."""
    def one(k: str) -> str:
        edge = r"(?<![a-z0-9])" if k[0].isascii() and k[0].isalnum() else ""
        return edge + re.escape(k) + (r"(?![a-z0-9])" if k[-1].isascii() and k[-1].isalnum() else "")
    return re.compile("|".join(one(k) for k in sorted(table, key=len, reverse=True)) or r"(?!)")


def _find(regex: re.Pattern[str], table: dict[str, str], text: str) -> list[tuple[int, str]]:
    """(position, program id) of each alias mention in ``text``, in order."""
    return [(m.start(), table[m.group()]) for m in regex.finditer(mention_key(text))]


@dataclass(frozen=True)
class Catalog:
    """All programs, the human-readable problems found while checking citations, and where from."""

    programs: tuple[Program, ...]
    problems: tuple[str, ...] = ()
    corpus_dir: str = field(default="", compare=False)

    def get(self, program_id: str) -> Program | None:
        return self.by_id.get(program_id)

    @cached_property
    def by_id(self) -> dict[str, Program]:
        return {p.id: p for p in self.programs}

    @cached_property
    def aliases(self) -> dict[str, str]:
        table: dict[str, str] = {}
        for p in self.programs:
            for f in (p.name, *p.aliases):
                table.setdefault(mention_key(f.value), p.id)
        return table

    @cached_property
    def alias_regex(self) -> re.Pattern[str]:
        return _alias_regex(self.aliases)


def find_program_mentions(text: str, catalog: Catalog) -> list[str]:
    """Program ids a text mentions, in order of appearance (longest alias wins at each position)."""
    out: list[str] = []
    for _, pid in _find(catalog.alias_regex, catalog.aliases, text):
        if pid not in out:
            out.append(pid)
    return out
