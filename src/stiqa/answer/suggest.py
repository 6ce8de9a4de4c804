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
from stiqa.answer.prose import best_sentence

#: a program's name as documents write it: an acronym (SICORP, EXPERT-J), a quoted name (「○○」),
#: or a name of its kind (…事業, …プログラム, …制度, …基金, …イニシアティブ), with its abbreviation
NAME = re.compile(
    r"[一-龯ァ-ヴー・A-Za-z0-9]{2,}(?:事業|プログラム|制度|基金|イニシアティブ)(?:\s*[（(][^)）]{2,20}[)）])?"
    r"|(?<![A-Za-z])[A-Z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)+(?![A-Za-z])|(?<![A-Za-z])[A-Z]{3,}(?![A-Za-z])|「([^」]{2,16})」")
#: bodies, not programs: a lexicon of the field (knowledge of Japanese public administration)
AGENCIES = {"MEXT", "JST", "JSPS", "AMED", "CSTI", "NISTEP", "JICA", "NEDO", "RIKEN", "HC", "PDF", "FA"}
_GENERIC = re.compile(r"^(本|同|当|各|新規|関連|その他の?|他の?)?(事業|プログラム|制度|基金|イニシアティブ)$")

#: share of the situation's n-grams the passage's best sentence must hold
MIN_COVER = 0.2
#: a suggestion beside the catalog finder's own answer must hold more of the situation
BESIDE_COVER = 0.25


def names_in(text: str) -> list[str]:
    """Program-like names in a text, in reading order (agencies and bare kind words left out)."""
    out = []
    for m in NAME.finditer(normalize(text)):
        name = (m.group(1) or m.group(0)).strip("「」 ")
        if name.upper() in AGENCIES or _GENERIC.match(name) or re.fullmatch(r"[\d\-]+", name):
            continue
        if name not in out:
            out.append(name)
    return out


def _clause_name(sentence: str, question: str) -> str:
    """The name whose clause shares most words with the question, in a sentence listing names."""
    clauses = [c for c in re.split(r"[、。,]", normalize(sentence)) if c.strip()]
    asked = set(tokens(question))
    best, best_n = "", 0
    for clause in clauses:
        found = names_in(clause)
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
            found = names_in(text or "")
            if found:
                return found[0]
        c = previous(c)
    found = names_in(chunk.title)
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
