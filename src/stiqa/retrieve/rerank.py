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

import re
from collections.abc import Sequence

import numpy as np

from stiqa.text.japanese import ngrams, normalize
from stiqa.records import Chunk

_SENTENCE_END = re.compile(r"(?<=[。！？!?])|\n")


def char_grams(text: str, *, n: int = 3) -> frozenset[str]:
    """Character 1..n-grams of the normalised, lower-cased text with spaces dropped."""
    return frozenset(ngrams("".join(normalize(text).lower().split()), range(1, n + 1)))


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text) if s.strip()]


class SentenceMatcher:
    """Per chunk: its sentences and its heading as sparse rows over character n-grams (a sentence
    row leaves out its chunk's heading n-grams), with n-gram rarity over all chunks. Built once
    when an index is opened; a query then costs one sparse product over the candidates' rows."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        from scipy.sparse import csr_matrix

        vocab: dict[str, int] = {}
        df: list[int] = []
        head_rows: list[list[int]] = []
        sent_rows: list[list[int]] = []
        offsets = [0]
        # n-grams in sorted order, never a set's: ids, rows and every float sum over them must not
        # depend on the interpreter's string hashing (PYTHONHASHSEED), or scores move in the last bit
        for c in chunks:
            for g in sorted(char_grams(c.text)):
                j = vocab.setdefault(g, len(vocab))
                if j == len(df):
                    df.append(0)
                df[j] += 1
        for c in chunks:
            head = char_grams(" ".join(p for p in (c.title, c.section, c.program) if p))
            head_rows.append(sorted(vocab[g] for g in head if g in vocab))
            rows = [sorted(vocab[g] for g in char_grams(s) - head if g in vocab) for s in sentences(c.text)]
            sent_rows.extend(rows or [[]])
            offsets.append(len(sent_rows))
        n = len(chunks)
        self.vocab = vocab
        self.idf = np.log((n + 1) / (np.asarray(df, dtype=np.float64) + 0.5)).astype(np.float32)
        self.max_idf = float(np.log((n + 1) / 0.5))
        self.heads = _binary_rows(head_rows, len(vocab), csr_matrix)
        self.sentences = _binary_rows(sent_rows, len(vocab), csr_matrix)
        self.texts = [sentences(c.text) or [""] for c in chunks]
        self.offsets = np.asarray(offsets, dtype=np.int64)

    def _weights(self, query: str) -> tuple[np.ndarray, float, float]:
        """The question's n-grams as a rarity-weight vector over the vocabulary, the total weight of
        those the chunks hold, and how much weight the unseen ones would carry at the top rarity."""
        grams = char_grams(query)
        ids = np.sort(np.fromiter((self.vocab[g] for g in grams if g in self.vocab), dtype=np.int64))
        weight = np.zeros(len(self.vocab), dtype=np.float32)
        weight[ids] = self.idf[ids]
        seen = float(self.idf[ids].sum()) if ids.size else 0.0
        return weight, seen, (len(grams) - ids.size) * self.max_idf

    def scores(self, query: str, positions: Sequence[int]) -> np.ndarray:
        """For each chunk position: the rarity-weighted share of the question's n-grams that its
        heading holds, plus the share its best sentence holds of the rest, in [0, 1]."""
        weight, total, _ = self._weights(query)
        out = np.zeros(len(positions), dtype=np.float32)
        if total <= 0 or not len(positions):
            return out
        pos = np.asarray(positions, dtype=np.int64)
        head = self.heads[pos] @ weight
        starts, ends = self.offsets[pos], self.offsets[pos + 1]
        lengths = ends - starts
        seg = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        rows = np.arange(int(lengths.sum())) + np.repeat(starts - seg, lengths)
        per_sentence = self.sentences[rows] @ weight
        best = np.maximum.reduceat(per_sentence, seg)
        return ((head + best) / total).astype(np.float32)

    def best_sentence(self, query: str, position: int) -> tuple[str, float]:
        """The chunk's sentence that holds most of the question, and the chunk's score with it.

        Unlike ``scores`` (a ranking, where what no chunk holds is the same for every candidate),
        this is an absolute share: n-grams no chunk holds count against it at the highest rarity,
        so a question about something the documents never mention cannot pass on its particles."""
        weight, seen, unseen = self._weights(query)
        total = seen + unseen
        if total <= 0:
            return "", 0.0
        head = float((self.heads[position] @ weight)[0])
        rows = self.sentences[self.offsets[position]:self.offsets[position + 1]] @ weight
        j = int(np.argmax(rows))
        return self.texts[position][j], (head + float(rows[j])) / total

    def sentence_scores(self, query: str, position: int) -> list[tuple[str, float]]:
        """Every sentence of the chunk with its absolute share of the question (as ``best_sentence``
        scores its best one): what the answer model weighs among a passage's sentences."""
        weight, seen, unseen = self._weights(query)
        total = seen + unseen
        if total <= 0:
            return []
        head = float((self.heads[position] @ weight)[0])
        rows = self.sentences[self.offsets[position]:self.offsets[position + 1]] @ weight
        return [(t, (head + float(r)) / total) for t, r in zip(self.texts[position], rows) if t.strip()]


def _binary_rows(rows: list[list[int]], width: int, csr_matrix: type) -> object:
    indptr = np.cumsum([0] + [len(r) for r in rows])
    indices = np.fromiter((j for r in rows for j in r), dtype=np.int64, count=int(indptr[-1]))
    return csr_matrix((np.ones(indices.size, dtype=np.float32), indices, indptr), shape=(len(rows), width))
