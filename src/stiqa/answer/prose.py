"""Answer from running prose when no line of the expected shape answers: quote the sentence that
holds most of the question.

Why: the type-driven answerer (answer.py) reads slides, where a label sits beside its figure. In
prose (a new report, a Wikipedia-like paragraph) the answer to 「…は何と呼ばれるか」 or 「…は誰か」 is
inside one sentence, and the question was usually asked from that sentence: the character n-grams
it shares with the question (rarity-weighted, rerank.SentenceMatcher) find it. It is a last resort
before abstaining, for questions that ask for no figure, so no number can come from it that the
question did not ask for; the passage must hold most of the question, or stiqa still abstains.
"""
from __future__ import annotations

from typing import Any

from stiqa.records import Chunk, Hit
from stiqa.answer.passages import clean, subject
from stiqa.answer.question import WHO, Query

#: share of the question's (rarity-weighted) character n-grams the passage must hold
MIN_COVER = 0.6
#: a who-question needs more: a passage naming the role in passing (「文部科学大臣表彰」 for
#: 「今の文部科学大臣は誰？」, 0.74) does not say who holds it
WHO_COVER = 0.8
#: question types that ask for no figure: a quoted sentence cannot state a wrong amount or count
TYPES = ("fact", "abbrev")


def min_cover(q: Query) -> float | None:
    """How much of the question a quoted sentence must hold, or None when prose may not answer:
    figures (budget, count, date...) and full names the documents never define (abbrev with a
    name in it) are left to the type-driven answerer or to abstention."""
    if q.qtype not in TYPES or (q.qtype == "abbrev" and q.salient):
        return None
    return WHO_COVER if WHO.search(q.text) else MIN_COVER


def best_sentence(matcher: Any, position: dict[str, int], question: str, hits: list[Hit], *,
                  top: int = 3) -> tuple[float, str, Chunk] | None:
    """(share of the question held, sentence, chunk): the best sentence of the first ``top`` hits."""
    best: tuple[float, str, Chunk] | None = None
    for h in hits[:top]:
        i = position.get(h.chunk.id)
        if i is None:
            continue
        sentence, score = matcher.best_sentence(question, i)
        if sentence.strip() and (best is None or score > best[0]):
            best = (score, sentence, h.chunk)
    return best


def prose_answer(matcher: Any, position: dict[str, int], question: str, hits: list[Hit], *,
                 top: int = 3, min_cover: float = MIN_COVER) -> tuple[str, list[Chunk], str] | None:
    """(text, [chunk], quoted sentence) from the best of the first ``top`` hits, or None."""
    found = best_sentence(matcher, position, question, hits, top=top)
    if found is None or found[0] < min_cover:
        return None
    _, sentence, chunk = found
    line = clean(sentence)
    return f"{subject(chunk)}について、資料には「{line}」とあります。", [chunk], line
