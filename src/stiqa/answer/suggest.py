"""Which program suits a situation, read from the passages when the catalog knows none that fits.

The catalog finder (finder.py) ranks programs by the attributes typed or derived for them; a new
document's programs have none. This reader works on any document: the passage that holds most of
the situation described (its best sentence, rarity-weighted character n-grams) names the program
it is about — the name in the clause that matches best when a sentence lists several (「チーム型の
A、個人型の「B」、拠点型のC」), else the slide's or
the document's title name. Too little of the situation in any passage, or no name: no suggestion.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from stiqa.text.japanese import compact, normalize, tokens
from stiqa.records import Chunk, Hit
from stiqa.answer.passages import clean
from stiqa.catalog.names import program_names_in
from stiqa.answer.prose import best_sentence

#: share of the situation's n-grams the passage's best sentence must hold
MIN_COVER = 0.2
#: a suggestion beside the catalog finder's own answer must hold more of the situation
BESIDE_COVER = 0.25


def _clause_name(sentence: str, question: str) -> str:
    """The name whose clause shares most words with the question, in a sentence listing names."""
    clauses = [c for c in re.split(r"[、。,]", normalize(sentence)) if c.strip()]
    asked = set(tokens(question))
    best, best_n = "", 0
    for clause in clauses:
        found = program_names_in(clause)
        if not found:
            continue
        n = len(asked & set(tokens(clause)))
        if n > best_n:
            best, best_n = found[-1], n
    return best


def _title_name(chunk: Chunk, previous: Callable[[Chunk], Chunk | None]) -> str:
    """The name a passage's slide is titled with: its own title lines, else those of the passages
    just before it in the file (a slide split into chunks), else a document title naming one."""
    from stiqa.catalog.figures import title_lines

    c: Chunk | None = chunk
    for _ in range(4):
        if c is None:
            break
        for text in [*title_lines(c), c.program]:
            found = program_names_in(text or "")
            if found:
                return found[0]
        c = previous(c)
    found = program_names_in(chunk.title)
    return found[0] if len(found) == 1 else ""  # a title listing several topics names none


def suggest(matcher: Any, position: dict[str, int], question: str, hits: list[Hit], *,
            previous: Callable[[Chunk], Chunk | None] = lambda c: None,
            top: int = 3, min_cover: float = MIN_COVER) -> tuple[str, list[Chunk], str] | None:
    """(text, [chunk], quoted sentence) naming the program of the passage that fits, or None."""
    found = best_sentence(matcher, position, question, hits, top=top)
    if found is None or found[0] < min_cover:
        return None
    _, sentence, chunk = found
    name = _clause_name(sentence, question) or _title_name(chunk, previous)
    if not name or compact(name) in compact(question):
        return None  # a suggestion repeating the question's own name tells nothing
    line = clean(sentence)
    return (f"資料からは「{name}」が近いと考えられます。資料には「{line}」とあります。"
            "（制度の条件は出典でご確認ください。）"), [chunk], line


def clause_of(name: str, chunks: list[Chunk]) -> tuple[str, list[Chunk], str] | None:
    """What a sentence listing several programs says of one of them: its own clause
    (「Aはどのような…」 → 「チーム型のA」), when the clause says more than the name."""
    key = normalize(name)
    for chunk in chunks:
        for raw in normalize(chunk.text).split("\n"):
            for clause in re.split(r"[、。]", raw):
                if key in clause and len(clause.replace(key, "").strip(" 「」○〇・-")) >= 4:
                    text = clean(clause)
                    return f"資料には「{text}」とあります（{name}について）。", [chunk], text
    return None
