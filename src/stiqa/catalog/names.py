"""Names of programs and initiatives read from the documents themselves, with their other forms.

Documents introduce a name once with its abbreviation, in a few shapes that policy texts share:
「正式名称（略称）」 (地球規模課題対応国際科学技術協力プログラム(SATREPS), 日本学術振興会(学振)), 「略称 正式名称」 in
a heading or list item (2. NEXUS 日ASEAN科学技術・イノベーション協働連携事業), 「略称：正式名称」, and a page whose title
is the name (EXPERT-J: About the Initiative). Each gives a group of names (official first) for the
conversation's topics, so a follow-up about a new document's program keeps its subject without any
entry in the curated catalog (``data/programs.json``). Pure functions of the chunks.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from stiqa.text.japanese import compact, normalize
from stiqa.records import Chunk

#: a program's name as documents write it: an acronym (SICORP, EXPERT-J), a quoted name (「○○」),
#: or a name of its kind (…事業, …プログラム, …制度, …基金, …イニシアティブ), with its abbreviation
NAME = re.compile(
    r"[一-龯ァ-ヴー・A-Za-z0-9]{2,}(?:事業|プログラム|制度|基金|イニシアティブ)(?:\s*[（(][^)）]{2,20}[)）])?"
    r"|(?<![A-Za-z])[A-Z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)+(?![A-Za-z])|(?<![A-Za-z])[A-Z]{3,}(?![A-Za-z])|「([^」]{2,16})」")
#: bodies, not programs: a lexicon of the field (knowledge of Japanese public administration)
AGENCIES = {"MEXT", "JST", "JSPS", "AMED", "CSTI", "NISTEP", "JICA", "NEDO", "RIKEN", "HC", "PDF", "FA"}
_GENERIC = re.compile(r"^(本|同|当|各|新規|関連|その他の?|他の?)?(事業|プログラム|制度|基金|イニシアティブ)$")

_KIND = r"(?:事業|プログラム|制度|基金|イニシアティブ|推進費|計画)"
_FULL_ABBR = re.compile(rf"([一-龯ァ-ヴー・A-Za-z0-9]{{2,40}}?{_KIND})\s*[（(]([A-Za-z][A-Za-z0-9\-]{{1,15}}|[一-龯ァ-ヴー]{{2,6}})[)）]")
_ABBR_FULL = re.compile(rf"(?<![A-Za-z])([A-Z][A-Za-z0-9\-]{{1,12}})\s*[:：]?\s+([一-龯ァ-ヴー・]{{4,40}}{_KIND})")
_TITLE_ACRONYM = re.compile(r"^#?\s*([A-Z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)+|[A-Z]{3,})\s*[:：]")


def _subsequence(short: str, long: str) -> bool:
    """学振 is read in 日本学術振興会 in order: an abbreviation, not a sub-program in brackets."""
    it = iter(long)
    return all(ch in it for ch in short)


def _extend(line: str, start: int, name: str) -> str:
    """A name may hold kana (グローバル卓越人材招へい研究大学…): when a quote mark or the line start opens
    it a little earlier, with no clause break between, the name starts there."""
    head = line[max(0, start - 30):start]
    m = re.search(r"(?:^|[「『\s(（:：])([^「『\s(（:：、。,]*)$", head)
    if m and m.group(1):
        return m.group(1) + name
    return name


def name_groups(chunks: Iterable[Chunk]) -> list[list[str]]:
    """Groups of names (official name first, then its abbreviations) found in the documents."""
    groups: list[list[str]] = []
    by_name: dict[str, list[str]] = {}

    def add(full: str, *others: str) -> None:
        full = full.strip("・ ")
        names = [full, *(o for o in others if o)]
        group = next((by_name[compact(n)] for n in names if compact(n) in by_name), None)
        if group is None:
            group = [full]
            groups.append(group)
        elif len(full) > len(group[0]) and compact(group[0]) in compact(full):
            group.insert(0, full)  # the longer official form first (グローバル卓越人材招へい…)
        for n in names:
            if n not in group:
                group.append(n)
        for n in group:
            by_name[compact(n)] = group

    for chunk in chunks:
        for raw in [chunk.title, *chunk.text.split("\n")]:
            line = normalize(raw)
            for m in _FULL_ABBR.finditer(line):
                full, abbr = _extend(line, m.start(1), m.group(1)), m.group(2)
                if re.fullmatch(r"[A-Za-z][A-Za-z0-9\-]+", abbr) or (len(abbr) < len(full) and _subsequence(abbr, full)):
                    add(full, abbr)
            for m in _ABBR_FULL.finditer(line):
                add(m.group(2), m.group(1))
            t = _TITLE_ACRONYM.match(line)
            if t and raw is chunk.title:
                add(t.group(1))
    # a short form also written on its own joins its group: 「SATREPS」 alone finds 地球規模課題…
    return [g for g in groups if len(g) > 1 or re.search(r"[A-Z]", g[0])]


def topic_lookup(groups: list[list[str]], base: Callable[[str], list[list[str]]] | None = None
                 ) -> Callable[[str], list[list[str]]]:
    """A mention lookup: the curated catalog's groups first, then the documents' own names."""
    keys = [(g, [compact(n) for n in g]) for g in groups]

    def lookup(text: str) -> list[list[str]]:
        found = list(base(text)) if base else []
        known = {compact(n) for g in found for n in g}
        t = compact(text)
        for g, ck in keys:
            if any(k in t for k in ck if len(k) >= 2) and not any(k in known for k in ck):
                found.append(g)
        return sorted(found, key=lambda g: -max(len(n) for n in g))[:2] if len(found) > 2 else found

    return lookup


def program_names_in(text: str) -> list[str]:
    """Program-like names in a text, in reading order (agencies and bare kind words left out)."""
    out = []
    for m in NAME.finditer(normalize(text)):
        name = (m.group(1) or m.group(0)).strip("「」 ")
        if name.upper() in AGENCIES or _GENERIC.match(name) or re.fullmatch(r"[\d\-]+", name):
            continue
        if name not in out:
            out.append(name)
    return out
