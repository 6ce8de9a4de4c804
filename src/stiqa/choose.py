"""Choose the figure that answers: the candidate whose subject is the one asked, or none.

A figure is stated only when the words beside it (its clause, its row and column, its label and
slide title) hold what the question names; a figure of some other subject that merely stands in
the same passage (the women researchers' count below the researchers' count) is never chosen,
and when nothing fits the answerer abstains. Pure functions of the question, the candidates and
the ``Tuning``; nothing is kept between questions.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .figures import FIGURE, Candidate
from .japanese import compact, fiscal_years, normalize, nouns, tokens, western_to_era
from .money import MONEY_WORDS
from .question import KINDS, Query, alternatives
from .glossary import translations
from .relevance import GENERIC_VERBS
from .tuning import DEFAULT, Tuning

#: what kind of figure a question asks for, by its cue words (the first that matches)
_ASKS: list[tuple[str, re.Pattern[str]]] = [
    ("rank", re.compile(r"何番目|何位|順位|何番")),
    ("percent", re.compile(r"%|％|割合|比率|増減率|伸び率|何割|率は|share|percent|proportion|what rate", re.I)),
    ("count", re.compile(r"何人|何件|何回|何名|何校|何か国|何カ国|何万人|何機関|何課題|何拠点|how many", re.I)),
    ("money", re.compile(r"いくら|幾ら|金額|予算|額|何億|何百万|円|how much|funding|budget|研究費|経費|費用", re.I)),
    ("period", re.compile(r"期間|何年間|何か月|何ヶ月|何年先|いつからいつまで|how long|research period|duration", re.I)),
    ("count", re.compile(r"何人|何件|何回|何名|何校|何か国|何カ国|何万|何機関|何課題|何拠点|人数|件数|回数|"
                         r"how many|number of", re.I)),
]
_KINDS = {"rank": {"rank"}, "percent": {"percent", "share"}, "money": {"money", "plain"},
          "period": {"period"}, "count": {"count", "plain"}}

#: words of a figure question that say what kind of figure, not whose
_FIGURE_WORDS = {"予算", "予算額", "額", "金額", "円", "億", "万", "百万", "千", "人", "件", "回", "名", "校", "数",
                 "割合", "比率", "率", "割", "何", "番目", "位", "順位", "期間", "年間", "いくら", "幾ら", "どのくらい",
                 "どれくらい", "くらい", "程度", "おおよそ", "約", "時点", "年", "年度", "令和", "平成", "昭和", "要求",
                 "要望", "前年度", "前年", "補正", "計上", "する", "れる", "いる", "ある", "なる", "教える", "くださる",
                 "とする", "変化", "増える", "増", "減る", "それぞれ", "万人", "億円", "百万円", "million", "yen",
                 "how", "much", "many", "what", "is", "the", "of", "in", "for", "was", "did", "does", "a", "an",
                 "number", "amount", "each", "get", "and", "per", "fy", "中", "うち", "における", "で", "について",
                 "対", "対前年度", "増減率", "伸び率", "当たり", "あたり", "最大", "上限", "share", "percent",
                 "辺り", "当り", "前", "番", "目", "大凡", "budget",
                 "according", "to", "were", "be", "by", "it", "its", "this", "that", "which", "request",
                 "requested", "get", "gets", "receive", "spent", "spend", "課", "題", "課題", "毎年", "毎年度", "年額", "年間", "一人", "目安", "単価", "規模",
                 "支援額", "幅", "上限額", "ぐらい", "大体", "凡そ", "およそ", "新た", "いつ", "実績", "目標",
                 *MONEY_WORDS, *GENERIC_VERBS}


#: nouns that name no particular subject: they count a little and never rule a figure out
_SOFT = {"project", "projects", "program", "programs", "programme", "事業", "制度", "プログラム"}


@dataclass(frozen=True)
class Choice:
    candidate: Candidate
    score: float
    cover: float


def asked_kind(text: str) -> str:
    """'money', 'percent', 'rank', 'period', 'count' or '' (the question asks for no figure)."""
    if re.search(r"とは|何を指|どのような|どういう|^what (?:is|are) (?:a|an) |what does .* mean", text, re.I):
        return ""  # a definition, even of a budget term
    if re.search(r"(ます|ました|です|でした)か[。?？]?$", text) and not re.search(r"何|いくら|幾ら|どの|どれ|どこ|いつ|誰|how|when", text, re.I):
        return ""  # yes or no (「対象になりますか」), not a figure
    # a figure the question quotes (「30億円という記事は」) is not what it asks for
    t = FIGURE.sub(" ", normalize(text))
    return next((k for k, rx in _ASKS if rx.search(t)), "")


def subject_words(q: Query, idf: dict[str, float], drop: set[str] = frozenset(), tuning: Tuning = DEFAULT
                  ) -> list[tuple[str, float]]:
    """The question's words that say whose figure it asks for, with their rarity weights."""
    if asked_kind(q.text) == "rank":
        # 「主要国の中で何番目」: the set ranked in is the frame of the question, not its subject
        frame = re.search(r"([^\s、。のは]{1,12})の中で", normalize(q.text))
        if frame:
            drop = set(drop) | set(tokens(frame.group(1)))
    out: dict[str, float] = {}
    named = nouns(q.text)
    for t in q.content:
        if t in _FIGURE_WORDS or t in drop or re.fullmatch(r"[\d.]+(年|年度|月)?|何.*|fy\d*|\d+(st|nd|rd|th)|[a-z]", t):
            continue
        # nouns say whose figure; verbs and adverbs (属する, 充てる), and the kind words of any
        # program (project, program), only how it is asked
        out[t] = max(idf.get(t, 3.0), 1.0) * (1.0 if t in named and t not in _SOFT else tuning.verb_weight)
    # 「第4期」「第2次」: a numbered name is a word of its own (its number tells siblings apart)
    for m in re.finditer(r"第\s*\d+\s*(期|回|次|号|部|章)", normalize(q.text)):
        out[compact(m.group(0))] = 4.0
    for m in re.finditer(r"([一-龯ァ-ヴー]{1,6})\s*(\d{1,2}|[A-Z])(?![\d年月日件人億万円%])", normalize(q.text)):
        if not re.search(r"令和|平成|昭和|年度", m.group(1)):  # 「柱2」「タイプB」, not a year
            out[compact(m.group(1)[-2:] + m.group(2))] = 4.0
    return list(out.items())


