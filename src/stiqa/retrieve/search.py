"""Hybrid retrieval: BM25 over Sudachi tokens + dense e5 vectors in Chroma, fused.

Why our own BM25 wrapper: LlamaIndex's ``BM25Retriever`` tokenises with a regex that scores
Japanese at zero, so we run bm25s over the same Sudachi analyser for documents and queries.
``HybridRetriever`` is still a LlamaIndex ``BaseRetriever`` so query engines can use it.

Fusion has to be earned (plain RRF came out below BM25 alone here): the default is a weighted
sum of max-normalised BM25 and dense scores, weights chosen on the evaluation set (README).
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from stiqa.config import CHUNKER_VERSION, Settings
from stiqa.errors import IndexError_
from stiqa.index.build import chroma_client, collection_name, current_generation, read_manifest
from stiqa.text.japanese import char_ngrams, fiscal_years, normalize, tokens, western_to_reiwa
from stiqa.records import Chunk, Hit
from stiqa.retrieve import fusion as fuse
from stiqa.retrieve.fusion import check_fusion, top_positions


@dataclass
class StageTimes:
    """Milliseconds per stage of one search (the benchmark's per-stage split). Each search fills
    its own: the searcher is shared by every thread and keeps nothing per call."""

    tokenise: float = 0.0
    bm25: float = 0.0
    embed: float = 0.0
    vector: float = 0.0
    fuse: float = 0.0
    rerank: float = 0.0


def expand_query(question: str, *, aliases: Callable[[str], list[str]] | None = None) -> str:
    """Add the corpus's own spellings: 2023年度 -> 令和5年度, an abbreviation -> its full name."""
    extra: list[str] = []
    norm = normalize(question)
    for year in fiscal_years(norm):
        if 2019 <= year <= 2099 and "令和" not in norm:
            extra.append(western_to_reiwa(year))
    if aliases:
        extra.extend(aliases(norm))
    return norm + (" " + " ".join(extra) if extra else "")


@dataclass
class Searcher:
    """An opened index generation: chunks, BM25 and the Chroma collection."""

    settings: Settings
    generation: str
    chunks: list[Chunk]
    bm25: Any
    chars: Any
    collection: Any
    embedder: Any
    manifest: dict[str, Any]

    @classmethod
    def open(cls, settings: Settings, embedder: Any = None) -> "Searcher":
        gen = current_generation(settings.index_dir)
        if gen is None:
            raise IndexError_(f"索引がありません（{settings.index_dir}）。先に `stiqa ingest` を実行してください。")
        manifest = read_manifest(gen)
        if manifest.get("embed_model") != settings.embed_model_id:
            raise IndexError_(
                f"索引は別の埋め込みモデル（{manifest.get('embed_model')}）で作られています。現在の設定は "
                f"{settings.embed_model_id} です。`stiqa ingest --rebuild` で作り直してください。")
        if manifest.get("chunker_version") != CHUNKER_VERSION:
            raise IndexError_(
                f"索引の分割方式（版 {manifest.get('chunker_version')}）がこのプログラム（版 {CHUNKER_VERSION}）と"
                "異なります。`stiqa ingest --rebuild` で作り直してください。")
        try:
            import bm25s

            chunks = [Chunk.from_meta(json.loads(line))
                      for line in (gen / "chunks.jsonl").read_text(encoding="utf-8").splitlines() if line]
            bm25 = bm25s.BM25.load(str(gen / "bm25"), show_progress=False)
            chars = bm25s.BM25.load(str(gen / "bm25c"), show_progress=False)
            client = chroma_client(settings, gen)
            collection = client.get_collection(collection_name(settings, gen.name), embedding_function=None)
        except IndexError_:
            raise
        except Exception as exc:  # a corrupt store raises many types; say which generation and how to fix
            raise IndexError_(f"索引が壊れています（{gen.name}: {type(exc).__name__}: {exc}）。"
                              "`stiqa ingest --rebuild` で作り直してください。") from exc
        if len(chunks) != manifest.get("chunks"):
            raise IndexError_("索引のチャンク数がマニフェストと一致しません。`stiqa ingest --rebuild` で作り直してください。")
        if embedder is None:
            from stiqa.index.embed import make_embedding

            embedder = make_embedding(settings)
        return cls(settings, gen.name, chunks, bm25, chars, collection, embedder, manifest)

    # -------------------------------------------------------- the two retrievers

    def bm25_scores(self, query: str, times: StageTimes | None = None) -> np.ndarray:
        times = times or StageTimes()
        t = time.perf_counter()
        toks = [w for w in tokens(query) if w in self.bm25.vocab_dict]
        times.tokenise = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        scores = self.bm25.get_scores(toks) if toks else np.zeros(len(self.chunks), dtype=np.float32)
        times.bm25 = (time.perf_counter() - t) * 1000
        return np.asarray(scores, dtype=np.float32)

    def char_scores(self, query: str) -> np.ndarray:
        toks = [t for t in char_ngrams(query) if t in self.chars.vocab_dict]
        if not toks:
            return np.zeros(len(self.chunks), dtype=np.float32)
        return np.asarray(self.chars.get_scores(toks), dtype=np.float32)

    def dense_scores(self, query: str, n: int, times: StageTimes | None = None) -> dict[int, float]:
        times = times or StageTimes()
        t = time.perf_counter()
        qvec = self.embedder.get_query_embedding(query)
        times.embed = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        res = self.collection.query(query_embeddings=[qvec], n_results=min(n, len(self.chunks)),
                                    include=["distances"])
        times.vector = (time.perf_counter() - t) * 1000
        pos = self.position
        return {pos[cid]: 1.0 - float(d) for cid, d in zip(res["ids"][0], res["distances"][0]) if cid in pos}

    @property
    def matcher(self) -> Any:
        """The sentence re-ranker's tables for this generation (built on first use)."""
        m = getattr(self, "_matcher", None)
        if m is None:
            from stiqa.retrieve.rerank import SentenceMatcher

            m = self._matcher = SentenceMatcher(self.chunks)
        return m

    @property
    def position(self) -> dict[str, int]:
        pos = getattr(self, "_position", None)
        if pos is None:
            pos = {c.id: i for i, c in enumerate(self.chunks)}
            self._position = pos
        return pos

    # -------------------------------------------------------- fusion

    def search(self, query: str, k: int | None = None, *, fusion: str | None = None,
               bm25_query: str | None = None) -> list[Hit]:
        """Top-k hits for a query; ``bm25_query`` may carry alias/year expansions."""
        return self.search_timed(query, k, fusion=fusion, bm25_query=bm25_query)[0]

    def search_timed(self, query: str, k: int | None = None, *, fusion: str | None = None,
                     bm25_query: str | None = None) -> tuple[list[Hit], StageTimes]:
        """``search`` with the milliseconds each stage took for this call."""
        times = StageTimes()
        k = k or self.settings.top_k
        fusion = check_fusion(fusion or self.settings.fusion)
        n = max(self.settings.candidates, k)
        bm = self.bm25_scores(bm25_query or query, times) if fusion != "dense" else None
        dense = self.dense_scores(query, n, times) if fusion != "bm25" else {}
        t = time.perf_counter()
        bm_top = top_positions(bm, n) if bm is not None else np.zeros(0, dtype=np.int64)
        bm_rank = {int(i): r for r, i in enumerate(bm_top)}
        dense_order = [i for i, _ in sorted(dense.items(), key=lambda kv: -kv[1])]
        dense_rank = {i: r for r, i in enumerate(dense_order)}
        if fusion != "weighted":
            if fusion == "bm25":
                scores = {i: float(bm[i]) for i in bm_rank}
            elif fusion == "dense":
                scores = dict(dense)
            else:
                scores = fuse.rrf([bm_top.tolist(), dense_order])
            times.fuse = (time.perf_counter() - t) * 1000
            return [Hit(self.chunks[i], s, bm_rank.get(i), dense_rank.get(i))
                    for i, s in fuse.ranked(scores, k)], times
        st = self.settings
        t_char = time.perf_counter()
        ch = self.char_scores(query) if st.char_weight > 0 else None
        times.bm25 += (time.perf_counter() - t_char) * 1000
        t = time.perf_counter()
        lexical = [(st.bm25_weight, bm, bm_top)] if bm is not None else []
        if ch is not None:
            lexical.append((st.char_weight, ch, top_positions(ch, n)))
        d_idx = np.fromiter(dense.keys(), dtype=np.int64, count=len(dense))
        d_val = np.fromiter(dense.values(), dtype=np.float64, count=len(dense))
        pool, total = fuse.weighted(lexical, (st.dense_weight, d_idx, d_val))
        times.fuse = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        if st.sentence_weight > 0 and pool.size:
            # second stage: every pooled candidate gains by its best-matching sentence (rerank.py)
            total += st.sentence_weight * self.matcher.scores(query, pool.tolist())
        order = np.argsort(-total, kind="stable")[:k]
        ranked = [(int(pool[j]), float(total[j])) for j in order]
        times.rerank = (time.perf_counter() - t) * 1000
        return [Hit(self.chunks[i], s, bm_rank.get(i), dense_rank.get(i)) for i, s in ranked], times
