"""The extractive answerer: pick the line that answers, say it in one Japanese sentence, cite it.

No LLM. From the top chunks it chooses the figure (budget), the count, the dates, the period,
the full name, or the table row that answers; it quotes the source's own spelling and checks in
code that every number it states stands in a cited chunk. When nothing fits, it abstains.
"""
from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable
from contextvars import ContextVar

from stiqa.answer.claims import Claims
from stiqa.answer.lines import Lines
from stiqa.answer.definitions import asked_term, enumeration, gloss
from stiqa.answer.described import described_chunks
from stiqa.answer.documents import document_date
from stiqa.text.glossary import translations
from stiqa.answer.guard import numbers_supported
from stiqa.answer.prose import min_cover as prose_min_cover, prose_answer
from stiqa.text.japanese import compact, fiscal_years, normalize, western_to_era
from stiqa.records import ABSTAIN_TEXT, Answer, Chunk, Citation, Hit
from stiqa.answer.passages import Unit, chunk_grams, clean, flat, gram_idf_table, grams, idf_table, question_grams
from stiqa.answer.question import COMPARE as _COMPARE, Query, alternatives, analyze, asked_kind
from stiqa.answer.money import Money
from stiqa.answer.tables import rank_asked
from stiqa.answer.relevance import Relevance
from stiqa.retrieve.search import Searcher, expand_query
from stiqa.answer.suggest import BESIDE_COVER, clause_of, suggest
from stiqa.answer.features import matrix
from stiqa.answer.model import Ranker
from stiqa.answer.compare import compare_answer, conflict_note
from stiqa.answer.options import Offer, offer

#: question types whose figure belongs to the fiscal year the question names
_YEAR_BOUND = ("count", "amount", "period")
#: A function naming the programs a text mentions, each as its list of names (official first).
AliasLookup = Callable[[str], list[list[str]]]
#: when set (``train.collect``), each question's query, offer and feature rows are appended to it
TRACE: ContextVar[list | None] = ContextVar("stiqa_answer_trace", default=None)

_EN_PROGRAM_NAME = re.compile(r"(?:[A-Z][A-Za-z\-]+\s+(?:(?:and|for|of|the)\s+)?)+(?:Program|Programme|Project|Initiative|Fund|Fellowship)s?\b")
_PROGRAM_NAME = re.compile(r"[一-龯ァ-ヴーA-Za-z・]{3,}(?:事業|プログラム|制度|基金|イニシアティブ)")