def _has(word: str, toks: set[str], flat: str) -> bool:
    # the question's word, its paraphrases (question.SYNONYMS) and its other-language terms (glossary)
    alts = (*alternatives(word), *translations(word))
    return any(a in toks or (len(a) >= 2 and compact(a).lower() in flat.lower()) for a in alts)


def _years(text: str) -> set[int]:
    ys = set(fiscal_years(text))
    ys.update(int(y) for y in re.findall(r"(?<!\d)(19\d\d|20\d\d)\s*年", normalize(text)))
    ys.update(int(y) for y in re.findall(r"\bFY\s*(19\d\d|20\d\d)", text, re.I))
    return ys


def _kind_fits(q: Query, c: Candidate, ask: str) -> bool:
    if ask != "money":
        return True
    if q.qtype == "amount" and c.budget_kind:
        return False  # a programme's budget does not answer 「1課題あたり」 or 「上限」
    prev, hosei = _wants_previous(q), bool(KINDS["補正"].search(q.text))
    if not prev and not hosei and c.year is not None and c.year in q.years:
        return True  # 「令和4年度の予算」 is the 前年度予算額 of a 令和5年度 document
    here = normalize(c.subject)
    kind = c.budget_kind or ("前年度" if "前年度" in here else "補正" if "補正" in here else "")
    if prev:
        return kind == "前年度" or (c.shape == "table" and bool(_years(here)))
    if hosei:
        return kind == "補正"
    return kind not in ("前年度", "補正")


def _wants_previous(q: Query) -> bool:
    return q.kind == "前年度" or bool(KINDS["前年度"].search(q.text))


def score(q: Query, c: Candidate, ask: str, words: list[tuple[str, float]], t: Tuning = DEFAULT
          ) -> tuple[float, float] | None:
    """(score, cover) of a candidate for the question, or None when it cannot answer it."""
    got = judge(q, c, ask, words, t)
    return got if isinstance(got, tuple) else None


