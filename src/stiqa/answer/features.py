"""Question ↔ option features: what the model weighs to choose an answer, as pure functions.

Every feature is a measurement (an overlap, an agreement, a rank), never a verdict: how much each
counts is fitted on labelled questions (``train.py``), not set here. Kinds are one-hot.
"""
from __future__ import annotations

import math
import re
from functools import lru_cache

from stiqa.answer.question import asked_kind
from stiqa.text.japanese import compact, fiscal_years, ngrams, normalize, nouns, tokens
from stiqa.answer.question import KINDS, Query
from stiqa.answer.options import Offer, Option

ASKED = ("money", "percent", "count", "period", "rank", "")
QTYPES = ("budget", "amount", "count", "percent", "period", "date", "fact", "abbrev", "negative", "definition")
FIG_KINDS = ("money", "percent", "share", "rank", "period", "count", "plain", "date", "sentence")
SHAPES = ("prose", "slide", "table")
BUDGET_KINDS = ("予算", "前年度", "補正", "要求", "合計")

NAMES: tuple[str, ...] = (
    "reader", "figure", "sentence", "match", "gap_match", "reader_sentence", *(f"shape_{s}" for s in SHAPES), *(f"kind_{k}" for k in FIG_KINDS),
    *(f"ask_{a or 'none'}" for a in ASKED), *(f"q_{t}" for t in QTYPES), "english",
    "cover_local", "cover_wide", "cover_chunk", "missing_noun", "missing_noun_max", "extra_own",
    "grams_local", "grams_wide", "gap_cover_local", "gap_cover_wide", "best_cover_local",
    "q_years", "year_match", "year_clash", "ctx_year_match", "ctx_year_clash", "year_none",
    "bk_asked", "bk_match", "bk_clash", "bk_plain",
    "unit_asked", "unit_given",
    "hit_rank", "hit_top", "hit_score", "in_pool", "not_hit",
    "votes", "n_figures", "n_options", "reader_states", "reader_has_figure", "reader_len",
    "fig_first_in_chunk", "span_len",
    *(f"a_{a}" for a in ("date", "who", "where", "name", "what", "define", "yesno", "figure")),
    *(f"t_{t}" for t in ("date", "day", "month", "year", "org", "place", "figure", "latin", "quote", "restates")),
    "date_x_date", "date_x_day", "who_x_org", "where_x_place", "name_x_latin", "figure_x_nofigure",
    "define_x_quote", "what_x_quote", "figure_x_quote", "date_x_quote",
    "cover_own", "numbered_match", "numbered_clash",
)

#: a numbered name (第3期, 第2次, 柱2, タイプB): its number tells siblings apart
_NUMBERED = re.compile(r"第\s*\d+\s*[期回次号部章]|[一-龯ァ-ヴー]{1,6}\s*(?:\d{1,2}|[A-Z])(?![\d年月日件人億万円%.,])")

#: what form of answer a question asks for, by its interrogative (the question's own words)
_ASKS_FORM = {
    "date": re.compile(r"いつ|何年|何月|何日|日付|時期|when|what date|which year", re.I),
    "who": re.compile(r"誰|だれ|どこが|どの(?:機関|組織|会議|本部|省|法人)|who|which (?:agency|organi[sz]ation)", re.I),
    "where": re.compile(r"どこ|どの国|どの地域|どちら|where|which countr", re.I),
    "name": re.compile(r"何という|名称|名前|正式|何の略|stand for|name of", re.I),
    "what": re.compile(r"どのような|どんな|何が|何を|何に|どういう|which|what", re.I),
    "define": re.compile(r"とは|って何|意味|what is an? |what does", re.I),
}
#: what an answer's text holds, by its form
_HOLDS = {
    "date": re.compile(r"(?:令和|平成|昭和)\s*(?:\d+|元)\s*年|(?:19|20)\d\d\s*年|\d+\s*月\s*\d+\s*日|FY\s*\d{4}|(?:19|20)\d\d"),
    "day": re.compile(r"\d+\s*月\s*\d+\s*日|\d{1,2},?\s*(?:19|20)\d\d"),
    "month": re.compile(r"\d+\s*月"),
    "year": re.compile(r"\d+\s*年度?"),
    "org": re.compile(r"会議|本部|省|庁|機構|大学|法人|財団|協会|センター|委員会|council|agency|ministry|society", re.I),
    "place": re.compile(r"[一-龯ァ-ヴー]+国|米国|中国|英国|ドイツ|フランス|アメリカ|欧州|アジア|EU|countr", re.I),
    "latin": re.compile(r"[A-Za-z]{3,}(?:\s+[A-Za-z]{2,}){2,}"),
}


@lru_cache(maxsize=65536)
def _toks(text: str) -> frozenset[str]:
    return frozenset(tokens(text))


