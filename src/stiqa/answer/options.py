"""What the readers offer for one question: every answer it could be given, as ``Option``s.

Two kinds of option: the readers' own answer (the typed readers, the line scorer, the prose
fallback: one rendered sentence) and every figure of the kind asked that the passages hold
(``figures.candidates``, one reader per shape: prose, slide, table). The model in ``model.py``
chooses among them, or none; nothing here decides.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from stiqa.answer.question import asked_kind
from stiqa.catalog.figures import FIGURE, Candidate
from stiqa.catalog.figures import candidates as figure_candidates
from stiqa.text.japanese import compact, normalize, source_spelling
from stiqa.records import Chunk, Hit
from stiqa.answer.passages import clean, subject

#: figure kinds a question's asked kind accepts (a bare table number may be money or a count)
ACCEPTS = {"rank": {"rank"}, "percent": {"percent", "share", "plain"}, "money": {"money", "plain"},
           "period": {"period"}, "count": {"count", "plain"}}
#: at most this many figure options per question, in the passages' retrieval order
MAX_FIGURES = 160
#: sentences offered for a question that asks for no figure: from this many top passages, the
#: best this many by their share of the question
SENTENCE_PASSAGES = 4
MAX_SENTENCES = 10
#: a date as documents write it: era or western year, with month and day when given
DATE = re.compile(r"(?:(?:令和|平成|昭和)\s*(?:\d+|元)|(?:19|20)\d\d)\s*年(?:度)?(?:\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?)?"
                  r"|\d{1,2}\s*月\s*\d{1,2}\s*日"
                  r"|(?:January|February|March|April|May|June|July|August|September|October|November|December)"
                  r"\s+\d{1,2},?\s+(?:19|20)\d\d|\d{1,2}\s+(?:January|February|March|April|May|June|July|August|"
                  r"September|October|November|December)\s+(?:19|20)\d\d|FY\s*(?:19|20)\d\d")
#: a question asking when
WHEN = re.compile(r"いつ|何年|何月|何日|日付|時期|when|what date|which year", re.I)


@dataclass(frozen=True)
class Option:
    """One answer the question could be given."""

    text: str  # the rendered answer sentence
    chunks: tuple[Chunk, ...]  # what it cites, first the passage it quotes
    span: str  # the quoted words
    origin: str  # "reader" (the readers' own answer) or "figure" (a figure candidate)
    candidate: Candidate | None = None
    figure: str = ""  # the figure it states (compact), "" for a sentence
    match: float = 0.0  # a sentence's share of the question's rarity-weighted character n-grams

    @property
    def result(self) -> tuple[str, list[Chunk], str]:
        """(text, cited chunks, the words to mark in the first): the span where the passage holds it
        as written, else the figure (a slide's label and amount stand on two lines)."""
        first = self.chunks[0].text if self.chunks else ""
        held = compact(self.span) in compact(first)
        mark = self.candidate.figure if not held and self.figure and self.candidate is not None else self.span
        return self.text, list(self.chunks), mark


@dataclass(frozen=True)
class Offer:
    """One question's options with what the features need to know of the retrieval."""

    options: tuple[Option, ...]
    rank: dict[str, int] = field(default_factory=dict)  # chunk id -> position among the hits
    score: dict[str, float] = field(default_factory=dict)  # chunk id -> fused score
    pool: frozenset[str] = frozenset()  # chunk ids about the question's named topic


def render(c: Candidate) -> str:
    """One sentence stating the figure in the source's own spelling: a table cell under its row and
    column, a slide's labelled budget line, or else the figure with the words it stands in, quoted."""
    fig = c.figure
    if c.shape == "table":
        row, _, rest = c.span.partition(" | ")
        col = rest.rsplit(" | ", 1)[0]
        unit = "" if c.unit in ("", "%") else f"（単位：{c.unit}）"
        shown = fig + ("%" if c.unit == "%" and not fig.endswith("%") else "")
        if shown.startswith(("△", "▲")):
            shown += "（減）"
        return f"表の「{row}」の「{col}」は {shown} です{unit}。"
    if c.shape == "slide" and c.budget_kind:
        title = c.own.split(" ")[0] if c.own else ""
        label = c.span.replace(fig, "").strip()
        return f"{title + 'の' if title else ''}{label or '金額'}は{fig}です。".replace("の ", "の")
    span = source_spelling(c.span, c.chunk.text)
    return f"{source_spelling(fig, span)}です。資料には「{span}」とあります。"


def first_figure(text: str) -> str:
    m = FIGURE.search(normalize(text))
    return compact(m.group(0)) if m else ""


def _sentence_options(question: str, hits: list[Hit], matcher: Any, position: dict[str, int]) -> list[Option]:
    """The best sentences of the top passages (a fact, a definition, a name is usually inside one),
    and for a when-question every date in them, each quoted with its sentence."""
    found: list[tuple[float, str, Chunk]] = []
    for h in hits[:SENTENCE_PASSAGES]:
        i = position.get(h.chunk.id)
        if i is not None:
            found += [(share, sent, h.chunk) for sent, share in matcher.sentence_scores(question, i)]
    found.sort(key=lambda x: -x[0])
    out: list[Option] = []
    when = bool(WHEN.search(question))
    for share, sent, chunk in found[:MAX_SENTENCES]:
        line = clean(sent)
        if len(line) < 6:
            continue
        ctx = " ".join(p for p in (chunk.title, chunk.section, chunk.program) if p)
        cand = Candidate(chunk, chunk.line_start, "", "sentence", line, ctx, line, "prose", own=line)
        quoted = source_spelling(line, chunk.text)
        out.append(Option(f"{subject(chunk)}について、資料には「{quoted}」とあります。", (chunk,), line, "sentence",
                          cand, "", share))
        if when:
            for m in DATE.finditer(line):
                date = m.group(0).strip()
                cand = Candidate(chunk, chunk.line_start, date, "date", line, ctx, line, "prose", own=line)
                out.append(Option(f"{date}です。資料には「{quoted}」とあります。", (chunk,), line, "figure", cand,
                                  compact(date), share))
    return out


def offer(question: str, hits: list[Hit], pool: list[Chunk], reader: tuple[str, list[Chunk], str] | None,
          *, matcher: Any = None, position: dict[str, int] | None = None) -> Offer:
    """The reader's answer (when there is one); every figure of the asked kind in the hits, the
    reader's passages and the first passages of the topic pool; or, for a question that asks for no
    figure and that the readers did not answer, the best sentences of the top passages (and their
    dates, for a when-question). Offering the sentences beside a reader's answer was measured
    worse: 0.716 leave-one-document-out against 0.754 as a fallback only."""
    opts: list[Option] = []
    if reader is not None:
        text, used, span = reader
        opts.append(Option(text, tuple(used), span, "reader", None, first_figure(text)))
    ask = asked_kind(question)
    if not ask and reader is None and matcher is not None and position is not None:
        opts += _sentence_options(question, hits, matcher, position)
    if ask:
        chunks = list(dict.fromkeys((list(reader[1]) if reader else []) + [h.chunk for h in hits] + pool[:6]))
        seen: set[tuple[str, int, str]] = set()
        for ch in chunks:
            for c in figure_candidates(ch):
                key = (ch.id, c.line, c.figure)
                if c.kind not in ACCEPTS[ask] or key in seen:
                    continue
                seen.add(key)
                opts.append(Option(render(c), (c.chunk,), c.span, "figure", c, compact(c.figure)))
                if len(opts) > MAX_FIGURES:
                    break
    rank = {}
    score = {}
    for i, h in enumerate(hits):
        rank.setdefault(h.chunk.id, i)
        score.setdefault(h.chunk.id, h.score)
    return Offer(tuple(opts), rank, score, frozenset(c.id for c in pool))
