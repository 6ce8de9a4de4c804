"""What a term means, as the documents themselves say it: two shapes of document.

- a gloss in brackets after the term: 「「頭脳循環」(研究者が国を越えて移り、戻ること)」;
- a heading followed by its numbered items: 「…改革の3つの柱 / 1.… / 2. … / …3.…」 (the
  items may run on inside a line, as in text extracted from slides).

Pure functions over chunks; the lines are read with PDF line wraps undone (figures.logical_lines).
"""
from __future__ import annotations

import re

from stiqa.catalog.figures import logical_lines
from stiqa.text.japanese import normalize
from stiqa.records import Chunk

#: the term a definition question asks about: 「「頭脳循環」とは」, 「3つの柱とは何」
_ASKED = re.compile(r"「([^」]{2,24})」\s*(?:とは|って)|([^\s、。「」の]{2,24})\s*(?:とは|って何)")
_MARK = re.compile(r"(?<![\d.,A-Za-z])([1-9])\s*[.．]\s*(?=\S)")


def asked_term(question: str) -> str:
    m = _ASKED.search(normalize(question))
    return (m.group(1) or m.group(2)) if m else ""


def gloss(term: str, chunks: list[Chunk]) -> tuple[str, list[Chunk], str] | None:
    """「term」(what it is): the document's own gloss of a term, when it describes (has kana)."""
    t = re.escape(normalize(term))
    rx = re.compile(rf"「{t}」\s*[（(]([^()（）]{{4,80}})[)）]|(?<![一-龯ァ-ヴ]){t}\s*[（(]([^()（）]{{6,80}})[)）]")
    for chunk in chunks:
        for _, line in logical_lines(chunk):
            m = rx.search(line)
            if m:
                text = (m.group(1) or m.group(2)).strip()
                if re.search(r"[ぁ-ん]", text) and not re.match(r"以下", text):
                    return f"「{term}」は、資料では「{text}」のことです。", [chunk], text
    return None


def enumeration(term: str, chunks: list[Chunk], *, most: int = 6) -> tuple[str, list[Chunk], str] | None:
    """The numbered items (1., 2., …) that follow a line naming the term, in order."""
    key = normalize(term)
    for chunk in chunks:
        lines = [line for _, line in logical_lines(chunk)]
        for i, line in enumerate(lines):
            if key not in line:
                continue
            after = "\n".join(lines[i + 1:i + 12])
            items, want = [], 1
            marks = list(_MARK.finditer(after))
            for k, m in enumerate(marks):
                if int(m.group(1)) != want:
                    continue
                end = marks[k + 1].start() if k + 1 < len(marks) else len(after)
                item = re.split(r"[\n。]", after[m.end():end], maxsplit=1)[0].strip()
                # an item that is a name ends with its kind word (a wrapped line may run on after it)
                named = re.match(r".{2,40}?(?:事業|プログラム|制度|基金|イニシアティブ)(?:\s*[（(][^)）]*[)）])?", item)
                item = named.group(0) if named else item[:40]
                if item:
                    items.append(item)
                    want += 1
                if want > most:
                    break
            if len(items) >= 2:
                listed = "\n".join(f"{n}. {x}" for n, x in enumerate(items, 1))
                return f"資料では「{term}」として次が挙げられています。\n{listed}", [chunk], line
    return None
