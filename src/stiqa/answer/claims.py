"""Answers that weigh a claim rather than quote a line: comparisons with the previous year,
yes/no questions about a named university or place, and rankings over a table.

A mixin of ``Answerer`` (it uses ``_best_line``, the scoring of ``Relevance`` and the per-question
state the answerer sets).
"""
from __future__ import annotations

import re
from dataclasses import replace

from stiqa.catalog.facts import money_facts
from stiqa.text.japanese import format_yen, tokens
from stiqa.records import Chunk, Hit
from stiqa.answer.passages import clean, contains
from stiqa.answer.passages import subject as subject_of
from stiqa.answer.question import Query
from stiqa.answer.tables import Entry, entries, nth, rank_asked

_KANJI = "〇一二三四五六七八九十"


class Claims:
    """Comparisons, yes/no and rankings."""

    def _ranking(self, q: Query, hits: list[Hit]):
        """「一番多いのは？」「2番目は？」: order the entries of the table the question is about."""
        n, largest = rank_asked(q.text) or (1, True)
        best: tuple[float, Chunk, list[Entry]] | None = None
        for rank, h in enumerate(hits):
            items = entries(h.chunk)
            if len(items) < 3:
                continue
            head = h.chunk.section.rsplit(" > ", 1)[-1] + " " + h.chunk.text.split("\n")[0]
            score = self._overlap(q, head, self._attrs) - 0.05 * rank
            if best is None or score > best[0]:
                best = (score, h.chunk, items)
        if best is None or (self._attrs and best[0] <= 0):
            return None
        _, chunk, items = best
        found = nth(items, n, largest)
        if not found:
            return None
        more, less = ("多い", "少ない") if re.search(r"多|少|most|fewest", q.text, re.I) else ("大きい", "小さい")
        # the position in kanji (二番目): a digit stiqa adds is not a figure of the documents
        which = ("最も" if n == 1 else f"{_KANJI[n] if n < len(_KANJI) else n}番目に") + (more if largest else less)
        names = "、".join(f"{e.name}（{e.text}）" for e in found)
        header = clean(chunk.text.split("\n")[0])
        return f"{subject_of(chunk)}の「{header}」で{which}のは{names}です。", [chunk], found[0].name

    def _compare(self, q: Query, hits: list[Hit]):
        """前年度と比べて: both figures cited; the difference is stiqa's arithmetic, labelled so."""
        for h in hits:
            facts = money_facts(h.chunk)
            cur = next((f for f in facts if f.kind in ("案", "要求")), None)
            prev = next((f for f in facts if f.kind == "前年度"), None)
            if not (cur and prev):
                continue
            diff = cur.amount.yen - prev.amount.yen
            if diff == 0:
                change = "前年度と同額です"
            else:
                word = "増" if diff > 0 else "減"
                # in the unit the documents use for both figures (52百万円, not 5,200万円)
                same = "百万円" in cur.amount.text and "百万円" in prev.amount.text and diff % 10**6 == 0
                amount = f"{abs(diff) // 10**6:,}百万円" if same else format_yen(abs(diff))
                change = f"前年度から{amount}の{word}です（stiqaによる計算）"
            text = (f"{subject_of(h.chunk)}の{cur.label}は{cur.amount.text}、{prev.label}は{prev.amount.text}で、"
                    f"{change}。")
            return text, [h.chunk], cur.line_text
        return None

    def _yes_no(self, q: Query, hits: list[Hit]):
        """Yes/no about a named organisation: say whether the passage on the topic names it."""
        entities = re.findall(r"[一-龯ァ-ヴA-Za-z]{1,}(?:大学|研究所|研究機構)", q.text)
        kind = re.search(r"(大学|研究所|研究機構)$", entities[0]).group(1) if entities else ""
        # or a rare place name (中国 in 「中国を相手国とするものは？」); 日本 is on every slide
        entities += [p for p in q.proper if not any(p in n for n in self._topic_names)
                     and self.idf.get(tokens(p)[0] if tokens(p) else p, 9.0) > 2.5]
        if not entities:
            # a claim to check (「1年間受け入れられますか」): state what the documents say about it
            as_type = "period" if re.search(r"\d+\s*(年|か月|ヶ月|週間)", q.text) else "fact"
            return self._best_line(replace(q, qtype=as_type), hits, need=0.2)
        entity = entities[0]
        ent_tokens = set(tokens(entity))
        saved = self._attrs
        self._attrs = [a for a in saved if a not in ent_tokens]
        self._skip_proper = {p for p in q.proper if p in entity}
        self._list_of = kind
        try:
            found = self._best_line(q, hits, top=2)
        finally:
            self._attrs = saved
            self._skip_proper = set()
            self._list_of = ""
        if found is None:
            return None
        text, used, span = found
        if any(contains(c.text, entity) for c in used):
            return f"はい。{text}", used, span
        return f"いいえ、資料の該当箇所に{entity}は挙げられていません。{text}", used, span
