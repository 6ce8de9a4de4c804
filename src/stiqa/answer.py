"""The extractive answerer: pick the line that answers, say it in one Japanese sentence, cite it.

No LLM. From the top chunks it chooses the figure (budget), the count, the dates, the period,
the full name, or the table row that answers; it quotes the source's own spelling and checks in
code that every number it states stands in a cited chunk. When nothing fits, it abstains.
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import replace

from .described import described_chunks
from .documents import document_date
from .facts import MoneyFact, money_facts
from .guard import numbers_supported
from .japanese import compact, fiscal_years, format_yen, normalize, person_names, tokens, yen_to_oku
from .passages import (CALENDAR_DATE, around, COUNT_UNIT, DATE, DAY, MONEY, PERIOD, TYPE_WORDS, Unit, chunk_grams, clean, contains, grams,
                       gram_idf_table, question_grams,
                       flat, idf_table, is_label)
from .passages import subject as subject_of
from .passages import units as passage_units
from .models import Answer, Chunk, Citation, Hit
from .question import COMPARE as _COMPARE, Query, alternatives, analyze
from .rank import Entry, entries, expand, names_in, nth, rank_asked
from .retrieve import Searcher, expand_query

ABSTAIN_TEXT = "資料には記載が見つかりませんでした。"
#: words of a money question that say "how much", not what about
_MONEY_WORDS = {"予算", "予算額", "金額", "額", "円", "いくら", "案", "要求", "要望", "補正", "前年度", "合計", "総額",
                "全体", "計上", "付く", "積む", "投じる", "規模", "年間", "最大", "程度", "支援", "あたり", "当たり",
                "措置", "出る", "もらえる", "受けられる", "受ける", "どの", "くらい", "課題", "一", "1", "年額", "分",
                "合わせる", "合算", "足す"}
#: A function naming the programs a text mentions, each as its list of names (official first).
AliasLookup = Callable[[str], list[list[str]]]

_EN_PROGRAM_NAME = re.compile(r"(?:[A-Z][A-Za-z\-]+\s+(?:(?:and|for|of|the)\s+)?)+(?:Program|Programme|Project|Initiative|Fund|Fellowship)s?\b")
_PROGRAM_NAME = re.compile(r"[一-龯ァ-ヴーA-Za-z・]{3,}(?:事業|プログラム|制度|基金|イニシアティブ)")


class Answerer:
    """Turns a question into an ``Answer`` using a ``Searcher`` (and, when given, the alias table)."""

    def __init__(self, searcher: Searcher, *, aliases: AliasLookup | None = None,
                 finder: Callable[[str], Answer | None] | None = None, k: int = 6) -> None:
        self.searcher = searcher
        self.aliases = aliases
        self.finder = finder
        self.k = k
        self.idf = idf_table(searcher.chunks)
        self.gram_idf = gram_idf_table(searcher.chunks)
        self._qgrams: set[str] = set()
        self._list_of = ""  # a yes/no about one of a kind (大学) prefers the line listing them
        self._by_description: dict[tuple[str, ...], set[str]] = {}
        # reading order of each file: a slide's figure or list may sit in the chunk next door
        order = sorted(searcher.chunks, key=lambda c: (c.source, c.line_start))
        self._after = {a.id: b for a, b in zip(order, order[1:]) if a.source == b.source}
        self._before = {b.id: a for a, b in zip(order, order[1:]) if a.source == b.source}
        self._attrs: list[str] = []
        self._topic_names: set[str] = set()
        self._skip_proper: set[str] = set()
        self._note = ""

    # ------------------------------------------------------------ entry point

    def answer(self, question: str, *, interpretation: str = "") -> Answer:
        t0 = time.perf_counter()
        groups = self.aliases(question) if self.aliases else []
        q = analyze(question, [n for g in groups for n in g])
        if q.qtype == "finder" and self.finder and not groups:
            found = self.finder(question)
            if found is not None:
                found.latency_ms = (time.perf_counter() - t0) * 1000
                found.interpretation = interpretation
                return found
        unknown = self._unknown_program(q.text, groups)
        if unknown:
            ans = self._abstain(question, [])
            ans.text = f"{ABSTAIN_TEXT}（「{unknown}」は資料のどの文書にも出てきません。）"
            ans.latency_ms = (time.perf_counter() - t0) * 1000
            ans.interpretation = interpretation
            return ans
        dated = document_date(q.text, self.searcher.chunks) if not groups else None
        if dated:  # 「この資料はいつ付け？」: the document's own date line
            hits, result = [], (dated[0], [dated[1]], dated[2])
        else:
            alias_terms = [n for g in groups for n in g[1:]]
            bm25_query = expand_query(q.text) + (" " + " ".join(alias_terms) if alias_terms else "")
            hits = self.searcher.search(q.text, max(self.k, 8), bm25_query=bm25_query)
            hits = self._focus(q, hits, groups)
            self._attrs = self._attributes(q, groups)
            self._note = ""
            self._topic_names = {n for g in groups for n in g}
            self._qgrams = set() if q.english else question_grams(q.text, self._topic_names)
            result = self._dispatch(q, hits, groups) if hits else None
        if result is None:
            ans = self._abstain(question, hits)
            missing = [t for t in q.salient if not any(compact(t) in flat(c) for c in self.searcher.chunks)]
            if self._note:
                ans.text = f"{ABSTAIN_TEXT}{self._note}"
            elif missing:
                ans.text = f"{ABSTAIN_TEXT}（「{missing[0]}」は資料のどの文書にも出てきません。）"
        else:
            text, used, span = result
            text, used = self._guard(text, used, span)
            ans = Answer(question, text, [Citation.from_chunk(c, span if i == 0 else "") for i, c in enumerate(used)],
                         False, related=[Citation.from_chunk(h.chunk) for h in hits[:4]
                                         if h.chunk.id not in {c.id for c in used}][:3])
        ans.retrieved = [h.chunk.id for h in hits]
        ans.interpretation = interpretation
        ans.latency_ms = (time.perf_counter() - t0) * 1000
        return ans

    def _unknown_program(self, text: str, groups: list[list[str]]) -> str:
        """The name of a program the question names (「…事業」) that no document mentions, or ''."""
        names = [n for g in groups for n in g]
        if not names:
            for m in _EN_PROGRAM_NAME.finditer(text):
                first = m.group(0).split()[0]
                if not any(compact(first) in flat(c) for c in self.searcher.chunks):
                    return m.group(0)
        for m in _PROGRAM_NAME.finditer(text):
            name = m.group(0)
            if any(compact(n) in compact(name) or compact(name) in compact(n) for n in names):
                continue
            # fuzzy: OCR variants (研鑚/研鑽) and paraphrases (受入強化事業) still count as named
            name_grams = grams(name)
            if not any(len(name_grams & chunk_grams(c)) >= 0.7 * len(name_grams) for c in self.searcher.chunks):
                return name
        return ""

    # ------------------------------------------------------------ topic focus

    def _focus(self, q: Query, hits: list[Hit], groups: list[list[str]]) -> list[Hit]:
        """Keep the hits about what the question names; abstain-worthy if nothing in the corpus does."""
        must: list[list[str]] = [g for g in groups]
        covered = {compact(n) for g in groups for n in g}
        for term in q.salient:
            if not any(compact(term) in c or c in compact(term) for c in covered):
                must.append([term])
        if not must:
            return hits[: self.k]
        def about(chunk: Chunk, names: list[str]) -> bool:
            hay = flat(chunk, context=True)
            return any(compact(n) in hay for n in names) or chunk.id in self._described(names)
        kept = [h for h in hits if all(about(h.chunk, names) for names in must)]
        if len(kept) < 3:
            # look beyond the fused top-k: every chunk that names the topic, in BM25 order
            scores = self.searcher.bm25_scores(q.text + " " + " ".join(n for g in must for n in g))
            pool = [i for i, c in enumerate(self.searcher.chunks) if all(about(c, names) for names in must)]
            pool.sort(key=lambda i: -scores[i])
            seen = {h.chunk.id for h in kept}
            kept += [Hit(self.searcher.chunks[i], float(scores[i])) for i in pool
                     if self.searcher.chunks[i].id not in seen][: self.k - len(kept)]
        return self._neighbours(kept[: self.k])

    def _described(self, names: list[str]) -> set[str]:
        """Chunks of slides that name the program only by its description (computed once)."""
        key = tuple(names)
        if key not in self._by_description:
            self._by_description[key] = described_chunks(names, self.searcher.chunks)
        return self._by_description[key]

    def _neighbours(self, hits: list[Hit]) -> list[Hit]:
        """The top hits' neighbours in the same program, after the hits: a slide's title, its
        figure and its list can land in adjacent chunks (「柱 2:535億€」 above its caption)."""
        seen = {h.chunk.id for h in hits}
        extra: list[Hit] = []
        for h in hits[:3]:
            for n in (self._before.get(h.chunk.id), self._after.get(h.chunk.id)):
                if n is not None and n.id not in seen and n.program == h.chunk.program:
                    seen.add(n.id)
                    extra.append(Hit(n, 0.0))
        return hits + extra

    # ------------------------------------------------------------ by question type

    def _dispatch(self, q: Query, hits: list[Hit], groups: list[list[str]]):
        if _COMPARE.search(q.text) and q.qtype in ("budget", "negative", "fact", "amount"):
            # the figures to compare sit on the budget lines: look there too
            more = self.searcher.search(q.text + " 予算額 前年度予算額", max(self.k, 8),
                                        bm25_query=q.text + " 予算額 前年度予算額")
            got = self._compare(q, hits + self._focus(q, more, groups))
            if got:
                return got
        if q.qtype == "abbrev" or (q.qtype == "fact" and re.search(r"とは|って何|どういう|どんな|what is|what does", q.text, re.I)
                                   and q.salient):
            got = self._abbrev(q, hits)
            if got or q.qtype == "abbrev":
                return got
        if q.qtype in ("budget", "amount"):
            got = self._money(q, hits)
            if got:
                return got
            if q.qtype == "budget" and (q.years or q.kind in ("前年度", "補正")):
                return None  # the year or kind asked for is not in the documents: never guess

        if q.qtype in ("fact", "count") and rank_asked(q.text):
            got = self._ranking(q, hits)
            if got:
                return got
        if q.qtype == "negative":
            return self._yes_no(q, hits)
        return self._best_line(q, hits)

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

    def _money(self, q: Query, hits: list[Hit]):
        per_unit = q.qtype == "amount"
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
                        other_years.append(f"{_reiwa(f.year)}（{f.label}）")
                    continue
                candidates.append((rank, f))
        if not candidates:
            if other_years:
                self._note = "資料にあるのは " + "、".join(dict.fromkeys(other_years)) + " の金額です。"
            return None
        # 「JST分は？」: the figure written right after the name asked for, whatever its label
        entities = [w for w in re.findall(r"[A-Z][A-Z0-9]{1,}", q.text)
                    if not any(w in n for n in self._topic_names)]
        named = [(r, f) for r, f in candidates
                 if any(w in normalize(f.line_text)[: f.amount.start][-8:] for w in entities)]
        if named:
            candidates = named
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
        if not self._covers(q, [a for a in self._attrs if a not in _MONEY_WORDS], context):
            return None
        subject = subject_of(best.chunk)
        amount = best.amount.text
        conv = f"（{yen_to_oku(best.amount.yen)}）" if "百万円" in amount and best.amount.yen >= 10**8 else ""
        if best.kind:
            label = best.label
            if best.kind == "前年度" and best.year:
                label = f"{best.label}（{_reiwa(best.year)}）"
            text = f"{subject}の{label}は{amount}{conv}です。"
        elif best.label:
            text = f"{subject}の{best.label}は{amount}です（資料の記載：「{clean(best.line_text)}」）。"
        else:
            text = f"{subject}について、資料には「{clean(best.line_text)}」とあります。"
        return text, [best.chunk], best.amount.text

    def _abbrev(self, q: Query, hits: list[Hit]):
        """Full name of an abbreviation, from the documents' own 「ABBR: 名称」/「名称（ABBR）」 forms."""
        asked = re.search(r"([A-Za-z][A-Za-z0-9\-]+)\s*(?:は|って|とは|の正式|の略|の日本語|stand|の英語)", q.text)
        terms = sorted(q.salient, key=lambda t: 0 if asked and asked.group(1) == t else 1)
        for term in terms:
            t = re.escape(normalize(term))
            rx = [re.compile(rf"(?<![A-Za-z]){t}\s*[:：]\s*([^\s:：()（）A-Z]{{4,}})"),
                  re.compile(rf"([^\s\t「」()（）:：、。]{{4,}})\s*[（(]{t}[）)]"),
                  re.compile(rf"(?<![A-Za-z]){t}[^()（）\n]{{0,20}}\s*[（(]([A-Z][A-Za-z &]{{6,}})[）)]"),
                  re.compile(rf"[（(]([A-Z][A-Za-z &]{{6,}}?)\s*[:：]\s*{t}[）)]")]
            names: list[tuple[str, Chunk]] = []
            for chunk in [h.chunk for h in hits] + self.searcher.chunks:
                body = normalize(chunk.text)
                for r in rx:
                    for m in r.finditer(body):
                        name = m.group(1).strip("「」 ")
                        if name not in [n for n, _ in names]:
                            names.append((name, chunk))
            if names:
                main, chunk = names[0]
                others = [n for n, _ in names[1:3]]
                text = f"{term}は「{main}」です。"
                if others:
                    text += "資料では" + "、".join(f"「{n}」" for n in others) + "とも表記されています。"
                used = [chunk] + [c for n, c in names[1:3] if c.id != chunk.id]
                return text, used[:3], main
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

    def _best_line(self, q: Query, hits: list[Hit], top: int = 1, need: float = 0.34):
        units = passage_units(hits, lambda c: self._after.get(c.id))
        want = self._figure(q)
        if q.qtype == "amount":
            # a program's total budget does not answer "how much per project / per person"
            units = [u for u in units if not re.search(r"予算額|要求|要望額|補正", u.text)]
        if want is not None:
            # a count question is answered by a line with a count (or a table cell with a number)
            units = [u for u in units if want.search(normalize(u.text))
                     or (q.qtype == "count" and re.search(r"\t\s*\d", u.text))]
        who = _WHO.search(q.text)
        if who and q.qtype == "fact" and not re.search(r"対象|資格|応募", who.group(1) or ""):  # 対象者は誰 asks who is eligible
            # 「…は誰？」 is answered by a line naming a person, in the role asked about when the
            # role is specific (文部科学大臣, not a 文部科学大臣表彰 award)
            role = "" if re.fullmatch(r"(研究者|人|方|人物|者|代表者)", who.group(1) or "") else who.group(1) or ""
            units = [u for u in units if person_names(u.text)
                     and (not role or re.search(re.escape(role) + r"(?![一-龯])", normalize(u.label + u.text)))]
            named = 0.5  # a bare name line 「上田 宏（東京工業大学 教授）」 is the answer here, not a label
        else:
            named = 0.0
        if q.qtype == "date" and re.search(r"何日|何月何|what date|which day", q.text, re.I):
            units = [u for u in units if DAY.search(normalize(u.text))] or units  # 「何年何月何日」 asks for a day
        if not units:
            return None
        scored = [(self._score(q, u) + named, u) for u in units]
        scored.sort(key=lambda su: -su[0])
        verdicts: dict[tuple[str, str], bool] = {}

        def covered(u: Unit) -> bool:
            key = (u.chunk.id, u.label)
            if key not in verdicts:
                verdicts[key] = self._covers(q, self._attrs, f"{u.label} {u.chunk.context_text}", need)
            # the line itself (with its label and heading) says something of what is asked
            own = f"{u.label} {u.text} {u.chunk.section.rsplit(' > ', 1)[-1]} {around(u)}"
            return verdicts[key] and (q.english or not self._attrs or self._overlap(q, own, self._attrs) > 0)

        # the best line of a passage that speaks of what is asked (a higher-scoring line of a
        # passage about something else does not make the answer unknown)
        at = next((i for i, (sc, u) in enumerate(scored) if sc >= 0.55 and covered(u)), None)
        if at is None:
            return None
        scored = scored[at:]
        score, best = scored[0]
        if q.qtype == "fact" and top == 1:
            top = 2 if len(scored) > 1 and scored[1][0] >= 0.85 * score else 1
        if top > 1:  # a second line from the same passage, e.g. the count beside a list
            extra = next((u for _, u in scored[1:] if u.chunk.id == best.chunk.id and u.line != best.line), None)
            if extra is not None:
                text, used, span = self._render(q, best)
                return f"{text}また「{clean(extra.text)}」とあります。", used, span
        return self._render(q, best)

    def _render(self, q: Query, best: Unit):
        line = clean(best.text)
        cells = [c for c in re.split(r"\t+", best.text.strip()) if c.strip()]
        subject = subject_of(best.chunk)
        pair = self._table_pair(q, cells)
        header = clean(best.chunk.text.split("\n")[0])
        if pair:
            text = f"{subject}の「{header}」では「{pair[0]} {pair[1]}」となっています。"
        elif len(cells) == 2 and len(cells[0]) <= 20:
            text = f"{subject}の{clean(cells[0])}は「{clean(cells[1])}」です。"
        elif best.label and len(line) <= 60 and not best.label.lstrip().startswith("#") \
                and compact(best.label) not in compact(subject):
            text = f"{subject}の{clean(best.label).strip('【】■●◆ ')}は「{line}」です。"
        else:
            text = f"{subject}について、資料には「{line}」とあります。"
        return text, [best.chunk] + ([best.more] if best.more else []), line

    @staticmethod
    def _table_pair(q: Query, cells: list[str]) -> tuple[str, str] | None:
        """In a row like 「米国 51 イタリア 6」 the figure after the cell the question names."""
        if len(cells) < 2:
            return None
        for i, cell in enumerate(cells[:-1]):
            if len(cell) >= 2 and names_in(q.text, cell) and re.fullmatch(r"[\d,.]+", cells[i + 1].strip()):
                return cell.strip(), cells[i + 1].strip()
        return None

    # ------------------------------------------------------------ scoring

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
            row_count = q.qtype == "count" and re.search(r"\t\s*\d", u.text)
            s += 0.6 if want.search(norm) or row_count else -0.4
            s += 1.2 * self._near(norm, _TABLE_COUNT if q.qtype == "count" else want)
            if q.qtype == "date" and re.search(r"から|より|以降|始ま|開始|since", q.text) and re.search(
                    r"(年度|年|月|日)\s*(~|から|より|以降|に?開始)", norm):
                s += 0.6  # 「何年度から」 is answered by a start: 平成20年度~, 令和5年度より開始
            counter = re.search(r"何\s*(件|人|名|か国|校|大学|課題|年度|年間|か月|分野|機関|年)", q.text)
            if counter and (row_count or re.search(rf"\d\s*{counter.group(1)}|{counter.group(1)}\s*\(\s*\d", norm)):
                s += 0.5  # 「何大学」 is answered by a count in 大学 (13大学), not in 校; a table cell has none
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
            named = [c for c in cells if len(c) >= 2 and not re.fullmatch(r"[\d,.]+", c) and names_in(q.text, c)]
            if named:
                s += 0.8
        if len(norm) < 6 and not u.label and len(cells) < 2:
            s -= 0.5
        if is_label(u.text) and not re.search(r"\d", norm):
            s -= 0.3  # a bare heading or label is not an answer
        return s

    # ------------------------------------------------------------ guard and abstain

    def _guard(self, text: str, used: list[Chunk], span: str) -> tuple[str, list[Chunk]]:
        """Every number stated must stand in a cited chunk; otherwise fall back to a plain quote."""
        if numbers_supported(text, [c.text for c in used]):
            return text, used
        return f"資料には「{clean(span)}」とあります。", used

    def _abstain(self, question: str, hits: list[Hit]) -> Answer:
        related = [Citation.from_chunk(h.chunk) for h in hits[:3]]
        text = ABSTAIN_TEXT
        if related:
            text += "近い内容の箇所を参考として示します。"
        return Answer(question, text, [], True, related=related)


_KANJI = "〇一二三四五六七八九十"
#: a question for a person, with the role asked about (「研究者は誰？」)
_WHO = re.compile(r"(?:([一-龯ァ-ヴー]{1,12})(?:は|が|って))?(?:誰|だれ|どなた)|\bwho\b", re.I)
#: a count, or the number in a table cell beside its row name (「量子\t15」)
_TABLE_COUNT = re.compile(COUNT_UNIT.pattern + r"|(?<=\t)\s*\d[\d,]*\s*(?=\t|$)")


def _reiwa(year: int) -> str:
    return f"令和{year - 2018}年度" if year > 2018 else f"平成{year - 1988}年度"