def judge(q: Query, c: Candidate, ask: str, words: list[tuple[str, float]], t: Tuning = DEFAULT
          ) -> tuple[float, float] | str:
    """(score, cover), or why the candidate cannot answer: 'shape' (not the kind of figure
    asked), 'missing' (a word the question names is said nowhere near it), 'cover', 'year'."""
    if c.kind not in _KINDS[ask] or not _kind_fits(q, c, ask):
        return "shape"
    if c.kind == "plain" and c.shape != "table":
        return "shape"
    # the figure's own sentence counts as wide context, like its heading
    wide = f"{c.context} {c.span}"
    local_toks, wide_toks = set(tokens(c.subject)), set(tokens(wide))
    local_flat, wide_flat = compact(c.subject), compact(wide)
    total = sum(w for _, w in words) or 1.0
    got = 0.0
    named = nouns(q.text)
    for word, w in words:
        if _has(word, local_toks, local_flat):
            got += w
        elif _has(word, wide_toks, wide_flat):
            got += t.heading_weight * w
        elif (w >= t.missing_veto * total and word in named and word not in _SOFT) or re.search(r"\d", word):
            # something the question names is not said of this figure; a numbered name (第4期,
            # 柱2) always counts: its sibling's figure is another subject's
            return "missing"
    cover = got / total if words else 0.5
    if cover < t.min_cover:
        return "cover"
    asked_years = set(q.years) | _years(q.text)
    if ask == "money" and _wants_previous(q):
        asked_years |= {y - 1 for y in asked_years}  # 「令和7年度…の前年度」 is 令和6年度
    s = cover
    if asked_years:
        own = {c.year} if c.year is not None else (_years(c.subject) or _years(c.span))
        if own and not own & asked_years:
            return "year"
        if not own and _years(c.context) and not _years(c.context) & asked_years:
            return "year"
        if not own and not _years(c.context):
            s -= t.no_year_penalty
    qtoks = set(q.content)
    extra = [x for x in dict.fromkeys(tokens(c.own)) if x not in qtoks and not x.isdigit()
             and x not in _FIGURE_WORDS and not any(_has(w, {x}, compact(x)) for w, _ in words)]
    s -= t.extra_penalty * min(len(extra), 4)
    if c.unit and re.search(re.escape(c.unit), normalize(q.text)):
        s += t.unit_bonus
    return s, cover


def choose(q: Query, cands: list[Candidate], idf: dict[str, float], *, drop: set[str] = frozenset(),
           tuning: Tuning = DEFAULT) -> Choice | None:
    """The best-fitting candidate, or None when no figure's subject is the one asked."""
    ask = asked_kind(q.text)
    if not ask:
        return None
    words = subject_words(q, idf, drop, tuning)
    scored = []
    for rank, c in enumerate(cands):
        got = score(q, c, ask, words, tuning)
        if got is not None:
            scored.append((got[0] - 0.001 * rank, got[1], c))
    if not scored:
        return None
    scored.sort(key=lambda x: -x[0])
    best = scored[0]
    rival = next((x for x in scored[1:] if compact(x[2].figure) != compact(best[2].figure)), None)
    if rival is not None and best[0] - rival[0] < tuning.min_margin:
        return None
    return Choice(best[2], best[0], best[1])


def render(c: Candidate) -> str:
    """One sentence naming the figure's subject as the document gives it, quoting the figure."""
    fig = c.figure
    if c.shape == "table":
        row, _, rest = c.span.partition(" | ")
        col = rest.rsplit(" | ", 1)[0]
        unit = "" if c.unit in ("", "%") else f"（単位：{c.unit}）"
        shown = fig + ("%" if c.unit == "%" and not fig.endswith("%") else "")
        if shown.startswith(("△", "▲")):
            shown += "（減）"
        return f"表の「{row}」の「{col}」は {shown} です{unit}。"
    if c.shape == "slide":
        title = c.own.split(" ")[0] if c.own else ""
        label = c.span.replace(fig, "").strip()
        lead = f"{title}の" if title else ""
        return f"{lead}{label or '金額'}は{fig}です。".replace("の ", "の")
    return f"{fig}です。資料には「{c.span}」とあります。"


def states(text: str, figure: str) -> bool:
    """The text states this figure (spelling differences of commas and spaces aside)."""
    return compact(figure) in compact(text)


def figures_in(text: str) -> list[str]:
    return [m.group(0) for m in FIGURE.finditer(normalize(text))]


def year_note(q: Query) -> str:
    return western_to_era(q.years[0]) if q.years else ""
