"""What a retrieved passage offers an answer: its lines as candidate units, the shapes of figures
(counts, periods, money, dates) and the rarity of words across the corpus. Pure functions."""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from stiqa.text.japanese import compact, ngrams, normalize, tokens
from stiqa.records import Chunk, Hit
from stiqa.catalog.figures import title_lines
from stiqa.catalog.names import program_names_in

#: a count with its counter (15件, 20カ国), or a counter word with the count in brackets (採択校(5))
COUNT_UNIT = re.compile(r"\d[\d,]*\s*(件|人|名|か国|カ国|ヵ国|大学|校|課題|機関|分野|種|回|拠点|ポイント|%)"
                        r"|(件|人|名|か国|大学|校|課題|機関)\s*\(\s*\d+\s*\)")
PERIOD = re.compile(r"\d+\s*(年間|か月|ヶ月|カ月|週間|年程度|年以内|年)|\d{1,2}月\s*\d{1,2}日\s*[~〜～-]")
MONEY = re.compile(r"\d[\d,.]*\s*(千万|百万|億|万|千)?\s*(円|ユーロ|€|ポンド|ドル)")
#: words that label the kind of fact a question type asks for
TYPE_WORDS = {
    "date": re.compile(r"開始|開設|設立|発表|公表|決定|期間|から|より|日付|時期|年度\s*[~～〜]"),
    "period": re.compile(r"期間|年間|程度|以内|最大"),
    "count": re.compile(r"数|件|人|名|か国|大学"),
    "amount": re.compile(r"支援額|単価|規模|最大|上限|/年|／年|年・課題"),
}
#: a point in time: an era year, a date, a month, or a time relative to a start (開始3年目)
_POINT = (r"(昭和|平成|令和|(?<![A-Za-z])[RHS])\s*(\d+|元)\s*年度?|\d{1,2}月\s*\d{1,2}日|\d{4}年|\d{1,2}/\d{1,2}|\d{1,2}月"
          r"|\d{1,2}\s+(January|February|March|April|May|June|July|August|September|October|November|December)\s+\d{4}")
DATE = re.compile(_POINT + r"|\d+\s*年目", re.I)
#: a date on the calendar: what 「いつ実施されましたか」 (done, in the past) asks for, not 「開始3年目」
CALENDAR_DATE = re.compile(_POINT, re.I)
#: a date to the day (「何年何月何日」 asks for one of these)
DAY = re.compile(r"\d{1,2}月\s*\d{1,2}日|\d{1,2}\s+(January|February|March|April|May|June|July|August|September|"
                 r"October|November|December)\s+\d{4}", re.I)


@dataclass(frozen=True)
class Unit:
    """A candidate answer: one line (or sentence of a long line) of a retrieved chunk, with the
    short label line above it when there is one (「【事業期間】」 above 「3年間」)."""

    chunk: Chunk
    rank: int
    line: int
    text: str
    label: str = ""
    #: the next chunk, when the line is a lead-in (「先端7分野:」) whose list opens that chunk
    more: Chunk | None = None


def is_label(line: str) -> bool:
    s = normalize(line).strip()
    return 0 < len(s) <= 30 and "。" not in s and not re.fullmatch(r"[\d\s,.()（）]+", s)


def units(hits: list[Hit], *, following: Callable[[Chunk], Chunk | None] = lambda c: None) -> list[Unit]:
    """Candidate lines of the hits; ``following`` gives the chunk after a chunk in its file."""
    out = []
    for rank, h in enumerate(hits):
        prev = ""
        lines = h.chunk.text.split("\n")
        for off, raw in enumerate(lines):
            s = raw.strip()
            if not s:
                continue
            more = None
            if s.endswith((":", "：")):
                # a lead-in 「先端7分野:」 says nothing without the list on the next line, which
                # the chunker may have put at the top of the next chunk
                nxt = next((l.strip() for l in lines[off + 1:] if l.strip()), "")
                if not nxt and (more := following(h.chunk)) is not None:
                    nxt = next((l.strip() for l in more.text.split("\n") if l.strip()), "")
                if nxt and "\t" not in nxt:
                    s = f"{s} {nxt}"
                else:
                    more = None
            parts = [p for p in re.split(r"(?<=。)", s) if p.strip()] if len(s) > 160 else [s]
            label = prev if is_label(prev) and prev != s and "\t" not in prev and "\t" not in s else ""
            out.extend(Unit(h.chunk, rank, h.chunk.line_start + off, p.strip(), label, more) for p in parts)
            prev = s
    return out


