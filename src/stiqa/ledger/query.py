"""Filters over the ledger, with one-line errors a person can act on: an unknown subject names the
nearest ones, an unknown year names the years the corpus has, a malformed value says what is read.

Pure functions over a ``Ledger``; they raise ``FilterError`` (a ``ValueError``) with the message.
"""
from __future__ import annotations

import difflib
import re
import unicodedata

from stiqa.ledger.records import KINDS, Record, era

#: Japanese and English names for the kinds (「金額」 = money)
KIND_NAMES = {"money": "money", "金額": "money", "予算": "money", "円": "money", "count": "count", "件数": "count",
              "人数": "count", "数": "count", "percent": "percent", "割合": "percent", "率": "percent", "%": "percent",
              "period": "period", "期間": "period", "rank": "rank", "順位": "rank"}
_ERA = {"令和": 2018, "平成": 1988, "昭和": 1925, "r": 2018, "h": 1988, "s": 1925}


class FilterError(ValueError):
    """A filter value that cannot be used, with the message to show."""


def _norm(text: str) -> str:
    return re.sub(r"[\s・･·,、()（）「」]", "", unicodedata.normalize("NFKC", text)).lower()


def parse_year(text: str) -> int:
    """A fiscal year as users write it: 2023, 2023年度, FY2023, 令和5年度, 令和5, R5, H30 -> western."""
    t = unicodedata.normalize("NFKC", str(text)).strip().lower().replace(" ", "")
    m = re.fullmatch(r"(?:fy)?((?:19|20)\d{2})(?:年度?)?", t)
    if m:
        return int(m.group(1))
    m = re.fullmatch(r"(令和|平成|昭和|r|h|s)(\d{1,2}|元)(?:年度?)?", t)
    if m:
        return _ERA[m.group(1)] + (1 if m.group(2) == "元" else int(m.group(2)))
    raise FilterError(f"年度の指定が読めません: {text!r}（例: 2023, 2023年度, 令和5年度, R5）")


def parse_kind(text: str) -> str:
    k = KIND_NAMES.get(unicodedata.normalize("NFKC", str(text)).strip().lower())
    if k is None:
        raise FilterError(f"種類の指定が読めません: {text!r}（{', '.join(KINDS)} のいずれか。金額・件数・割合・期間・順位も可）")
    return k


def subject_names(ledger) -> dict[str, list[str]]:
    """Each subject with its other names (official first)."""
    return {s: ledger.aliases.get(s, [s]) for s in ledger.subjects()}


def match_subjects(ledger, text: str) -> list[str]:
    """Subjects named by ``text``: an alias equal to it, else subjects or aliases containing it."""
    want = _norm(text)
    if not want:
        raise FilterError("主題が空です（例: --subject SICORP）")
    names = subject_names(ledger)
    exact = [s for s, al in names.items() if any(_norm(a) == want for a in [s, *al])]
    if exact:
        return exact
    return [s for s, al in names.items() if any(want in _norm(a) for a in [s, *al])]


def nearest_subjects(ledger, text: str, *, n: int = 3) -> list[str]:
    """The subjects whose names are closest to ``text`` (for an unknown-subject message)."""
    names = subject_names(ledger)
    by_alias = {_norm(a): s for s, al in names.items() for a in [s, *al]}
    close = difflib.get_close_matches(_norm(text), list(by_alias), n=n * 3, cutoff=0.3)
    grams = {_norm(text)[i:i + 2] for i in range(max(1, len(_norm(text)) - 1))}
    scored = sorted(by_alias, key=lambda a: -len(grams & {a[i:i + 2] for i in range(max(1, len(a) - 1))}))
    out: list[str] = []
    for a in close + scored:
        if by_alias[a] not in out:
            out.append(by_alias[a])
        if len(out) >= n:
            break
    return out


def select(ledger, *, subject: str | None = None, year: str | int | None = None,
           kind: str | None = None) -> list[Record]:
    """The records matching every filter given; ``FilterError`` for a value the ledger cannot match."""
    records = list(ledger.records)
    if kind is not None:
        k = parse_kind(kind)
        records = [r for r in records if r.kind == k]
    if subject is not None:
        subjects = match_subjects(ledger, subject)
        if not subjects:
            near = nearest_subjects(ledger, subject)
            raise FilterError(f"「{subject}」の数値は資料にありません。" + (f"近い主題: {'、'.join(near)}" if near else ""))
        records = [r for r in records if r.subject in subjects]
    if year is not None:
        y = year if isinstance(year, int) else parse_year(year)
        have = sorted({r.year for r in records if r.year is not None})
        records = [r for r in records if r.year == y]
        if not records:
            where = f"{subject}の" if subject else ""
            listed = "、".join(f"{era(h)}（{h}）" for h in have) or "なし"
            raise FilterError(f"{era(y)}（{y}年度）の{where}数値は資料にありません。資料にある年度: {listed}")
    return records
