"""Dataclasses for what flows between stages (ingest -> index -> retrieve -> answer -> chat)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


#: what an answer says when the documents do not say (every face and the evaluation rely on it)
ABSTAIN_TEXT = "資料には記載が見つかりませんでした。"


@dataclass(frozen=True)
class Chunk:
    """A passage of one document with everything needed to cite it."""

    id: str
    source: str  # file name in corpus/
    title: str  # document title
    date: str  # document date as written (may be empty)
    section: str  # heading path, " > " separated
    line_start: int  # 1-based, inclusive
    line_end: int  # 1-based, inclusive
    text: str  # the passage as it stands in the file (lines joined by "\n")
    program: str = ""  # the program/initiative the passage belongs to, if known
    page: int | None = None  # for PDF sources

    @property
    def context_text(self) -> str:
        """The indexed text: passage plus its context, so a bare table row finds its program."""
        head = " / ".join(p for p in (self.title, self.section, self.program) if p)
        return f"{head}\n{self.text}" if head else self.text

    @property
    def embed_text(self) -> str:
        """Shorter context for the dense model: program and nearest heading, then the passage.

        The e5 engine's cost grows with length; the document title is the same for every chunk
        of a file and adds nothing to a vector, so it is left to BM25.
        """
        last = self.section.rsplit(" > ", 1)[-1] if self.section else ""
        head = " / ".join(p for p in (self.program, last) if p and p not in self.text[:80])
        return (f"{head}\n{self.text}" if head else self.text)[:400]

    def to_meta(self) -> dict[str, Any]:
        d = asdict(self)
        d["page"] = -1 if self.page is None else self.page
        return d

    @classmethod
    def from_meta(cls, d: dict[str, Any]) -> "Chunk":
        d = dict(d)
        page = d.get("page", -1)
        d["page"] = None if page in (None, -1) else int(page)
        d["line_start"] = int(d["line_start"])
        d["line_end"] = int(d["line_end"])
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and the per-retriever ranks that produced it."""

    chunk: Chunk
    score: float
    bm25_rank: int | None = None
    dense_rank: int | None = None


@dataclass(frozen=True)
class Citation:
    source: str
    title: str
    section: str
    line_start: int
    line_end: int
    text: str
    #: the answering span inside ``text`` (for highlighting); empty if none
    span: str = ""
    page: int | None = None

    @classmethod
    def from_chunk(cls, chunk: Chunk, span: str = "") -> "Citation":
        return cls(chunk.source, chunk.title, chunk.section, chunk.line_start, chunk.line_end,
                   chunk.text, span, chunk.page)

    def to_json(self) -> dict[str, Any]:
        d = {"source": self.source, "title": self.title, "section": self.section,
             "line_start": self.line_start, "line_end": self.line_end, "text": self.text}
        if self.span:
            d["span"] = self.span
        if self.page is not None:
            d["page"] = self.page
        return d


@dataclass
class Answer:
    """What every interface shows: text, numbered citations, whether it abstained."""

    question: str
    text: str
    citations: list[Citation]
    abstained: bool
    #: how a follow-up was read (「解釈：…」); empty when the question stood alone
    interpretation: str = ""
    #: passages offered when abstaining, or extra context
    related: list[Citation] = field(default_factory=list)
    #: retrieved chunk ids in rank order (for retrieval metrics)
    retrieved: list[str] = field(default_factory=list)
    latency_ms: float = 0.0
    #: which answerer produced it: "extractive", "catalog" or "llm"
    backend: str = "extractive"
    #: why an LLM answer was replaced by the extractive one (guard rails); empty otherwise
    notice: str = ""
    #: the answer model's probability that the option it chose is right (None: not chosen by it)
    confidence: float | None = None

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "citations": [c.to_json() for c in self.citations],
            "latency_ms": round(self.latency_ms, 2),
            "backend": self.backend,
        }
        if self.interpretation:
            d["interpretation"] = self.interpretation
        if self.related:
            d["related"] = [c.to_json() for c in self.related]
        if self.retrieved:
            d["retrieved"] = self.retrieved
        if self.confidence is not None:
            d["confidence"] = round(self.confidence, 4)
        if self.notice:
            d["notice"] = self.notice
        return d
