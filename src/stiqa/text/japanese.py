"""Japanese text utilities shared by every stage: normalisation, tokens, amounts, eras.

Pure functions only (the Sudachi tokenizer is created once, lazily, per process).
"""
from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# ---------------------------------------------------------------- normalisation

_TRANSLATE = str.maketrans({
    "〜": "~", "～": "~", "∼": "~", "·": "・", "･": "・", "•": "・", "‧": "・",
    "−": "-", "―": "-", "‐": "-", "–": "-", "—": "-",
    "\u200b": "", "\ufeff": "", "\u3000": " ",
})
# C0 controls, DEL, and lone surrogates (invalid UTF-8 on a command line arrives as these)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
#: terminal colour/cursor codes pasted with a question (\x1b[31m): removed whole, not left as 「[31m」
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


_COUNTER_KA = re.compile(r"(?<=[\d何数])[ヶケヵカ](?=月|国|所)")


@lru_cache(maxsize=65536)
def normalize(text: str) -> str:
    """NFKC plus the unifications these PDFs need (tildes, middle dots, ヶ月 = か月). A pure function
    of the text, called on the same passages for every question: cached."""
    text = _CONTROL.sub(" ", _ANSI.sub("", text))
    text = unicodedata.normalize("NFKC", text).translate(_TRANSLATE)
    # the small ヶ/ケ/ヵ/カ of counters (3ヶ月, 14カ国) only: ケニア stays ケニア
    text = _COUNTER_KA.sub("か", text)
    # again: dropping U+200B or mapping ヶ can let neighbours compose (ヶ+゛ -> が); keeps it idempotent
    return unicodedata.normalize("NFKC", text)


def source_spelling(span: str, text: str) -> str:
    """The words of ``text`` that ``normalize`` turns into ``span``, as the source writes them
    (「20カ国」, not the normalised 「20か国」); ``span`` itself when they cannot be found. Answers
    quote the documents' own spelling; matching works on the normalised form."""
    for line in text.split("\n"):
        pieces = [unicodedata.normalize("NFKC", _CONTROL.sub(" ", ch)).translate(_TRANSLATE) for ch in line]
        joined = _COUNTER_KA.sub("か", "".join(pieces))
        at = joined.find(span)
        if at < 0:
            continue
        ends, pos = [], 0
        for p in pieces:
            pos += len(p)
            ends.append(pos)
        start = next(i for i, e in enumerate(ends) if e > at)
        stop = next((i for i, e in enumerate(ends) if e >= at + len(span)), len(line) - 1)
        return line[start:stop + 1]
    return span


@lru_cache(maxsize=65536)
def compact(text: str) -> str:
    """Normalised text without commas and whitespace: the form used to compare strings (cached)."""
    # normalised once more: removing a space can leave a combining mark to compose (K¸ -> Ķ) or
    # bring a counter's ケ next to its number (「0 ケ国」 -> 「0か国」); keeps compact idempotent
    return normalize(re.sub(r"[\s,、]", "", normalize(text)).lower())


# ---------------------------------------------------------------- tokens

_SKIP_POS = {"助詞", "助動詞", "補助記号", "空白", "記号"}
_tok_local = threading.local()


_dict_lock = threading.Lock()
_dictionary = None


def _tokenizer():
    # Sudachi tokenizers are not thread-safe: one per thread (the web app answers in threads),
    # all from one dictionary, so the 190 MB system dictionary is mapped once per process.
    global _dictionary
    tok = getattr(_tok_local, "tok", None)
    if tok is None:
        from sudachipy import Dictionary, SplitMode

        with _dict_lock:
            if _dictionary is None:
                _dictionary = Dictionary()
        tok = _dictionary.tokenizer(mode=SplitMode.A)
        _tok_local.tok = tok
    return tok


_ASCII_WORD = re.compile(r"[a-z][a-z0-9\-]+")


@lru_cache(maxsize=4096)
def _tokens_cached(text: str) -> tuple[str, ...]:
    tok = _tokenizer()
    out: list[str] = []
    # Sudachi's input limit is ~49 KB: tokenise in slices on line breaks.
    for piece in _slices(text, 8000):
        for m in tok.tokenize(piece):
            pos = m.part_of_speech()[0]
            if pos in _SKIP_POS:
                continue
            surface = m.surface()
            # Sudachi normalises English words to katakana (budget -> バジェット): keep Latin as is
            form = surface.lower() if surface.isascii() else m.normalized_form().lower()
            if form.strip():
                out.append(form)
    return tuple(out)