@lru_cache(maxsize=65536)
def _compact(text: str) -> str:
    return compact(text).lower()


@lru_cache(maxsize=65536)
def _grams(text: str) -> frozenset[str]:
    return frozenset(ngrams(re.sub(r"[^一-龯ァ-ヴーぁ-んA-Za-z0-9]", "", compact(text).lower())))


def _years(text: str) -> frozenset[int]:
    ys = set(fiscal_years(text))
    ys.update(int(y) for y in re.findall(r"(?<!\d)(19\d\d|20\d\d)(?!\d)", normalize(text)))
    return frozenset(ys)


def _found(word: str, toks: frozenset[str], flat: str) -> bool:
    return word in toks or (len(word) >= 2 and word in flat)


def _cover(words: list[tuple[str, float]], text: str) -> float:
    total = sum(w for _, w in words)
    if not total:
        return 0.0
    toks, flat = _toks(text), _compact(text)
    return sum(w for word, w in words if _found(word, toks, flat)) / total


def _texts(o: Option) -> tuple[str, str, str]:
    """(local, wide, chunk) text of an option: the figure's own words, its headings, its passage."""
    ch = o.chunks[0] if o.chunks else None
    chunk_text = f"{ch.context_text} {ch.text}" if ch is not None else ""
    if o.candidate is not None:
        c = o.candidate
        return f"{c.subject} {c.own}", f"{c.subject} {c.own} {c.context} {c.span}", chunk_text
    head = ch.context_text if ch is not None else ""
    return o.span, f"{o.span} {head}", chunk_text


def question_words(q: Query, idf: dict[str, float]) -> list[tuple[str, float]]:
    """The question's content words, each weighted by its rarity in the corpus."""
    return [(t, max(idf.get(t, 3.0), 0.5)) for t in q.content if not re.fullmatch(r"[\d.]+", t)]


def _budget_kind_asked(text: str) -> str:
    return next((k for k in ("補正", "前年度", "要求", "合計") if KINDS[k].search(text)), "")


