"""A question in, ranked hits out: BM25 and dense search fused, re-ranked, expanded."""