_ERAS = {"令和", "平成", "昭和", "大正", "明治"}


def proper_nouns(text: str) -> list[str]:
    """Proper nouns (places, organisations, people) as written: what a passage must name."""
    tok = _tokenizer()
    out = []
    for m in tok.tokenize(normalize(text)[:4000]):
        pos = m.part_of_speech()
        if pos[0] == "名詞" and pos[1] == "固有名詞" and m.surface() not in _ERAS and len(m.surface()) >= 2:
            out.append(m.surface())
    return out


def person_names(text: str) -> list[str]:
    """People's names, as written: a surname then a given name (「上田 宏」), or a foreign name in
    katakana (「ルイ・パスツール」, or 「パスツール」 alone: Sudachi tags it 人名 without 姓/名)."""
    out, cur = [], []

    def flush() -> None:
        words = [w for w in cur if w != "・"]
        if len(words) >= 2 or (len(words) == 1 and re.fullmatch(r"[ァ-ヴー]{3,}", words[0])):
            out.append(" ".join(words) if "・" not in cur else "・".join(words))

    for m in _tokenizer().tokenize(normalize(text)[:4000]):
        pos = m.part_of_speech()
        if pos[1] == "固有名詞" and pos[2] == "人名":
            cur.append(m.surface())
        elif m.surface() in ("・", "·") and cur:
            cur.append("・")  # the dot between a foreign given name and surname
        elif m.surface().strip() or not cur:
            flush()
            cur = []
    flush()
    return out


@lru_cache(maxsize=2048)
def nouns(text: str) -> frozenset[str]:
    """The nouns of a text (normalised forms, as ``tokens`` gives them; Latin words as written):
    what names a subject, as opposed to the verbs and adverbs of how it is asked."""
    out = set()
    for m in _tokenizer().tokenize(normalize(text).lower()[:4000]):
        pos = m.part_of_speech()
        if pos[0] == "名詞" and pos[1] != "数詞":
            surface = m.surface()
            out.add(surface.lower() if surface.isascii() else m.normalized_form().lower())
    out.update(w for w in _ASCII_WORD.findall(normalize(text).lower()))
    return frozenset(out)


def tokens(text: str) -> list[str]:
    """Content-word tokens (Sudachi normalised forms, particles and auxiliaries dropped).

    The same analyser serves documents and queries, so 「予算額」 matches 「予算額（案）」.
    """
    text = normalize(text).lower()
    toks = list(_tokens_cached(text))
    # Sudachi splits Latin abbreviations with hyphens (EXPERT-J); keep the whole word too.
    toks.extend(w for w in _ASCII_WORD.findall(text) if "-" in w)
    return toks


def _slices(text: str, size: int) -> list[str]:
    if len(text.encode("utf-8")) < size * 3:
        return [text]
    out, cur = [], ""
    for line in text.splitlines(keepends=True):
        while len(line) > size:
            out.append(line[:size])
            line = line[size:]
        if len(cur) + len(line) > size:
            out.append(cur)
            cur = ""
        cur += line
    if cur:
        out.append(cur)
    return out


def ngrams(s: str, sizes: tuple[int, ...] | range = (2,)) -> set[str]:
    """Every character n-gram of ``s`` for each size. ``s`` is taken as given: each caller says how
    it cleans its text (normalised, compacted, word characters only), the one thing that differs."""
    return {s[i:i + k] for k in sizes for i in range(len(s) - k + 1)}


def char_ngrams(text: str) -> list[str]:
    """Character 1- and 2-grams of the normalised text (spaces dropped): no analyser needed,
    so it still matches where Sudachi cuts a rare name or an OCR-damaged word differently."""
    s = "".join(normalize(text).lower().split())
    return list(s) + [s[i:i + 2] for i in range(len(s) - 1)]


# ---------------------------------------------------------------- amounts of money

