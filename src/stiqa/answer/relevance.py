"""How well a candidate line answers a question: the scores the extractive answerer ranks by.

Rarity-weighted word overlap (with paraphrases), character-bigram overlap (paraphrase-tolerant),
closeness of the asked words to a figure of the asked kind, and the coverage test that decides
whether a passage speaks of what is asked at all. A mixin of ``Answerer``: it reads the per-
question state the answerer sets (``_attrs``, ``_qgrams``, ``_topic_names``, ``_skip_proper``,
``_list_of``) and the corpus tables (``idf``, ``gram_idf``).
"""
from __future__ import annotations

import re

from stiqa.text.japanese import compact, normalize, tokens
from stiqa.answer.passages import (CALENDAR_DATE, COUNT_UNIT, DATE, MONEY, PERIOD, TYPE_WORDS, Unit, contains, grams,
                       is_label)
from stiqa.answer.question import Query, alternatives
from stiqa.answer.tables import expand, names_entry

#: verbs that say something was done, not what: 「いつから行われていますか」 asks only when
GENERIC_VERBS = {"行う", "実施", "やる", "為る", "する"}
#: counters that count the same things
_SAME_COUNTER = {"校": "校|大学", "人": "人|名", "名": "名|人"}
#: a count, or the number in a table cell beside its row name (「量子\t15」)
_TABLE_COUNT = re.compile(COUNT_UNIT.pattern + r"|(?<=\t)\s*\d[\d,]*\s*(?=\t|$)")


