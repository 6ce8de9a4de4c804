"""The policy corpus measured: a full and a no-op build, warm and cold latency, the per-stage split,
the evaluation suite's figures, and the LlamaIndex-defaults baseline on the same questions."""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from stiqa.config import PROJECT_ROOT, Settings
from bench.measure import COLD_QUESTION, DEFAULT_QUESTIONS, dir_size_mb, generation_size_mb, latency_stats, load_items, machine, peak_rss_mb, rss_mb, stage_split, timed


class LlamaBaseline:
    """What a newcomer builds from LlamaIndex's defaults: SimpleDirectoryReader, the default
    SentenceSplitter, VectorStoreIndex over the default in-memory SimpleVectorStore, vector
    retrieval only (same embedding model as stiqa)."""

    def __init__(self, files: Sequence[Path] | None = None, *, texts: Sequence[str] | None = None,
                 embed_model: Any, top_k: int = 5) -> None:
        from llama_index.core import Document, SimpleDirectoryReader, VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter

        t0 = time.perf_counter()
        if texts is not None:
            docs = [Document(text=t) for t in texts]
        else:
            docs = SimpleDirectoryReader(input_files=[str(f) for f in files or []]).load_data()
        nodes = SentenceSplitter().get_nodes_from_documents(docs)
        self.index = VectorStoreIndex(nodes, embed_model=embed_model)
        self.retriever = self.index.as_retriever(similarity_top_k=top_k)
        self.nodes = len(nodes)
        self.build_seconds = time.perf_counter() - t0

    def retrieve(self, question: str) -> list[str]:
        return [n.node.get_content() for n in self.retriever.retrieve(question)]


# ---------------------------------------------------------------- policy corpus run


def cold_start(settings: Settings, question: str = COLD_QUESTION, runs: int = 3) -> dict[str, Any]:
    """Wall time of a fresh ``python -m stiqa.cli ask`` (import, open index, load model, answer)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(PROJECT_ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "stiqa.cli", "--corpus", str(settings.corpus_dir), "--index",
           str(settings.index_dir), "ask", question, "--json"]
    if settings.chroma_url:
        cmd[3:3] = ["--chroma-url", settings.chroma_url]
    times, ok = [], True
    for _ in range(runs):
        t = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        times.append((time.perf_counter() - t) * 1000)
        ok = ok and proc.returncode == 0
    return {"runs": runs, "p50_ms": round(statistics.median(times), 1), "min_ms": round(min(times), 1), "ok": ok}


def run_policy(settings: Settings, *, questions: Path = DEFAULT_QUESTIONS, cold_runs: int = 3,
               baseline: bool = True, log: Callable[[str], None] = print) -> dict[str, Any]:
    from stiqa.engine import get_assistant
    from stiqa.index.build import build_index
    from stiqa.ingest.files import corpus_files
    from stiqa.retrieve.search import expand_query
    from stiqa.evaluate.scoring import retrieval_rank

    out: dict[str, Any] = {"machine": machine(), "corpus": [p.name for p in corpus_files(settings.corpus_dir)]}
    tmp = Path(tempfile.mkdtemp(prefix="stiqa-bench-"))
    try:
        s = settings.with_overrides(index_dir=tmp / "index")
        log("索引を一から作成（埋め込みキャッシュなし）…")
        rss0 = rss_mb()
        full = build_index(s, force=True)
        noop = build_index(s)
        out["index"] = {
            "chunks": full.chunks, "files": full.files,
            "full_build_s": round(full.seconds, 2),
            "chunks_per_s": round(full.chunks / full.seconds, 1),
            "embed_s": round(full.embed_seconds, 2),
            "embed_share": round(full.embed_seconds / full.seconds, 3),
            "noop_reindex_ms": round(noop.seconds * 1000, 2), "noop": noop.noop,
            "size_mb": generation_size_mb(s.index_dir),
            "embcache_mb": dir_size_mb(s.index_dir / "embcache") if (s.index_dir / "embcache").exists() else 0.0,
            "rss_before_mb": rss0, "peak_rss_mb": peak_rss_mb(),
        }
        log(json.dumps(out["index"], ensure_ascii=False))

        assistant = get_assistant(s)
        searcher = assistant.searcher
        items = load_items(questions)
        assistant.ask(items[0]["question"])  # warm: model, Sudachi, caches
        standalone = [it for it in items if not it.get("history")]
        queries = [(it["question"], expand_query(it["question"])) for it in standalone]
        stage_split(searcher, queries[:10])
        ret_lat, stages = stage_split(searcher, queries)
        log("評価セットで回答…")
        ask_lat = []
        for it in standalone:
            _, ms = timed(lambda: assistant.ask(it["question"]))
            ask_lat.append(ms)
        retrieval = latency_stats(ret_lat)
        answer = latency_stats(ask_lat)
        stages["answer"] = round(max(answer["p50_ms"] - retrieval["p50_ms"], 0.0), 3)
        out["query"] = {"retrieval": retrieval, "answer": answer, "stages_p50_ms": stages,
                        "questions": len(standalone), "peak_rss_mb": peak_rss_mb()}
        log(json.dumps(out["query"], ensure_ascii=False))

        from stiqa.evaluate.run import evaluate

        _, summary = evaluate(assistant, items, progress=False)
        out["quality"] = summary
        log(f"評価: accuracy {summary.get('accuracy')} hit@1 {summary.get('hit@1')} hit@5 {summary.get('hit@5')}")

        out["methods"] = policy_study(searcher, items)
        if baseline:
            out["baseline"] = _baseline_compare(settings, searcher, standalone, retrieval_rank, expand_query, log)
        log("CLI のコールドスタート…")
        out["cold_start"] = cold_start(s, runs=cold_runs)
        out["peak_rss_mb"] = peak_rss_mb()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _baseline_compare(settings: Settings, searcher: Any, items: list[dict[str, Any]], retrieval_rank: Callable,
                      expand_query: Callable, log: Callable[[str], None]) -> dict[str, Any]:
    """Retrieval hit@1/@5 and latency: stiqa's hybrid search vs the LlamaIndex-defaults pipeline."""
    from stiqa.ingest.files import corpus_files

    judged = [it for it in items if it.get("expect") and not it.get("abstain")]
    log("LlamaIndex 既定構成のベースラインを作成…")
    base = LlamaBaseline(corpus_files(settings.corpus_dir), embed_model=searcher.embedder, top_k=5)
    base.retrieve(judged[0]["question"])
    ranks = {"stiqa": [], "llamaindex": []}
    lat = {"stiqa": [], "llamaindex": []}
    for it in judged:
        q = it["question"]
        hits, ms = timed(lambda: searcher.search(q, 5, bm25_query=expand_query(q)))
        ranks["stiqa"].append(retrieval_rank(it, [h.chunk.text for h in hits]))
        lat["stiqa"].append(ms)
        texts, ms = timed(lambda: base.retrieve(q))
        ranks["llamaindex"].append(retrieval_rank(it, texts))
        lat["llamaindex"].append(ms)
    out: dict[str, Any] = {"questions": len(judged), "baseline_nodes": base.nodes,
                           "baseline_build_s": round(base.build_seconds, 2)}
    for name in ranks:
        r = ranks[name]
        out[name] = {"hit@1": round(sum(1 for k in r if k == 1) / len(r), 4),
                     "hit@5": round(sum(1 for k in r if k and k <= 5) / len(r), 4),
                     "mrr": round(sum(1 / k for k in r if k) / len(r), 4), **latency_stats(lat[name])}
    out["speedup_p50"] = round(out["llamaindex"]["p50_ms"] / max(out["stiqa"]["p50_ms"], 1e-6), 2)
    out["hit@1_ratio"] = round(out["stiqa"]["hit@1"] / max(out["llamaindex"]["hit@1"], 1e-6), 2)
    log(json.dumps(out, ensure_ascii=False))
    return out