_UNIT = {"円": 1, "千円": 10**3, "万円": 10**4, "百万円": 10**6, "千万円": 10**7, "億円": 10**8}
_NUM = r"\d[\d,]*(?:\.\d+)?"
# 10億7,300万円 | 1,073百万円 | 33億円 | 3,000万円 | 5百万円
_AMOUNT = re.compile(
    rf"(?P<cho>{_NUM})兆(?:(?P<cho_oku>{_NUM})億)?円?"
    rf"|(?P<oku>{_NUM})億(?P<man>{_NUM})(?P<sen>千)?万円"
    rf"|(?P<num>{_NUM})\s*(?P<unit>千万円|百万円|千円|万円|億円|円)"
)


@dataclass(frozen=True)
class Amount:
    text: str  # as written (after normalisation)
    yen: int
    start: int
    end: int


def _num(s: str) -> float:
    return float(s.replace(",", ""))


def parse_amounts(text: str) -> list[Amount]:
    """Every yen amount in ``text`` with its value; works on 全角 or 半角 input."""
    norm = normalize(text)
    out = []
    for m in _AMOUNT.finditer(norm):
        if m.group("cho"):
            yen = _num(m.group("cho")) * 10**12 + (_num(m.group("cho_oku")) * 10**8 if m.group("cho_oku") else 0)
        elif m.group("oku"):
            man = _num(m.group("man")) * (1000 if m.group("sen") else 1)
            yen = _num(m.group("oku")) * 10**8 + man * 10**4
        else:
            yen = _num(m.group("num")) * _UNIT[m.group("unit")]
        out.append(Amount(m.group(0), int(round(yen)), m.start(), m.end()))
    return out


def yen_to_oku(yen: int) -> str:
    """A reader's conversion: 1,073,000,000 -> 「約10.7億円」 (only used in parentheses)."""
    oku = yen / 10**8
    if oku >= 100:
        return f"約{oku:,.0f}億円"
    return f"約{oku:.1f}億円".replace(".0億", "億")


def format_yen(yen: int) -> str:
    """A canonical spelling, for computed figures: 52,000,000 -> 「5,200万円」."""
    if yen % 10**8 == 0:
        return f"{yen // 10**8:,}億円"
    if yen % 10**4 == 0 and yen < 10**8:
        return f"{yen // 10**4:,}万円"
    if yen % 10**6 == 0:
        return f"{yen // 10**6:,}百万円"
    return f"{yen:,}円"


# ---------------------------------------------------------------- eras and fiscal years

_ERA_BASE = {"令和": 2018, "平成": 1988, "昭和": 1925, "R": 2018, "H": 1988, "S": 1925}
_ERA_YEAR = re.compile(r"(令和|平成|昭和|(?<![A-Za-z])[RHS])\s*(\d{1,2}|元)\s*(?:年度|年|(?=\D|$))")
_WESTERN_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*年度?")
_FY = re.compile(r"(?<![A-Za-z])FY\s*((?:19|20)\d{2})(?![\d年])", re.IGNORECASE)


def era_to_western(era: str, year: str | int) -> int:
    n = 1 if year == "元" else int(year)
    return _ERA_BASE[era] + n


def western_to_era(year: int) -> str:
    """A western fiscal year in the documents' era spelling (2020 -> 令和2年度, 1982 -> 昭和57年度)."""
    for era, start in (("令和", 2019), ("平成", 1989), ("昭和", 1926)):
        if year >= start:
            n = year - start + 1
            return f"{era}{'元' if n == 1 else n}年度"
    return f"{year}年度"


def western_to_reiwa(year: int) -> str:
    n = year - 2018
    return "令和元年度" if n == 1 else f"令和{n}年度"


def fiscal_years(text: str) -> list[int]:
    """Western fiscal years named in a text: 令和5年度, R5, 2023年度, FY2023 all give 2023."""
    norm = normalize(text)
    years = [era_to_western(m.group(1), m.group(2)) for m in _ERA_YEAR.finditer(norm)]
    years += [int(m.group(1)) for m in _WESTERN_YEAR.finditer(norm)]
    years += [int(m.group(1)) for m in _FY.finditer(norm)]
    return years


# ---------------------------------------------------------------- numbers in answers

_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def numbers(text: str) -> list[str]:
    """Bare numbers in a text after normalisation (commas removed): for faithfulness checks."""
    return _NUMBER.findall(normalize(text).replace(",", ""))