class Relevance:
    """Line and passage scoring, shared by every answer type."""

    idf: dict[str, float]
    gram_idf: dict[str, float]
    _attrs: list[str]
    _qgrams: set[str]
    _topic_names: set[str]
    _skip_proper: set[str]
    _list_of: str
    _numbered: list[tuple[str, str]]
    _compounds: list[str]

    def _overlap(self, q: Query, text: str, words: list[str] | tuple[str, ...] | None = None) -> float:
        """Share of the question's content words (weighted by rarity) that the text contains."""
        words = q.content if words is None else words
        if not words:
            return 0.0
        have = set(tokens(text))
        weights = {t: self.idf.get(t, 3.0) for t in words}
        total = sum(weights.values()) or 1.0
        # the word itself is better evidence than a paraphrase of it (仕組み vs スキーム)
        return sum(w if t in have else 0.6 * w for t, w in weights.items()
                   if any(a in have for a in alternatives(t))) / total

    @staticmethod
    def _figure(q: Query) -> re.Pattern[str] | None:
        """The shape of the figure that answers the question type."""
        if q.qtype == "date" and re.search(r"(まし|でし|され|った)た?か?[？?。]?\s*$|was|were|did", q.text):
            return CALENDAR_DATE  # an event that took place has a date, not 「開始3年目」
        return {"count": COUNT_UNIT, "period": PERIOD, "date": DATE, "amount": MONEY, "budget": MONEY}.get(q.qtype)

    def _near(self, norm: str, figure: re.Pattern[str]) -> float:
        """How close the asked words stand to a figure of the asked kind in the line: of two
        counts in one sentence (「EU加盟27カ国…20カ国が準参加」) the one beside 準参加 answers."""
        spots = [m.span() for m in figure.finditer(norm)]
        if not spots or not self._attrs:
            return 0.0
        weights = {t: self.idf.get(t, 4.0) for t in self._attrs}
        # Japanese puts the predicate last: 「中間評価はいつ実施されましたか」 asks when 実施 happened
        weights[self._attrs[-1]] *= 2
        total = sum(weights.values()) or 1.0
        best = 0.0
        for start, end in spots:
            got = 0.0
            for t, w in weights.items():
                # the gap between the word and the figure, whichever side the word is on, within
                # one sentence (「…を実施。（令和4年6月、…戦略2022）」 dates the cited strategy)
                dists = [max(m.start() - end, start - m.end(), 0) for a in alternatives(t)
                         if len(a) >= 2 or "\u4e00" <= a <= "\u9fff" for m in re.finditer(re.escape(a), norm)
                         if "。" not in norm[min(m.end(), end):max(m.start(), start)]]
                if dists:
                    got += w / (1 + min(dists) / 12)
            best = max(best, got / total)
        return best

    def _gram_overlap(self, text: str) -> float:
        """Rarity-weighted share of the question's bigrams in the text (paraphrase-tolerant)."""
        if not self._qgrams:
            return 0.0
        have = grams(text)
        weights = {g: self.gram_idf.get(g, 5.0) for g in self._qgrams}
        return sum(w for g, w in weights.items() if g in have) / (sum(weights.values()) or 1.0)

    def _attributes(self, q: Query, groups: list[list[str]]) -> list[str]:
        """The question's words about *what* it asks, once the program names are taken out."""
        topic = set()
        for g in groups:
            # only the name the question spells: 「ホライズン・ヨーロッパに準参加している国」 matched
            # the program 「…への準参加」 by its short name, and 準参加 is still what it asks about
            spelled = [n for n in g if compact(n) in compact(q.text)] or g
            for n in spelled:
                topic.update(tokens(n))
        for term in q.salient:
            topic.update(tokens(term))
        return [t for t in q.content if t not in topic]

    def _covers(self, q: Query, attrs: list[str], text: str, need: float = 0.34) -> bool:
        """Does a passage speak of what is asked (rarity-weighted share of the asked words)?

        English questions are matched on names only: their words are not in the Japanese text.
        """
        flat = compact(text)
        # rare names only (中国 yes, 日本 no): a name on every other slide decides nothing
        names = [p for p in q.proper if not any(p in n for n in self._topic_names)
                 and p not in self._skip_proper and self.idf.get(tokens(p)[0] if tokens(p) else p, 9.0) > 2.5]
        if any(all(compact(a) not in flat for a in alternatives(p)) and not expand(p, text) for p in names):
            return False  # the passage is about something else (中国 asked, フランス found)
        attrs = [a for a in attrs if a not in GENERIC_VERBS]
        if q.english or not attrs:
            return True
        have = set(tokens(text))
        weights = {t: self.idf.get(t, 4.0) for t in attrs}
        total = sum(weights.values()) or 1.0
        # substring too: the analyser may cut 「1課題」 and 「課題」 differently
        found = sum(w for t, w in weights.items()
                    if any(a in have or ((len(a) >= 2 or "\u4e00" <= a <= "\u9fff") and a in flat)
                           for a in alternatives(t)))
        return found / total >= need

    def _score(self, q: Query, u: Unit) -> float:
        norm = normalize(u.text)
        s = 0.6 / (1 + 0.5 * u.rank)
        # the topic is settled by focus; within it, the line that says what is asked wins
        # words about what is asked; with none (「SICORPっていつから？」) the type's cue words decide
        s += 1.0 * self._overlap(q, u.label + " " + u.text, self._attrs)
        s += 0.8 * self._gram_overlap(u.label + " " + u.text)
        if self._list_of and len(re.findall(rf"[一-龯ァ-ヴー]+{self._list_of}(?![一-龯ァ-ヴー])", norm)) >= 3:
            s += 0.6  # a list of names of the kind asked about (京都大学、東京大学、…)
        s += 0.3 * self._overlap(q, u.chunk.section + " " + u.chunk.program)
        want = self._figure(q)
        if want is not None:
            row_count = q.qtype == "count" and re.search(r"\t\s*\d[\d,]*\s*(\t|$)", u.text)
            s += 0.6 if want.search(norm) or row_count else -0.4
            s += 1.2 * self._near(norm, _TABLE_COUNT if q.qtype == "count" else want)
            if q.qtype == "date" and re.search(r"から|より|以降|始ま|開始|since", q.text):
                # 「何年度から」 is answered by a start: 平成20年度~, 令和5年度より開始, best of all
                # by the labelled start of a program (事業開始時期 昭和57年度, ■開始:平成19年度)
                if re.search(r"開始(時期|年度)?\s*[:：\t]\s*(昭和|平成|令和|\d)", norm):
                    s += 0.9
                elif re.search(r"(年度|年|月|日)\s*(~|から|より|以降|に?開始)", norm):
                    s += 0.6
            # 「何大学」 is answered by a count in 大学 (13大学), not in 校 (a table cell has none);
            # 「何年度の…を何人」 asks two things, and the line with both answers it
            for counter in re.findall(r"何\s*(件|人|名|か国|校|大学|課題|年度|年間|か月|分野|機関|年)", q.text):
                same = _SAME_COUNTER.get(counter, counter)  # 何校 is counted in 大学 too (11大学), 何大学 not in 校
                if row_count or re.search(rf"\d\s*({same})|({same})\s*\(\s*\d", norm):
                    s += 0.5
        cue = TYPE_WORDS.get(q.qtype)
        if cue is not None and cue.search(normalize(u.label + " " + u.text)):
            s += 0.15 if self._attrs and not q.english else 0.4  # the asked words, when there are some, decide
        # a specific name the question asks about (a country, a field), in the line itself
        specific = [t for t in q.salient if t not in self._topic_names]
        if any(contains(u.text, t) for t in specific):
            s += 0.8
        cells = [c.strip() for c in re.split(r"\t+", u.text) if c.strip()]
        if len(cells) >= 2:
            # a table row whose key cell the question names is the row it asks about
            named = [c for c in cells if len(c) >= 2 and not re.fullmatch(r"[\d,.]+", c) and names_entry(q.text, c)]
            if named:
                s += 0.8
        # a numbered name the question uses (柱2, 第2次, タイプA) picks its own line (柱 2:535億€),
        # and a line on a sibling of it (柱 3) is about something else
        for w, d in self._numbered:
            own = re.search(re.escape(w) + r"\s*" + re.escape(d) + r"(?![\dA-Za-z])", norm)
            sibling = re.search(re.escape(w) + r"\s*(?!" + re.escape(d) + r"(?![\dA-Za-z]))[\dA-Z](?![\dA-Za-z])", norm)
            s += 0.6 if own else -0.6 if sibling else 0.0
        # 「事業期間」 is not answered by a line on another 期間 (公募期間:7月18日~8月18日)
        for asked in self._compounds:
            heads = [r for r in re.findall(r"[一-龯]{3,}", norm) if r.endswith(asked[-2:])]
            same = {a for t in tokens(asked[:-2]) for a in alternatives(t) if len(a) >= 2}  # 滞在 ~ 受入期間
            if heads and not any(r.endswith(asked) or any(a in r[:-2] or a == r for a in same) for r in heads):
                s -= 1.0
        if len(norm) < 6 and not u.label and len(cells) < 2:
            s -= 0.5
        if is_label(u.text) and not re.search(r"\d", norm):
            s -= 0.3  # a bare heading or label is not an answer
        return s
