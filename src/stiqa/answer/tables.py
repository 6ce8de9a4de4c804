"""Tables of names and numbers: rankings (「一番多いのは？」「2番目は？」) and short names (京大).

Slides flatten tables into tab-separated rows: 「米国 51 イタリア 6 スペイン 3」 is three
name/number pairs, 「東京大学 27」 one. Reading every pair of a table lets stiqa answer which
entry is largest, which comes n-th, and whether a name is in the table at all. Pure functions.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from stiqa.text.japanese import compact, normalize
from stiqa.records import Chunk

_NUMBER_CELL = re.compile(r"\d[\d,]*(?:\.\d+)?")
#: rows that sum the others are not entries of the ranking
_TOTAL = re.compile(r"^(合計|計|総計|小計|total)$", re.I)
_KANJI_NUMERALS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_FIRST = re.compile(r"(一番|最も|もっとも)(多|大き|高|少な)|最多|最少|首位|(?<!\d)1位|the most|the largest|the fewest", re.I)
_NTH = re.compile(r"(\d+|[一二三四五六七八九十])\s*(?:番目|位)|(\d+)(?:nd|rd|th)\b", re.I)
_FEWEST = re.compile(r"少ない|最少|最小|fewest|least", re.I)


@dataclass(frozen=True)
class Entry:
    """One name/number pair of a table row."""

    name: str
    value: float
    text: str  # the number as written
    line: int  # 1-based line in the source file


def rank_asked(question: str) -> tuple[int, bool] | None:
    """(position, largest first) when the question asks for a ranking, else None."""
    text = normalize(question)
    m = _NTH.search(text)
    if m:
        raw = m.group(1) or m.group(2)
        n = int(raw) if raw.isdigit() else _KANJI_NUMERALS[raw]
    elif _FIRST.search(text):
        n = 1
    else:
        return None
    return n, not _FEWEST.search(text)


def entries(chunk: Chunk) -> list[Entry]:
    """Every name/number pair in the chunk's tab-separated rows, in reading order."""
    out = []
    for off, raw in enumerate(chunk.text.split("\n")):
        if "\t" not in raw:
            continue
        cells = [c.strip() for c in raw.split("\t")]
        for name, num in zip(cells, cells[1:]):
            if not name or _NUMBER_CELL.fullmatch(name) or not _NUMBER_CELL.fullmatch(num) or _TOTAL.match(name):
                continue
            if not re.search(r"[^\W\d_]", name) or len(name) > 20:
                continue
            out.append(Entry(name, float(num.replace(",", "")), num, chunk.line_start + off))
    return out


def nth(items: list[Entry], n: int, largest: bool = True) -> list[Entry]:
    """The entries at position n (1-based) by value; ties share the position's value."""
    if not 1 <= n <= len(items):
        return []
    ordered = sorted(items, key=lambda e: -e.value if largest else e.value)
    value = ordered[n - 1].value
    return [e for e in ordered if e.value == value]


def abbreviates(short: str, name: str) -> bool:
    """Is ``short`` a Japanese short form of ``name`` (京大 = 京都大学, 理研 = 理化学研究所)?

    The short form keeps the name's first character and then characters of the name in order,
    and is not simply part of it (東大 is not in 東京大学, 大学 is).
    """
    s, n = compact(short), compact(name)
    if not (2 <= len(s) <= 4 and len(n) > len(s) and s[0] == n[0]) or s in n:
        return False
    if not re.fullmatch(r"[一-龯]+", s) or not re.search(r"(大学|研究所|機構|協会|大学院)$", n):
        return False
    i = 0
    for ch in n:
        if i < len(s) and ch == s[i]:
            i += 1
    return i == len(s)


def short_forms(question: str) -> list[str]:
    """Kanji runs of two to four characters in the question: candidates for short names."""
    return re.findall(r"(?<![一-龯])[一-龯]{2,4}(?![一-龯])", normalize(question))


def names_entry(question: str, name: str) -> bool:
    """Does the question name this table entry, in full or by a short form?"""
    if len(compact(name)) >= 2 and compact(name) in compact(question):
        return True
    return any(abbreviates(s, name) for s in short_forms(question))


def expand(short: str, text: str) -> str:
    """The full name in ``text`` that ``short`` abbreviates, or ''."""
    for m in re.finditer(r"[一-龯ァ-ヴー]{3,}", normalize(text)):
        if abbreviates(short, m.group(0)):
            return m.group(0)
    return ""
