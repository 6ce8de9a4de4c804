"""The number guard: every figure an answer states must stand in a cited passage.

Shared by the extractive answerer, the LLM guard and the evaluation's faithfulness measure, so all
three use the same normaliser (1,073百万円 = 10億7,300万円).
"""
from __future__ import annotations

import re

from stiqa.text.japanese import era_to_western, fiscal_years, normalize, numbers, parse_amounts


def numbers_supported(text: str, sources: list[str]) -> bool:
    """True when every figure in ``text`` stands in one of ``sources``.

    Yen amounts compare by value (1,073百万円 = 10億7,300万円; a 「約」 conversion within 5%),
    other numbers literally after normalisation (全角/半角, commas).
    """
    src_amounts = [a.yen for s in sources for a in parse_amounts(s)]
    src_numbers = {n for s in sources for n in numbers(s)}
    # list markers (「1. 」) are not figures; a clause labelled as stiqa's own arithmetic is checked
    # by the code that computed it from two cited figures (chat.compare)
    norm = re.sub(r"(?m)^\s*\d+\.\s", " ", normalize(text))
    norm = re.sub(r"[^、。]*[（(]stiqaによる計算[）)]", " ", norm)
    consumed = []
    for a in parse_amounts(norm):
        approx = norm[max(0, a.start - 1):a.start] == "約"
        ok = any(y == a.yen or (approx and abs(y - a.yen) <= 0.05 * y) for y in src_amounts)
        if not ok:
            return False
        consumed.append((a.start, a.end))
    rest = "".join(ch if not any(s <= i < e for s, e in consumed) else " " for i, ch in enumerate(norm))
    # the era year stiqa adds when naming 前年度 (「前年度予算額（令和4年度）」) is derived from a
    # labelled year in the sources: allow exactly that year
    if "前年度" in rest:
        derived = {y - 1 for s in sources for y in fiscal_years(s)}
        rest = re.sub(r"(令和|平成)\s*(\d+)年度",
                      lambda m: " " if era_to_western(m.group(1), m.group(2)) in derived else m.group(0), rest)
    return all(n in src_numbers for n in numbers(rest))