def matrix(q: Query, offer: Offer, idf: dict[str, float]) -> list[list[float]]:
    """One row of ``NAMES`` features per option of the offer."""
    words = question_words(q, idf)
    named = nouns(q.text)
    noun_words = [(w, x) for w, x in words if w in named]
    noun_total = sum(x for _, x in noun_words) or 1.0
    ask = asked_kind(q.text)
    qyears = set(q.years) | _years(q.text)
    bk = _budget_kind_asked(q.text)
    qgrams = _grams(q.text)
    n_q = len(qgrams) or 1
    opts = offer.options
    texts = [_texts(o) for o in opts]
    covers = [(_cover(words, a), _cover(words, b)) for a, b, _ in texts]
    best_local = max((c[0] for c in covers), default=0.0)
    best_wide = max((c[1] for c in covers), default=0.0)
    best_match = max((o.match for o in opts), default=0.0)
    fig_count: dict[str, int] = {}
    for o in opts:
        if o.figure:
            fig_count[o.figure] = fig_count.get(o.figure, 0) + 1
    n_fig = sum(1 for o in opts if o.origin == "figure")
    reader = next((o for o in opts if o.origin == "reader"), None)
    qtoks = set(q.content)
    first_of: dict[str, Option] = {}
    for o in opts:
        if o.candidate is not None:
            first_of.setdefault(o.candidate.chunk.id, o)
    forms = [a for a, rx in _ASKS_FORM.items() if rx.search(q.text)]
    numbered = {compact(m.group(0)) for m in _NUMBERED.finditer(q.text) if not re.search(r"令和|平成|昭和|年度", m.group(0))}
    rows = []
    for o, (local, wide, chunk_text), (cl, cw) in zip(opts, texts, covers):
        c = o.candidate
        f: dict[str, float] = dict.fromkeys(NAMES, 0.0)
        f[o.origin] = 1.0
        f["match"], f["gap_match"] = o.match, o.match - best_match
        if reader is not None and o.origin != "reader" and c is not None:
            f["reader_sentence"] = float(compact(c.span)[:20] in _compact(reader.text))
        if c is not None:
            f[f"shape_{c.shape}"] = 1.0
            f[f"kind_{c.kind}"] = 1.0
        f[f"ask_{ask or 'none'}"] = 1.0
        if f"q_{q.qtype}" in f:
            f[f"q_{q.qtype}"] = 1.0
        f["english"] = float(q.english)
        f["cover_local"], f["cover_wide"] = cl, cw
        f["cover_chunk"] = _cover(words, chunk_text)
        wt, ft = _toks(wide + " " + chunk_text), _compact(wide + " " + chunk_text)
        missing = [x for w, x in noun_words if not _found(w, wt, ft)]
        f["missing_noun"] = sum(missing) / noun_total
        f["missing_noun_max"] = max(missing, default=0.0) / noun_total
        own = c.own if c is not None else o.span
        f["extra_own"] = min(sum(1 for t in _toks(own) if t not in qtoks and not t.isdigit()), 8) / 8
        f["grams_local"] = len(qgrams & _grams(local)) / n_q
        f["grams_wide"] = len(qgrams & _grams(wide)) / n_q
        f["gap_cover_local"], f["gap_cover_wide"] = cl - best_local, cw - best_wide
        f["best_cover_local"] = float(cl >= best_local)
        f["q_years"] = float(bool(qyears))
        if qyears:
            own_years = ({c.year} if c is not None and c.year is not None else set()) or _years(local) or _years(o.span)
            ctx_years = _years(wide)
            f["year_match"] = float(bool(own_years & qyears))
            f["year_clash"] = float(bool(own_years) and not own_years & qyears)
            f["ctx_year_match"] = float(bool(ctx_years & qyears))
            f["ctx_year_clash"] = float(bool(ctx_years) and not ctx_years & qyears)
            f["year_none"] = float(not own_years and not ctx_years)
        cand_bk = (c.budget_kind if c is not None else "") or _budget_kind_asked(local)
        f["bk_asked"] = float(bool(bk))
        f["bk_match"] = float(bool(bk) and cand_bk == bk)
        f["bk_clash"] = float(bool(cand_bk) and cand_bk not in (bk, "予算", ""))
        f["bk_plain"] = float(not bk and cand_bk in ("", "予算"))
        unit = c.unit if c is not None else ""
        f["unit_given"] = float(bool(unit) and unit != "%")
        f["unit_asked"] = float(bool(unit) and unit in normalize(q.text))
        ch = o.chunks[0] if o.chunks else None
        pos = offer.rank.get(ch.id) if ch is not None else None
        f["hit_rank"] = 1.0 / (1 + pos) if pos is not None else 0.0
        f["hit_top"] = float(pos is not None and pos < 3)
        f["hit_score"] = offer.score.get(ch.id, 0.0) if ch is not None else 0.0
        f["in_pool"] = float(ch is not None and ch.id in offer.pool)
        f["not_hit"] = float(pos is None)
        f["votes"] = math.log1p(fig_count.get(o.figure, 0)) if o.figure else 0.0
        f["n_figures"] = math.log1p(len(fig_count))
        f["n_options"] = math.log1p(n_fig)
        if reader is not None and o.figure:
            f["reader_states"] = float(o.figure in _compact(reader.text))
        f["reader_has_figure"] = float(bool(reader is not None and reader.figure))
        f["reader_len"] = min(len(reader.text), 300) / 300 if reader is not None else 0.0
        if c is not None:
            f["fig_first_in_chunk"] = float(first_of.get(c.chunk.id) is o)
        f["span_len"] = min(len(o.span), 200) / 200
        f["cover_own"] = _cover(words, c.own) if c is not None and c.own else 0.0
        if numbered:
            near = _compact(local)
            f["numbered_match"] = float(any(n in near for n in numbered))
            theirs = {compact(m.group(0)) for m in _NUMBERED.finditer(normalize(local))}
            f["numbered_clash"] = float(bool(theirs) and not theirs & numbered)
        for a in forms:
            f[f"a_{a}"] = 1.0
        f["a_yesno"] = float(q.qtype == "negative")
        f["a_figure"] = float(bool(ask))
        said = normalize(o.span if o.origin == "reader" else o.text)
        for t, rx in _HOLDS.items():
            f[f"t_{t}"] = float(bool(rx.search(said)))
        f["t_figure"] = float(bool(o.figure))
        f["t_quote"] = float("資料には「" in o.text and o.origin == "reader")
        span_toks = _toks(o.span)
        f["t_restates"] = len(span_toks & qtoks) / len(span_toks) if span_toks else 0.0
        f["date_x_date"] = f["a_date"] * f["t_date"]
        f["date_x_day"] = f["a_date"] * f["t_day"]
        f["who_x_org"] = f["a_who"] * f["t_org"]
        f["where_x_place"] = f["a_where"] * f["t_place"]
        f["name_x_latin"] = f["a_name"] * f["t_latin"]
        f["figure_x_nofigure"] = f["a_figure"] * (1.0 - f["t_figure"])
        f["define_x_quote"] = f["a_define"] * f["t_quote"]
        f["what_x_quote"] = f["a_what"] * f["t_quote"]
        quoted = float(o.origin == "sentence" or f["t_quote"] > 0)
        f["figure_x_quote"] = f["a_figure"] * quoted
        f["date_x_quote"] = f["a_date"] * quoted
        rows.append([f[n] for n in NAMES])
    return rows
