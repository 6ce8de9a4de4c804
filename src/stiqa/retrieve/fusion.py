"""Fusion: several retrievers' scores made into one ranking. Named variants, pure functions over
numpy arrays, used by ``Searcher.search`` and replayed by the JSQuAD study (``evaluate.jsquad``)
so the study measures the code that answers, not a copy kept in step by hand.

- ``rrf``: reciprocal-rank fusion, 1 / (60 + rank) summed over each retriever's top list;
- ``weighted``: the pooled candidates of every retriever, lexical (BM25-like) scores divided by
  their maximum, dense scores min-max normalised over the dense top list (a candidate outside it
  gains 0 from it), each times its weight;
- ``bm25`` / ``dense``: one retriever alone.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

FUSIONS = ("weighted", "rrf", "bm25", "dense")
RRF_K = 60


def check_fusion(name: str) -> str:
    """The name when it is a known variant; a ``ValueError`` listing the choices otherwise."""
    if name not in FUSIONS:
        raise ValueError(f"fusion は {', '.join(FUSIONS)} のいずれかです: {name!r}")
    return name


def top_positions(scores: np.ndarray, n: int, *, positive: bool = True) -> np.ndarray:
    """Positions of the ``n`` highest scores, best first (argpartition: no full sort); with
    ``positive`` only those above 0 (a BM25 score of 0 is no match)."""
    n = min(n, scores.size)
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    idx = np.argpartition(-scores, n - 1)[:n]
    idx = idx[np.argsort(-scores[idx], kind="stable")].astype(np.int64)
    return idx[scores[idx] > 0] if positive else idx


def rrf(rankings: Iterable[Sequence[int]], *, k: int = RRF_K) -> dict[int, float]:
    """Reciprocal-rank fusion of ranked position lists (best first)."""
    scores: dict[int, float] = {}
    for order in rankings:
        for r, i in enumerate(order):
            scores[int(i)] = scores.get(int(i), 0.0) + 1.0 / (k + r)
    return scores


def weighted(lexical: Sequence[tuple[float, np.ndarray, np.ndarray]],
             dense: tuple[float, np.ndarray, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:
    """Score fusion over the pooled candidates: ``lexical`` holds (weight, full score array, top
    positions), ``dense`` (weight, top positions, their scores). Returns (pool, total), the pool
    sorted by position."""
    d_idx = dense[1] if dense else np.zeros(0, dtype=np.int64)
    pool = np.unique(np.concatenate([*(top for _, _, top in lexical), d_idx]))
    total = np.zeros(pool.size, dtype=np.float64)
    for w, scores, _ in lexical:
        if w and scores.size and scores.max() > 0:
            total += w * scores[pool] / float(scores.max())
    if dense and dense[2].size and dense[0]:
        w, idx, val = dense
        lo, hi = float(val.min()), float(val.max())
        total[np.searchsorted(pool, idx)] += w * (val - lo) / ((hi - lo) or 1.0)
    return pool, total


def ranked(scores: dict[int, float], k: int) -> list[tuple[int, float]]:
    """The ``k`` best (position, score) pairs, best first."""
    return sorted(scores.items(), key=lambda kv: -kv[1])[:k]
