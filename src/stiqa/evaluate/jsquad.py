"""JSQuAD (any SQuAD-format file) as a public retrieval benchmark for stiqa.

Every paragraph becomes one ``Chunk`` (its own index folder, never mixed with the policy corpus),
written with the same index code as ``stiqa ingest`` (embedding cache by content hash, bm25s over
Sudachi tokens, Chroma, manifest, generations). Each question is then asked; a hit is the
question's own paragraph.

``retrieval_study`` scores every question once per signal (Sudachi BM25, character 1+2-gram BM25,
dense cosine over all paragraphs) and fuses those arrays with ``retrieve.fusion``, the code
``Searcher.search`` answers with, so many fusion settings can be compared without re-running the queries.
"""
from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stiqa.config import CHUNKER_VERSION, Settings
from stiqa.index.build import EmbeddingCache, build_lock, content_key, current_generation, embed_chunks, read_manifest, write_generation
from stiqa.errors import IndexError_
from stiqa.text.japanese import char_ngrams
from stiqa.records import Chunk
from stiqa.retrieve import fusion
from stiqa.retrieve.fusion import top_positions


@dataclass(frozen=True)
class Paragraph:
    pid: int
    title: str
    text: str  # the context without its "TITLE [SEP] " prefix


@dataclass(frozen=True)
class Question:
    qid: str
    question: str
    pid: int
    answers: tuple[str, ...]


def load_squad(path: str | Path) -> tuple[list[Paragraph], list[Question]]:
    """Paragraphs and questions of a SQuAD-format file (JSQuAD prefixes contexts with "TITLE [SEP] ")."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"SQuAD 形式のファイルが読めません: {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise ValueError(f"SQuAD 形式ではありません（data[] がありません）: {path}")
    paragraphs: list[Paragraph] = []
    questions: list[Question] = []
    for article in data["data"]:
        title = str(article.get("title", ""))
        for para in article.get("paragraphs", []):
            context = str(para.get("context", ""))
            head, sep, body = context.partition(" [SEP] ")
            if sep:
                title_here, text = head.strip() or title, body.strip()
            else:
                title_here, text = title, context.strip()
            pid = len(paragraphs)
            paragraphs.append(Paragraph(pid, title_here, text))
            for qa in para.get("qas", []):
                answers = tuple(dict.fromkeys(str(a.get("text", "")) for a in qa.get("answers", [])
                                              if str(a.get("text", "")).strip()))
                if qa.get("is_impossible") or not str(qa.get("question", "")).strip():
                    continue
                questions.append(Question(str(qa.get("id", f"q{len(questions)}")), str(qa["question"]),
                                          pid, answers))
    if not paragraphs:
        raise ValueError(f"段落がありません: {path}")
    return paragraphs, questions


def sample_questions(questions: list[Question], n: int | None, seed: int = 0) -> list[Question]:
    """A fixed sample (same n and seed, same questions), or all of them."""
    if not n or n >= len(questions):
        return list(questions)
    rng = random.Random(seed)
    return sorted(rng.sample(questions, n), key=lambda q: q.qid)


def paragraph_chunks(paragraphs: Sequence[Paragraph], *, replicas: int = 1,
                     source: str = "jsquad") -> list[Chunk]:
    """One chunk per paragraph (and per replica: same text, distinct id, for the growth runs)."""
    out = []
    for r in range(replicas):
        suffix = "" if r == 0 else f"~r{r}"
        for p in paragraphs:
            out.append(Chunk(id=f"{source}-{p.pid}{suffix}", source=f"{source}/{p.pid}{suffix}", title=p.title,
                             date="", section=p.title, line_start=1, line_end=1, text=p.text))
    return out


def chunk_pid(chunk_id: str) -> int:
    return int(chunk_id.split("-", 1)[1].split("~", 1)[0])


# ---------------------------------------------------------------- index from chunks


def _fingerprint(chunks: Sequence[Chunk]) -> str:
    h = hashlib.sha256()
    for c in chunks:
        h.update(json.dumps(c.to_meta(), ensure_ascii=False, sort_keys=True).encode())
    return h.hexdigest()


def build_chunk_index(settings: Settings, chunks: list[Chunk], *, name: str = "chunks", embedder: Any = None,
                      force: bool = False, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Write ``chunks`` as a stiqa index generation under ``settings.index_dir`` (readable by
    ``Searcher.open``), with ``stiqa.index.build``'s own writers; a no-op when the chunks are unchanged."""
    t0 = time.perf_counter()
    index_dir = settings.index_dir
    files = {name: _fingerprint(chunks)}
    with build_lock(index_dir):
        gen = current_generation(index_dir)
        if gen is not None and not force:
            try:
                old = read_manifest(gen)
            except IndexError_:
                old = {}
            if (old.get("files") == files and old.get("embed_model") == settings.embed_model_id
                    and old.get("chunker_version") == CHUNKER_VERSION
                    and old.get("chroma_url", "") == settings.chroma_url):
                return {"noop": True, "generation": gen.name, "chunks": len(chunks), "embedded": 0,
                        "seconds": time.perf_counter() - t0, "embed_seconds": 0.0}
        info: dict[str, Any] = {}
        vectors, _, embedded, embed_seconds = embed_chunks(settings, chunks, embedder=embedder, progress=progress,
                                                           info=info)
        t_write = time.perf_counter()
        embedded_by = {"engine": info.get("embedded_by", ""), "embedded": embedded, "from_cache": len(chunks) - embedded}
        new_name = write_generation(settings, chunks, vectors, {"files": files, "files_seen": files,
                                                                "embedded_by": embedded_by}, previous=gen)
        return {"noop": False, "generation": new_name, "chunks": len(chunks), "embedded": embedded,
                "seconds": time.perf_counter() - t0, "embed_seconds": embed_seconds,
                "write_seconds": time.perf_counter() - t_write}