class Answerer(Money, Claims, Lines, Relevance):
    """Turns a question into an ``Answer`` using a ``Searcher`` (and, when given, the alias table)."""

    def __init__(self, searcher: Searcher, *, aliases: AliasLookup | None = None,
                 finder: Callable[[str], Answer | None] | None = None, k: int = 6,
                 ranker: Ranker | None = None) -> None:
        self.searcher = searcher
        self.ranker = ranker  # None: the readers' own answer, unchosen (training data collection)
        self.aliases = aliases
        self.finder = finder
        self.k = k
        self.idf = idf_table(searcher.chunks)
        self.gram_idf = gram_idf_table(searcher.chunks)
        self._qgrams: set[str] = set()
        self._list_of = ""  # a yes/no about one of a kind (大学) prefers the line listing them
        self._by_description: dict[tuple[str, ...], set[str]] = {}
        self._pool: list[Chunk] = []  # every chunk about the question's topic
        self._numbered: list[tuple[str, str]] = []
        self._compounds: list[str] = []
        self._groups: list[list[str]] = []
        # reading order of each file: a slide's figure or list may sit in the chunk next door
        order = sorted(searcher.chunks, key=lambda c: (c.source, c.line_start))
        self._after = {a.id: b for a, b in zip(order, order[1:]) if a.source == b.source}
        self._before = {b.id: a for a, b in zip(order, order[1:]) if a.source == b.source}
        self._attrs: list[str] = []
        self._topic_names: set[str] = set()
        self._skip_proper: set[str] = set()
        self._note = ""
        self._confidence: float | None = None

    # ------------------------------------------------------------ entry point

    def answer(self, question: str, *, interpretation: str = "") -> Answer:
        """Answer one question. The long-lived answerer is never written to while answering: each
        question runs on its own shallow copy, which holds that question's context (its topic
        pool, the attributes asked, the note explaining an abstention), so answers run in
        parallel without a lock. What the copies share is read-only (the searcher, the rarity
        tables, the reading order) or an idempotent cache (slides described by their overview)."""
        return copy.copy(self)._answer(question, interpretation=interpretation)

    def _answer(self, question: str, *, interpretation: str) -> Answer:
        t0 = time.perf_counter()
        groups = self.aliases(question) if self.aliases else []
        q = analyze(question, [n for g in groups for n in g])
        catalog_miss = None
        if q.qtype == "finder" and self.finder and not groups:
            found = self.finder(question)
            if found is not None and not found.abstained:
                self._beside_catalog(q, found)
                found.latency_ms = (time.perf_counter() - t0) * 1000
                found.interpretation = interpretation
                return found
            catalog_miss = found  # none of the catalog's programs fits: the passages may name one
        unknown = self._unknown_program(q.text, groups)
        if unknown:
            ans = self._abstain(question, [])
            ans.text = f"{ABSTAIN_TEXT}（「{unknown}」は資料のどの文書にも出てきません。）"
            ans.latency_ms = (time.perf_counter() - t0) * 1000
            ans.interpretation = interpretation
            return ans
        across = compare_answer(question, q, groups, self.searcher)  # years across documents (ledger)
        if across is not None:
            across.latency_ms, across.interpretation = (time.perf_counter() - t0) * 1000, interpretation
            return across
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
            self._groups = groups
            self._qgrams = set() if q.english else question_grams(q.text, self._topic_names)
            # 「柱2」「タイプB」: a name with its number or letter (not a year, not an amount)
            self._numbered = [(w, d) for w, d in re.findall(r"([一-龯ァ-ヴー]{1,6})\s*(\d{1,2}|[A-Z])(?![\d年月日件人億万円%])", q.text)
                              if not re.search(r"令和|平成|昭和|年度", w)]
            # the question's own compound nouns (事業期間), once the topic's names are taken out
            rest = q.text
            for n in sorted(self._topic_names, key=len, reverse=True):
                rest = rest.replace(normalize(n), " ")
            self._compounds = [c for c in re.findall(r"(?<![一-龯])[一-龯]{4,}(?![一-龯])", rest)
                               if not any(p in c for p in q.proper)]  # 大阪大学 is a name, not an attribute
            # a situation is answered by the passage naming a program, not by the typed readers
            result = self._dispatch(q, hits, groups) if hits and q.qtype != "finder" else None
            if q.qtype == "finder" and hits:
                # a program the catalog does not know (a new document's): the passage that
                # holds most of the situation names it (suggest.py); else the catalog's answer
                result = suggest(self.searcher.matcher, self.searcher.position, q.text, hits,
                                 previous=lambda c: self._before.get(c.id))
                if result is None and catalog_miss is not None:
                    catalog_miss.latency_ms = (time.perf_counter() - t0) * 1000
                    catalog_miss.interpretation = interpretation
                    return catalog_miss
            elif result is None and hits and q.salient and re.search(r"どのような|どんな|どういう", q.text):
                result = clause_of(q.salient[0], [h.chunk for h in hits])
            term = asked_term(q.text) if hits and q.qtype in ("fact", "abbrev", "negative") else ""
            if term:
                # the documents' own definition of the term: its gloss in brackets, or, for a
                # named set (「3つの柱」), the numbered items under it (definitions.py)
                chunks = [h.chunk for h in hits]
                counted = re.search(r"\d|[一二三四五六七八九十]つ", term)
                result = gloss(term, chunks) or (enumeration(term, chunks) if counted else None) or result
            if result is not None and q.years and q.qtype in _YEAR_BOUND:
                result = self._in_year(q, result)
            cover = prose_min_cover(q)
            if result is None and hits and not self._note and cover is not None and not asked_kind(q.text):
                # prose: the sentence that holds most of the question (prose.py)
                result = prose_answer(self.searcher.matcher, self.searcher.position, q.text, hits,
                                      min_cover=cover)
            if hits and q.qtype != "finder":
                result = self._chosen(q, hits, result)
        if result is None:
            ans = self._abstain(question, hits)
            missing = [t for t in q.salient if not any(compact(n).lower() in flat(c).lower() for n in (t, *translations(t))
                                                       for c in self.searcher.chunks)]
            if self._note:
                ans.text = f"{ABSTAIN_TEXT}{self._note}"
            elif missing:
                ans.text = f"{ABSTAIN_TEXT}（「{missing[0]}」は資料のどの文書にも出てきません。）"
        else:
            text, used, span = result
            text, used = self._guard(text, used, span)
            text, used = conflict_note(text, used, self.searcher)  # another document's value, named
            ans = Answer(question, text, [Citation.from_chunk(c, span if i == 0 else "") for i, c in enumerate(used)],
                         False, related=[Citation.from_chunk(h.chunk) for h in hits[:4]
                                         if h.chunk.id not in {c.id for c in used}][:3])
        ans.retrieved = [h.chunk.id for h in hits]
        ans.confidence = self._confidence
        ans.interpretation = interpretation
        ans.latency_ms = (time.perf_counter() - t0) * 1000
        return ans

    def _beside_catalog(self, q: Query, found: Answer) -> None:
        """The catalog ranks the programs it knows; a passage of a document it has no entries for
        may fit the situation as well: name it after the catalog's list, with its citation."""
        hits = self.searcher.search(q.text, max(self.k, 8))
        got = suggest(self.searcher.matcher, self.searcher.position, q.text, hits, previous=lambda c: self._before.get(c.id),
                      min_cover=BESIDE_COVER)
        if got is None or any(c.source == got[1][0].source and c.line_start == got[1][0].line_start
                              for c in found.citations):
            return
        text, used, span = got
        found.text += "\n" + text.replace("資料からは", "また、資料の本文からは", 1)
        found.citations.append(Citation.from_chunk(used[0], span))

    def _chosen(self, q: Query, hits: list[Hit], result):
        """The answer the model chooses among the readers' answer and the figures of the kind
        asked, or None when even the best is not likely enough to be right (model.py)."""
        trace = TRACE.get()
        if trace is None and self.ranker is not None and result is None and self._note:
            # the readers found the documents silent on what was asked (a fiscal year or budget kind
            # they do not cover) and said so: no other figure is the answer to that question
            return None
        got: Offer = offer(q.text, hits, self._pool, result, matcher=self.searcher.matcher,
                           position=self.searcher.position)
        if not got.options:
            return result
        rows = matrix(q, got, self.idf)
        if trace is not None:
            trace.append((q, got, rows))
        if self.ranker is None or (result is None and self._note):
            return result
        best, p = self.ranker.best(rows)
        self._confidence = p
        if p < self.ranker.threshold:
            if not self._note:
                self._note = ("（資料の数値は、お尋ねの対象についてのものか確かめられませんでした。）"
                              if asked_kind(q.text) else "")
            return None
        chosen = got.options[best]
        reader = got.options[0] if got.options[0].origin == "reader" else None
        if chosen.origin == "figure" and reader is not None and chosen.figure and chosen.figure in compact(reader.text):
            # the readers' sentence states the same figure: say it their way (its fiscal year, the
            # amount in 億円 beside it), the choice is unchanged
            return reader.result
        return chosen.result

    def _in_year(self, q: Query, result: tuple[str, list[Chunk], str]):
        """A count, amount or period asked for a fiscal year (「令和2年度の新規採用人数」) is answered
        only by a passage that names that year: another year's figure is a wrong number."""
        used = result[1]
        if any(set(fiscal_years(c.context_text)) & set(q.years) for c in used):
            return result
        named = sorted({y for c in used for y in fiscal_years(c.context_text)})
        self._note = (f"（資料の該当箇所は{western_to_era(q.years[0])}について書いていません"
                      + (f"。書かれているのは {'、'.join(western_to_era(y) for y in named[:3])} です。）" if named else "。）"))
        return None

    def _unknown_program(self, text: str, groups: list[list[str]]) -> str:
        """The name of a program the question names (「…事業」) that no document mentions, or ''."""
        names = [n for g in groups for n in g]
        if not names:
            for m in _EN_PROGRAM_NAME.finditer(text):
                # a name followed by its abbreviation that the documents use is known by it
                abbr = re.match(r"\s*[（(]([A-Za-z][A-Za-z0-9\-]+)[)）]", text[m.end():])
                if abbr and any(abbr.group(1) in c.text for c in self.searcher.chunks):
                    continue
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
                must.append([term, *translations(term)])  # アイデア is written "ideas" on an English page
        if not must:
            self._pool = []
            return hits[: self.k]
        def about(chunk: Chunk, names: list[str]) -> bool:
            hay = flat(chunk, context=True)
            return any(compact(n) in hay for n in names) or chunk.id in self._described(names)
        kept = [h for h in hits if all(about(h.chunk, names) for names in must)]
        # every chunk that names the topic, in BM25 order: beyond the fused top-k
        # (with the paraphrases of the asked words: 始まる finds 開始)
        said = " ".join(a for t in self._attributes(q, groups) for a in alternatives(t)[1:])
        scores = self.searcher.bm25_scores(q.text + " " + " ".join(n for g in must for n in g) + " " + said)
        pool = [i for i, c in enumerate(self.searcher.chunks) if all(about(c, names) for names in must)]
        pool.sort(key=lambda i: -scores[i])
        self._pool = [self.searcher.chunks[i] for i in pool]
        if len(kept) < 3:
            seen = {h.chunk.id for h in kept}
            kept += [Hit(self.searcher.chunks[i], float(scores[i])) for i in pool
                     if self.searcher.chunks[i].id not in seen][: self.k - len(kept)]
        kept = self._neighbours(kept[: self.k])
        # the topic's passages the fused search ranked low still offer their lines, after the rest
        # (「令和5年度より開始している「…(ASPIRE)」」 sits on another program's slide)
        seen = {h.chunk.id for h in kept}
        extra = [c for c in self._pool if c.id not in seen]
        if q.qtype == "date" and _START.search(q.text):
            # 「いつから」: a passage that dates a start (「令和5年度より開始」) comes first
            extra.sort(key=lambda c: not _STARTED.search(normalize(c.text)))
        return kept + [Hit(c, 0.0) for c in extra][:3]

    def _speaks_of_topic(self, u: Unit) -> bool:
        """A line of another program's slide that mentions the topic speaks of it only when it
        names it (「令和5年度より開始している「…(ASPIRE)」」 is no answer about LOTUS)."""
        head = compact(f"{u.chunk.title} {u.chunk.section} {u.chunk.program}")
        line = compact(f"{u.label} {u.text}")
        for g in self._groups:
            if any(compact(n) in head for n in g) or u.chunk.id in self._described(g):
                continue
            if not any(compact(n) in line for n in g):
                return False
        return True

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
            # the search's own hits first, then the budget lines, then the passages added around them
            found = [h for h in hits if h.score] + self._focus(q, more, groups) + [h for h in hits if not h.score]
            got = self._compare(q, found)
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


#: a question for a start, and a passage that dates one
_START = re.compile(r"から|より|以降|始ま|開始|since", re.I)
_STARTED = re.compile(r"(年度|年|月)\s*(より|から)\s*(開始|実施|始ま)|開始\s*[:：]|(年度|年)\s*~")
#: a question for a person, with the role asked about (「研究者は誰？」)