def policy_study(searcher: Any, items: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """The JSQuAD fusion study on the policy eval set: hit@1/@5/MRR@10 per method (``scoring.retrieval_rank``)."""
    import numpy as np

    from stiqa.evaluate.jsquad import STUDY, CharBM25, chunk_vectors, fuse
    from stiqa.retrieve.search import expand_query
    from stiqa.evaluate.scoring import retrieval_rank

    judged = [it for it in items if it.get("expect") and not it.get("abstain") and not it.get("history")]
    vectors = chunk_vectors(searcher.settings, searcher.chunks)
    char = CharBM25([c.context_text for c in searcher.chunks])
    texts = [c.text for c in searcher.chunks]
    ranks: dict[str, list[int | None]] = {name: [] for name in STUDY}
    for it in judged:
        q = it["question"]
        qv = np.asarray(searcher.embedder.get_query_embedding(q), dtype=np.float32)
        qv /= max(float(np.linalg.norm(qv)), 1e-12)
        bq = expand_query(q)
        signals = {"bm25": searcher.bm25_scores(bq), "char": char.scores(bq), "dense": vectors @ qv}
        for name, (method, use, weights) in STUDY.items():
            order = fuse({x: signals[x] for x in use}, method, n=searcher.settings.candidates, weights=weights,
                         sentence=lambda pool: searcher.matcher.scores(q, pool))
            ranks[name].append(retrieval_rank(it, [texts[i] for i in order]))
    n = max(len(judged), 1)
    return {name: {"hit@1": round(sum(1 for k in r if k == 1) / n, 4),
                   "hit@5": round(sum(1 for k in r if k and k <= 5) / n, 4),
                   "mrr": round(sum(1 / k for k in r if k) / n, 4)} for name, r in ranks.items()}


# ---------------------------------------------------------------- JSQuAD run