def chunk_vectors(settings: Settings, chunks: Sequence[Chunk]) -> np.ndarray:
    """The cached (unit-normalised) vectors of ``chunks``, row for row."""
    cache = EmbeddingCache(settings.index_dir, settings.embed_model_id)
    vecs = np.stack([cache.vectors[content_key(settings.embed_model_id, c)] for c in chunks]).astype(np.float32)
    return vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)


# ---------------------------------------------------------------- metrics


def rank_metrics(ranks: Sequence[int | None], *, ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    """recall@k and MRR (over the ranks given; None = not retrieved) from 1-based ranks."""
    n = max(len(ranks), 1)
    out = {f"recall@{k}": sum(1 for r in ranks if r is not None and r <= k) / n for k in ks}
    out["mrr"] = sum(1.0 / r for r in ranks if r is not None) / n
    return {k: round(v, 4) for k, v in out.items()}


def first_rank(order: Sequence[int], pid_of: Sequence[int], pid: int, limit: int = 10) -> int | None:
    for r, i in enumerate(order[:limit], 1):
        if pid_of[i] == pid:
            return r
    return None


# ---------------------------------------------------------------- fusion study


class CharBM25:
    """BM25 over character 1+2-grams (the strongest single retriever on JSQuAD in the issue)."""

    def __init__(self, texts: Sequence[str]) -> None:
        import bm25s

        self.bm25 = bm25s.BM25()
        self.bm25.index([char_ngrams(t) or [" "] for t in texts], show_progress=False)
        self.n = len(texts)

    def scores(self, query: str) -> np.ndarray:
        toks = [t for t in char_ngrams(query) if t in self.bm25.vocab_dict]
        if not toks:
            return np.zeros(self.n, dtype=np.float32)
        return np.asarray(self.bm25.get_scores(toks), dtype=np.float32)


#: how the study combines its signals: one alone, or one of the searcher's fusions (retrieve.fusion)
METHODS = ("single", "rrf", "weighted")


def fuse(signals: dict[str, np.ndarray], method: str, *, n: int = 30, weights: dict[str, float] | None = None,
         rrf_k: int = 60, k: int = 10, sentence: Callable[[list[int]], np.ndarray] | None = None) -> list[int]:
    """Top-k document positions from full score arrays, fused by ``retrieve.fusion`` as
    ``Searcher.search`` fuses them: "single" (the one signal given), "rrf" over the signals' top-n
    lists, or "weighted" (``weights["sentence"]`` adds the second stage: ``sentence(pool)``)."""
    if method not in METHODS:
        raise ValueError(f"method は {', '.join(METHODS)} のいずれかです: {method!r}")
    if method == "single":
        (name, s), = signals.items()
        return [int(i) for i in top_positions(s, k, positive=name != "dense")]
    tops = {name: top_positions(s, n, positive=name != "dense") for name, s in signals.items()}
    if method == "rrf":
        return [i for i, _ in fusion.ranked(fusion.rrf([tops[name].tolist() for name in signals], k=rrf_k), k)]
    weights = weights or {}
    lexical = [(weights.get(name, 0.0), s, tops[name]) for name, s in signals.items() if name != "dense"]
    dense = None
    if "dense" in signals:
        top = tops["dense"]
        dense = (weights.get("dense", 0.0), top, signals["dense"][top].astype(np.float64))
    pool, total = fusion.weighted(lexical, dense)
    if weights.get("sentence") and sentence is not None:
        total += weights["sentence"] * np.asarray(sentence(pool.tolist()), dtype=np.float64)
    return [i for i, _ in fusion.ranked(dict(zip(pool.tolist(), total.tolist())), k)]


#: the methods compared in the README (name -> (method, signals, weights))
STUDY: dict[str, tuple[str, tuple[str, ...], dict[str, float] | None]] = {
    "bm25 (Sudachi)": ("single", ("bm25",), None),
    "bm25 (char 1+2-gram)": ("single", ("char",), None),
    "dense (e5-small)": ("single", ("dense",), None),
    "rrf (bm25+dense)": ("rrf", ("bm25", "dense"), None),
    "rrf (bm25+char+dense)": ("rrf", ("bm25", "char", "dense"), None),
    **{f"weighted bm25 0.35 / char 0.35 / dense 0.30 + sentence {ws:.1f}": (
        "weighted", ("bm25", "char", "dense"), {"bm25": 0.35, "char": 0.35, "dense": 0.3, "sentence": ws})
       for ws in (0.3, 0.7, 1.0, 1.4)},
    "weighted bm25 0.5 / char 0.1 / dense 0.5": ("weighted", ("bm25", "char", "dense"),
                                                 {"bm25": 0.5, "char": 0.1, "dense": 0.5}),
    "weighted bm25 0.5 / char 0.1 / dense 0.5 + sentence 1.4 (default)": (
        "weighted", ("bm25", "char", "dense"), {"bm25": 0.5, "char": 0.1, "dense": 0.5, "sentence": 1.4}),
    **{f"weighted bm25 {wb:.1f} / dense {1 - wb:.1f}": ("weighted", ("bm25", "dense"),
                                                         {"bm25": wb, "dense": round(1 - wb, 2)})
       for wb in (0.3, 0.5, 0.6, 0.7, 0.8)},
    **{f"weighted char {wc:.1f} / dense {1 - wc:.1f}": ("weighted", ("char", "dense"),
                                                         {"char": wc, "dense": round(1 - wc, 2)})
       for wc in (0.5, 0.6, 0.7, 0.8)},
    **{f"weighted bm25 {wb:.2f} / char {wc:.2f} / dense {wd:.2f}": (
        "weighted", ("bm25", "char", "dense"), {"bm25": wb, "char": wc, "dense": wd})
       for wd in (0.2, 0.3, 0.4) for wb, wc in (((1 - wd) / 4, 3 * (1 - wd) / 4), ((1 - wd) / 2, (1 - wd) / 2),
                                                 (0.1, 0.9 - wd))
       for wb, wc, wd in [(round(wb, 2), round(wc, 2), wd)]},
}


def retrieval_study(searcher: Any, questions: Sequence[Question], *, char_bm25: CharBM25 | None = None,
                    vectors: np.ndarray | None = None, n: int | None = None,
                    study: dict[str, tuple[str, tuple[str, ...], dict[str, float] | None]] | None = None
                    ) -> dict[str, dict[str, float]]:
    """recall@1/@5/@10 and MRR@10 per fusion method, over the same per-question signal arrays."""
    study = study or STUDY
    n = n or searcher.settings.candidates
    pid_of = [chunk_pid(c.id) for c in searcher.chunks]
    if vectors is None:
        vectors = chunk_vectors(searcher.settings, searcher.chunks)
    if char_bm25 is None:
        char_bm25 = CharBM25([c.context_text for c in searcher.chunks])
    ranks: dict[str, list[int | None]] = {name: [] for name in study}
    for q in questions:
        qv = np.asarray(searcher.embedder.get_query_embedding(q.question), dtype=np.float32)
        qv /= max(float(np.linalg.norm(qv)), 1e-12)
        signals = {"bm25": searcher.bm25_scores(q.question), "char": char_bm25.scores(q.question),
                   "dense": vectors @ qv}
        for name, (method, use, weights) in study.items():
            order = fuse({s: signals[s] for s in use}, method, n=n, weights=weights,
                         sentence=lambda pool: searcher.matcher.scores(q.question, pool))
            ranks[name].append(first_rank(order, pid_of, q.pid))
    return {name: rank_metrics(r) for name, r in ranks.items()}
