"""Slides that name a program only by what it does.

A document introduces a program once with a description: 「…緊急的に大学ファンドを活用した海外の優秀な
若手研究者等の受入れを行う「グローバル卓越人材招へい研究大学強化事業(EXPERT-J)」を開始」. A later slide
titled 「緊急的に大学ファンドを活用した海外の優秀な若手研究者等の受け入れについて」 is about that program
though it never names it. These functions find the descriptions a corpus gives a program and
recognise the sections titled by one. Pure functions.
"""
from __future__ import annotations

import re

from stiqa.text.japanese import compact, ngrams, normalize
from stiqa.records import Chunk

#: the clause right before a quoted program name: 「(description)を行う「NAME」」, 「(description)する「NAME」」
_LEAD = re.compile(r"([^。、「」()]{10,60}?)(?:を行う|を支援する|する|の)[「『]([^」』]{3,80})[」』]")


def _grams(text: str) -> set[str]:
    return ngrams(re.sub(r"\W", "", normalize(text)))


def descriptions(names: list[str], chunks: list[Chunk]) -> list[set[str]]:
    """Bigram sets of the clauses that describe a program where the documents name it."""
    wanted = [compact(n) for n in names if len(n) >= 3]
    out = []
    for c in chunks:
        for m in _LEAD.finditer(normalize(c.text)):
            if any(w in compact(m.group(2)) for w in wanted):
                out.append(_grams(m.group(1)))
    return out


def titled_by(chunk: Chunk, described: list[set[str]], *, threshold: float = 0.6) -> bool:
    """Is one of the chunk's headings, or its first line, (nearly) one of the descriptions?"""
    first = next((l for l in chunk.text.split("\n") if l.strip()), "")
    for part in chunk.section.split(" > ") + [first]:
        g = _grams(re.sub(r"(について|の概要|とは)$", "", part.strip()))
        if len(g) >= 8 and any(len(g & d) / len(g | d) >= threshold for d in described if d):
            return True
    return False


def described_chunks(names: list[str], chunks: list[Chunk]) -> set[str]:
    """Ids of the chunks of slides titled by a description of the program, with the chunks that
    follow under the same headings (the slide's 【支援対象】, 【評価の観点】 … parts)."""
    described = descriptions(names, chunks)
    if not described:
        return set()
    out: set[str] = set()
    ordered = sorted(chunks, key=lambda c: (c.source, c.line_start))
    for i, c in enumerate(ordered):
        if not titled_by(c, described):
            continue
        out.add(c.id)
        prefix = c.section.rsplit(" > ", 1)[0]
        for nxt in ordered[i + 1:]:
            if nxt.source != c.source or not nxt.section.startswith(prefix):
                break
            out.add(nxt.id)
    return out
