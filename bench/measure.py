"""Small measures every benchmark shares: memory, sizes, latency statistics, the machine."""
from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from stiqa.config import PROJECT_ROOT


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
    """Warm retrieval latency (ms) per query, and the median of each stage (``search_timed``)."""
    stages = ("tokenise", "bm25", "embed", "vector", "fuse", "rerank")
    per: dict[str, list[float]] = {s: [] for s in stages}
    lat = []
    for q, bm_q in queries:
        (_, times), ms = timed(lambda: searcher.search_timed(q, bm25_query=bm_q))
        lat.append(ms)
        for s in stages:
            per[s].append(getattr(times, s))
    return lat, {s: round(statistics.median(v), 3) if v else 0.0 for s, v in per.items()}


def machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "date": time.strftime("%Y-%m-%d %H:%M")}


def load_items(path: Path = DEFAULT_QUESTIONS) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ---------------------------------------------------------------- the LlamaIndex-defaults baseline
