"""Chunks in, a searchable generation out: embeddings, Chroma vectors, BM25, manifest."""
