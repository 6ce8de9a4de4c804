"""Budget and per-unit sums: pair each figure with its label, fiscal year and kind, and pick the
one the question asks for (a year, a kind, an agency's share, the figure a question quotes).

A mixin of ``Answerer`` (it reads ``_attrs``, ``_topic_names``, ``_pool``, ``_note`` and the
neighbour maps the answerer keeps, and scores with ``Relevance``).
"""
from __future__ import annotations

import re

from stiqa.catalog.facts import MoneyFact, money_facts
from stiqa.text.japanese import fiscal_years, normalize, parse_amounts, western_to_era, yen_to_oku
from stiqa.records import Hit
from stiqa.answer.passages import clean
from stiqa.answer.passages import subject as subject_of
from stiqa.answer.question import Query

#: words of a money question that say "how much", not what about
MONEY_WORDS = {"予算", "予算額", "金額", "額", "円", "いくら", "案", "要求", "要望", "補正", "前年度", "合計", "総額",
                "全体", "計上", "付く", "積む", "投じる", "規模", "年間", "最大", "程度", "支援", "あたり", "当たり",
                "措置", "出る", "もらえる", "受けられる", "受ける", "どの", "くらい", "課題", "一", "1", "年額", "分",
                "合わせる", "合算", "足す"}


class Money:
    """Budget (予算額, 補正, 前年度, 合計) and amount (per project, per person) questions."""

    def _money(self, q: Query, hits: list[Hit]):
        per_unit = q.qtype == "amount"
        # 「JST分は？」: the figure written right after the name asked for, whatever its label; the
        # topic's other passages that write that name are candidates too (after the hits)
        entities = [w for w in re.findall(r"[A-Z][A-Z0-9]{1,}", q.text)
                    if not any(w in n for n in self._topic_names)]
        seen = {h.chunk.id for h in hits}
        hits = hits + [Hit(c, 0.0) for c in self._pool if c.id not in seen and any(e in c.text for e in entities)]
        # 「資料に出てくる30億円は…」: the passage that writes the figure quoted, nearest the topic first
        quoted = {a.yen for a in parse_amounts(q.text)}
        if quoted:
            topic = {c.id for c in self._pool}
            writes = [c for c in self.searcher.chunks if any(a.yen in quoted for a in parse_amounts(c.text))]
            writes.sort(key=lambda c: c.id not in topic and not (
                self._after.get(c.id, c).id in topic or self._before.get(c.id, c).id in topic))
            seen = {h.chunk.id for h in hits}
            hits = [Hit(c, 1.0) for c in writes[:1] if c.id not in seen] + hits
        candidates: list[tuple[int, MoneyFact]] = []
        other_years: list[str] = []
        for rank, h in enumerate(hits):
            for f in money_facts(h.chunk):
                slash = "/" in normalize(f.line_text)
                if per_unit and f.kind and not slash:
                    continue  # a budget line does not answer "how much per project"
                if not per_unit and not f.kind:
                    # an unlabelled figure answers a budget question only when the words right
                    # before it are what the question names (「JST:441億円」)
                    before = normalize(f.line_text)[: f.amount.start][-12:] + " " + f.label
                    if slash or self._overlap(q, before, self._attrs or q.content) == 0:
                        continue
                summed = f.kind == "合計" and set(q.years) <= set(fiscal_years(f.label))  # 「…及び令和5年度予算額の合計」
                if q.years and not per_unit and f.year not in q.years and not summed and not (
                        f.kind == "前年度" and f.year is not None and f.year + 1 in q.years and q.kind == "前年度"):
                    if f.year and rank < 2:
                        other_years.append(f"{western_to_era(f.year)}（{f.label}）")
                    continue
                candidates.append((rank, f))
        if not candidates:
            if other_years:
                self._note = "資料にあるのは " + "、".join(dict.fromkeys(other_years)) + " の金額です。"
            return None
        named = [(r, f) for r, f in candidates
                 if any(w in normalize(f.line_text)[: f.amount.start][-8:] for w in entities)]
        if quoted:  # the figures beside the quoted one, not the same names' figures elsewhere
            named = [(r, f) for r, f in named if any(a.yen in quoted for a in parse_amounts(f.chunk.text))]
        if named:
            candidates = named
            split = self._shares(entities, [f for _, f in named])
            if split:
                return split
        elif q.kind:
            exact = [(r, f) for r, f in candidates if f.kind == q.kind
                     or (q.kind == "前年度" and q.years and f.year in q.years)]
            candidates = exact or ([] if q.kind in ("前年度", "補正") else candidates)
        elif not per_unit:
            # a supplementary budget is a different number: give it only when asked for
            regular = [(r, f) for r, f in candidates if f.kind != "補正"]
            candidates = regular or candidates
        if not candidates:
            return None

        def score(rf: tuple[int, MoneyFact]) -> float:
            rank, f = rf
            s = 1.0 / (1 + rank)
            if not q.kind and f.kind in ("案", "要求"):
                s += 0.5
            if per_unit and normalize(f.line_text)[f.amount.end:f.amount.end + 2].lstrip().startswith(("/", "／")):
                s += 0.5  # 「3,000万円/年」 is a sum per unit, what "per project / per person" asks
            before = normalize(f.line_text)[: f.amount.start][-12:]
            s += 0.8 * self._overlap(q, before + " " + f.label, self._attrs or q.content)
            s += 0.5 * self._overlap(q, f.chunk.program + " " + f.chunk.section + " " + f.line_text)
            return s

        best = max(candidates, key=score)[1]
        context = f"{best.label} {best.chunk.context_text}"
        if not self._covers(q, [a for a in self._attrs if a not in MONEY_WORDS], context):
            return None
        subject = subject_of(best.chunk)
        amount = best.amount.text
        conv = f"（{yen_to_oku(best.amount.yen)}）" if "百万円" in amount and best.amount.yen >= 10**8 else ""
        if best.kind:
            label = best.label
            if best.kind == "前年度" and best.year:
                label = f"{best.label}（{western_to_era(best.year)}）"
            text = f"{subject}の{label}は{amount}{conv}です。"
        elif best.label:
            text = f"{subject}の{best.label}は{amount}です（資料の記載：「{clean(best.line_text)}」）。"
        else:
            text = f"{subject}について、資料には「{clean(best.line_text)}」とあります。"
        return text, [best.chunk], best.amount.text

    def _shares(self, entities: list[str], named: list[MoneyFact]):
        """「JSTとAMEDでどう分かれる？」: each name's figure, all from one line of one passage."""
        if len(set(entities)) < 2:
            return None
        for f in named:
            line = normalize(f.line_text)
            each = {w: next((g for g in named if g.chunk.id == f.chunk.id and g.line == f.line
                             and w in line[: g.amount.start][-8:]), None) for w in dict.fromkeys(entities)}
            if all(each.values()):
                parts = "、".join(f"{w}は{g.amount.text}" for w, g in each.items())
                return (f"{subject_of(f.chunk)}について、{parts}です（資料の記載：「{clean(f.line_text)}」）。",
                        [f.chunk], f.line_text)
        return None


