"""A small bilingual lexicon of the field: how STI-policy documents say in Japanese what an English
question says, and the other way round (an English program page asked in Japanese).

Knowledge of Japanese public administration and research funding, not of one document: ministry and
agency names with their abbreviations, and the everyday terms of budgets, programs and researcher
statistics. Used where a question's words are matched against a figure's subject (the answer model's features) and
in the synonyms of question words (question.alternatives).
"""
from __future__ import annotations

#: Japanese term (Sudachi normalised form, or as written) -> English words a document may use
JA_EN: dict[str, tuple[str, ...]] = {
    "文部科学省": ("mext",), "文部科学": ("mext",), "文科省": ("mext",), "科学技術振興機構": ("jst",),
    "日本学術振興会": ("jsps",), "内閣府": ("cabinet",), "日本医療研究開発機構": ("amed",),
    "総合科学技術・イノベーション会議": ("csti",), "財務省": ("mof",),
    "研究": ("research",), "研究者": ("researcher", "researchers"), "研究費": ("funds", "funding", "budget"),
    "費": ("funds", "funding", "budget", "expenditure", "expenses"), "予算": ("budget",), "要求": ("request",),
    "予算案": ("draft",), "案": ("draft",), "一般": ("general",), "会計": ("account",), "特別": ("special",),
    "科学": ("science",), "技術": ("technology",), "関係": ("related",), "経費": ("expenditure", "expenses"),
    "女性": ("women", "female"), "割合": ("share", "proportion", "percentage"), "新規": ("new", "newly"),
    "採用": ("hired", "hiring", "recruited"), "大学": ("university", "universities"), "農学": ("agriculture",),
    "工学": ("engineering",), "保健": ("health",), "博士": ("doctorate", "doctoral", "phd"),
    "博士号": ("doctorate",), "若手": ("young",), "課題": ("project", "projects"), "領域": ("area", "areas"),
    "採択": ("adopting", "adopt", "adopted", "selected", "accepting"), "期間": ("period",),
    "支援": ("support", "aid"), "最大": ("maximum", "max"), "年間": ("year", "annual"), "加速": ("acceleration",),
    "フェーズ": ("phase",), "応募": ("apply", "application", "proposals"), "閣議": ("cabinet",),
    "決定": ("decision", "approved"), "基本": ("basic",), "計画": ("plan",), "イノベーション": ("innovation",),
    "指標": ("indicators",), "国際": ("international",), "拠点": ("center", "centre", "hub"),
    "世界": ("world",), "トップレベル": ("premier", "top"), "企業": ("business", "corporate", "company"),
    "製造業": ("manufacturing",), "政府": ("government",), "投資": ("investment",), "目標": ("target",),
    "日本": ("japan",), "我が国": ("japan", "our country"), "人数": ("number",), "件数": ("number",),
    "アイデア": ("ideas", "idea"), "独創": ("unique",), "個人": ("individual",),
}

#: English word -> Japanese terms (inverted from JA_EN)
EN_JA: dict[str, tuple[str, ...]] = {}
for _ja, _ens in JA_EN.items():
    for _en in _ens:
        EN_JA[_en] = (*EN_JA.get(_en, ()), _ja)


#: English words a page may use for the same thing
EN_SAME: dict[str, tuple[str, ...]] = {
    "funding": ("budget", "funds", "grant"), "funds": ("funding", "budget"), "budget": ("funding", "funds"),
    "period": ("duration", "term"), "researchers": ("researcher",), "apply": ("application", "eligible"),
}


def translations(word: str) -> tuple[str, ...]:
    """The other language's words for ``word``, and an English word's near synonyms (empty when
    the lexicon has none)."""
    w = word.lower()
    return JA_EN.get(word, ()) + EN_JA.get(w, ()) + EN_SAME.get(w, ())
