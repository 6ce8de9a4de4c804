"""Questions about a document itself (「この資料はいつ付け？」, "What is the date of the … document?").

Every chunk carries its document's title and date; a question that asks when a document is dated
and names it by its title (or, in English, by the words of its file name: mext_international_
strategy) is answered with the date as the document writes it, citing the line that states it.
"""
from __future__ import annotations

import re

from stiqa.text.japanese import compact
from stiqa.records import Chunk
from stiqa.answer.passages import grams, question_grams

_ABOUT_DOCUMENT = re.compile(r"資料|文書|文献|報告書|document|report|paper", re.I)
_WHEN_DATED = re.compile(r"いつ付|日付|いつの(もの|資料|文書)|何年何月何日|いつ(作成|公表|発行)|\bdate[ds]?\b|\bwhen\b", re.I)
_WORD = re.compile(r"[a-z]{3,}")
_GENERIC = {"the", "and", "what", "when", "date", "document", "documents", "txt", "pdf"}


def asks_document_date(question: str) -> bool:
    return bool(_ABOUT_DOCUMENT.search(question) and _WHEN_DATED.search(question))


def _match(question: str, chunk: Chunk) -> float:
    """How well the question names this chunk's document: its title's bigrams (Japanese) or
    the words of its file name and title (English)."""
    qg = question_grams(question)
    if re.search(r"[一-龯ァ-ヴ]", question) and qg:
        return len(qg & grams(chunk.title)) / len(qg)
    words = set(_WORD.findall(question.lower())) - _GENERIC
    names = set(_WORD.findall(f"{chunk.source} {chunk.title}".lower().replace("_", " "))) - _GENERIC
    return len(words & names) / (len(words) or 1)


def document_date(question: str, chunks: list[Chunk]) -> tuple[str, Chunk, str] | None:
    """(answer text, chunk stating the date, the date) when the question asks a document's date."""
    if not asks_document_date(question):
        return None
    firsts: dict[str, Chunk] = {}
    for c in sorted(chunks, key=lambda c: c.line_start):
        firsts.setdefault(c.source, c)
    ranked = sorted(((_match(question, c), c) for c in firsts.values()), key=lambda sc: -sc[0])
    if not ranked or ranked[0][0] < 0.25 or (len(ranked) > 1 and ranked[1][0] >= 0.8 * ranked[0][0]):
        return None  # names no document, or cannot tell which
    doc = ranked[0][1]
    date = doc.date.split(" (")[0].strip()
    stating = next((c for c in sorted(chunks, key=lambda c: c.line_start)
                    if c.source == doc.source and date and compact(date) in compact(c.text)), None)
    if stating is None:
        return None  # the date is only in the metadata: nothing to cite
    return f"「{doc.title}」の日付は{date}です。", stating, date
