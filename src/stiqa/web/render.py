"""Answers and citations as HTML: pure functions; every piece of document or user text escaped,
the only markup our own (cards, and ``<mark>`` around the already-escaped answering span)."""
from __future__ import annotations

import html
import re
import unicodedata
from typing import Any


from stiqa.records import Answer, Citation


# ---------------------------------------------------------------- rendering (pure functions)


def esc(text: Any) -> str:
    """HTML-escape anything (quotes included) for safe insertion into the page."""
    return html.escape("" if text is None else str(text), quote=True)


def _passage_html(escaped: str) -> str:
    """Line breaks and table tabs of an already-escaped passage, kept on one HTML line."""
    escaped = escaped.replace("\t", '<span class="stiqa-sep">｜</span>').replace("\r\n", "\n")
    escaped = re.sub(r"\n[ \u3000]*(?:\n[ \u3000]*)+", "\n", escaped.strip("\n"))  # no empty lines
    # Markdown markers of the source (「#### 見出し」, 「**強調**」) are noise to a reader: dropped for display
    escaped = re.sub(r"(?m)^[ \u3000]*#{1,6}[ \u3000]+", "", escaped).replace("**", "")
    return escaped.replace("\n", "<br>")


def _fold(ch: str) -> str:
    """One character as compared when locating a span (NFKC, no spaces, lower case)."""
    folded = unicodedata.normalize("NFKC", ch)
    return "".join(c for c in folded if not c.isspace()).lower()


def find_span(text: str, span: str) -> tuple[int, int] | None:
    """Where ``span`` stands in ``text``: exact, else ignoring width, spaces and tabs."""
    if not span or not text:
        return None
    i = text.find(span)
    if i >= 0:
        return i, i + len(span)
    folded, owner = [], []  # folded characters of text, each with the index of its original char
    for idx, ch in enumerate(text):
        for c in _fold(ch):
            folded.append(c)
            owner.append(idx)
    target = "".join(_fold(ch) for ch in span)
    if not target:
        return None
    j = "".join(folded).find(target)
    if j < 0:
        return None
    return owner[j], owner[j + len(target) - 1] + 1


def highlight(text: str, span: str) -> str:
    """The passage escaped, with the answering span wrapped in <mark> (escape first, then mark)."""
    where = find_span(text, span)
    if where is None:
        return _passage_html(esc(text))
    a, b = where
    return _passage_html(esc(text[:a]) + "<mark>" + esc(text[a:b]) + "</mark>" + esc(text[b:]))


def render_citation(n: int, cit: Citation) -> str:
    lines = f"L{cit.line_start}" if cit.line_start == cit.line_end else f"L{cit.line_start}–{cit.line_end}"
    page = f'<span class="stiqa-sep">·</span>p.{esc(cit.page)}' if cit.page else ""
    # the heading path can be long: show its last two levels, the whole path on hover
    short = " > ".join(cit.section.split(" > ")[-2:]) if cit.section else ""
    section = (f'<span class="stiqa-sep">·</span><span class="stiqa-sec" title="{esc(cit.section)}">'
               f'{esc(short)}</span>' if cit.section else "")
    return ('<div class="stiqa-card">'
            f'<div class="stiqa-cardhead"><span class="stiqa-num">[{n}]</span>'
            f'<span class="stiqa-file">{esc(cit.source)}</span>{page}'
            f'<span class="stiqa-sep">·</span>{lines}{section}</div>'
            f'<div class="stiqa-passage">{highlight(cit.text, cit.span)}</div>'
            '</div>')


def copy_attr(text: str) -> str:
    """The plain text a message carries for the copy button and screen readers (``PAGE_SCRIPT``)."""
    return f' data-copy="{esc(text).replace(chr(10), "&#10;")}"'


def plain_answer(ans: Answer) -> str:
    """What the copy button copies: how the question was read, the answer and its numbered citations
    (the HTTP API's message text, so both faces give the same)."""
    from stiqa.http_api import answer_text

    if ans.abstained and not ans.text.strip():
        return "\n".join(x for x in (ans.interpretation, "資料の中に、この質問に答える記述は見つかりませんでした。") if x)
    return answer_text(ans)


def render_answer(ans: Answer) -> str:
    """One answer as HTML on a single line (so the chat's Markdown leaves it alone)."""
    parts = [f'<div class="stiqa-answer"{copy_attr(plain_answer(ans))}>']
    if ans.interpretation:
        parts.append(f'<div class="stiqa-interp">{esc(ans.interpretation)}</div>')
    if ans.backend == "input":  # empty or over-long question: the message is the whole answer
        parts.append(f'<div class="stiqa-error">{esc(ans.text)}</div></div>')
        return "".join(parts)
    if ans.abstained:
        # the engine's own wording when it gives one, else a plain statement; never a guess
        said = ans.text.strip() or "資料の中に、この質問に答える記述は見つかりませんでした。"
        parts.append(f'<div class="stiqa-abstain"><b>{_passage_html(esc(said))}</b></div>')
        if ans.related:
            parts.append('<div class="stiqa-srchead">参考：質問に近い箇所</div>')
            parts.extend(render_citation(i, c) for i, c in enumerate(ans.related, 1))
    else:
        parts.append(f'<div class="stiqa-text">{_passage_html(esc(ans.text))}</div>')
        if ans.citations:
            parts.append('<div class="stiqa-srchead">出典</div>')
            parts.extend(render_citation(i, c) for i, c in enumerate(ans.citations, 1))
    if ans.notice:
        parts.append(f'<div class="stiqa-notice">※ {esc(ans.notice)}</div>')
    parts.append("</div>")
    return "".join(parts)


def render_error(message: str) -> str:
    return (f'<div class="stiqa-answer"{copy_attr(message)}><div class="stiqa-error">'
            f'{_passage_html(esc(message))}</div></div>')


def render_user(question: str) -> str:
    return f"<div{copy_attr(question)}>{_passage_html(esc(question))}</div>"
