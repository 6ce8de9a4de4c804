"""Second stage of retrieval: re-rank the fused candidates by their best-matching sentence.

Why: the fused first stage almost always has the right passage among its candidates (JSQuAD
recall@30 ≈ 1.0); what loses is the order among passages on the same topic, which share the topic
words. A question is usually asked about one sentence, so the candidate with a single sentence that
covers most of the question's rare character n-grams wins, once the words of the candidate's own
heading (document title, section, program) are set aside: those say what the passage is about,
which the first stage has already weighed, not what is asked.

Why our own: LlamaIndex's re-rankers (``SentenceTransformerRerank``, ``LLMRerank``, ColBERT) need a
cross-encoder or an LLM, and no such weights ship in any package here. This one needs none and costs
well under a millisecond for 30 candidates (measured in ``bench/results.md``).
"""
from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from .japanese import normalize
from .models import Chunk

_SENTENCE_END = re.compile(r"(?<=[。！？!?])|\n")


def char_grams(text: str, n: int = 3) -> frozenset[str]:
    """Character 1..n-grams of the normalised, lower-cased text with spaces dropped."""
    s = "".join(normalize(text).lower().split())
    return frozenset(s[i:i + k] for k in range(1, n + 1) for i in range(len(s) - k + 1))


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text) if s.strip()]


class SentenceMatcher:
    """Per chunk: the n-gram sets of its sentences and of its heading, and n-gram rarity over all
    chunks. Built once when an index is opened (~0.5 s for 1,000 paragraphs)."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        self.sentences: list[list[frozenset[str]]] = []
        self.heads: list[frozenset[str]] = []
        df: dict[str, int] = {}
        for c in chunks:
            self.sentences.append([char_grams(s) for s in sentences(c.text)])
            self.heads.append(char_grams(" ".join(p for p in (c.title, c.section, c.program) if p)))
            for g in char_grams(c.text):
                df[g] = df.get(g, 0) + 1
        n = len(chunks)
        self.idf = {g: math.log((n + 1) / (d + 0.5)) for g, d in df.items()}

    def scores(self, query: str, positions: Sequence[int]) -> np.ndarray:
        """For each chunk position: the rarity-weighted share of the question's n-grams (those
        not in the chunk's heading) that its best sentence holds, in [0, 1]."""
        q = char_grams(query)
        idf = self.idf
        weight = {g: idf.get(g, 0.0) for g in q}
        out = np.zeros(len(positions), dtype=np.float32)
        total = sum(weight.values())
        if total <= 0:
            return out
        for j, i in enumerate(positions):
            head = q & self.heads[i]
            asked = q - head
            best = max((sum(weight[g] for g in asked & s) for s in self.sentences[i]), default=0.0)
            out[j] = (sum(weight[g] for g in head) + best) / total
        return out