def around(u: Unit) -> str:
    """The non-empty lines just before and after the unit's line in its chunk: a caption
    (「NEWS 27 March 2025」) is about the headline beside it."""
    lines = u.chunk.text.split("\n")
    at = u.line - u.chunk.line_start
    before = next((l for l in reversed(lines[:at]) if l.strip()), "")
    after = next((l for l in lines[at + 1:] if l.strip()), "")
    return f"{before} {after}"


def contains(hay: str, needle: str) -> bool:
    return compact(needle) in compact(hay)


def subject(chunk: Chunk) -> str:
    """What a passage is about, as an answer names it: its program, else the slide title it opens
    with when it sits under the document's heading only (pages of one file joined by 「---」),
    else its nearest heading."""
    if chunk.program:
        return chunk.program
    if " > " not in chunk.section:
        named = [t for t in title_lines(chunk) if program_names_in(t)]
        if named:
            return named[0]
    return chunk.section.rsplit(" > ", 1)[-1].lstrip("#● ").strip() if chunk.section else chunk.title


def clean(line: str) -> str:
    s = re.sub(r"\*\*|<[^>]+>|^#+\s*|^[-・•]\s*", "", line.strip())
    return s.replace("\t", "　").strip()


def grams(text: str) -> set[str]:
    return ngrams(compact(text))


_GRAM_CACHE: dict[str, set[str]] = {}


def chunk_grams(chunk: Chunk) -> set[str]:
    g = _GRAM_CACHE.get(chunk.id)
    if g is None:
        g = _GRAM_CACHE[chunk.id] = grams(chunk.text)
        if len(_GRAM_CACHE) > 200_000:
            _GRAM_CACHE.clear()
    return g


_FLAT_CACHE: dict[tuple[str, bool], str] = {}


def flat(chunk: Chunk, *, context: bool = False) -> str:
    """The chunk's text (or context text) in compact form, computed once per chunk: the corpus-wide
    name checks run on every question."""
    key = (chunk.id, context)
    f = _FLAT_CACHE.get(key)
    if f is None:
        f = _FLAT_CACHE[key] = compact(chunk.context_text if context else chunk.text)
        if len(_FLAT_CACHE) > 400_000:
            _FLAT_CACHE.clear()
    return f


def idf_table(chunks: list[Chunk]) -> dict[str, float]:
    """Inverse document frequency of tokens over the chunks: rare words decide relevance."""
    df: dict[str, int] = {}
    for c in chunks:
        for t in set(tokens(c.context_text)):
            df[t] = df.get(t, 0) + 1
    n = len(chunks) or 1
    return {t: math.log((n + 1) / (d + 0.5)) for t, d in df.items()}


_GRAM_CHARS = re.compile(r"[一-龯ァ-ヴーA-Za-z0-9]")


def gram_idf_table(chunks: list[Chunk]) -> dict[str, float]:
    """Inverse document frequency of character bigrams: paraphrases share rare bigrams
    (「見直す」/「見直し」, 「研究費」) where the analyser's words differ."""
    df: dict[str, int] = {}
    for c in chunks:
        for g in chunk_grams(c):
            df[g] = df.get(g, 0) + 1
    n = len(chunks) or 1
    return {g: math.log((n + 1) / (d + 0.5)) for g, d in df.items()}


def question_grams(text: str, drop: list[str] | set[str] = ()) -> set[str]:
    """The question's bigrams that carry meaning (kanji, katakana, letters or digits only),
    once the names in ``drop`` (the topic, already settled) are taken out."""
    # question words, and the counter a 「何」 asks about (何大学, 何年度), say nothing of the topic
    t = re.sub(r"何(件|人|名|か国|カ国|校|大学|課題|年度|年間|年|か月|月|日|分野|機関)?|いくら|いつ|どこ|どの|誰|どれ|どんな",
               " ", compact(text))
    for name in sorted((compact(n) for n in drop), key=len, reverse=True):
        if name:
            t = t.replace(name, " ")
    return {t[i:i + 2] for i in range(len(t) - 1)
            if _GRAM_CHARS.fullmatch(t[i]) and _GRAM_CHARS.fullmatch(t[i + 1])}
