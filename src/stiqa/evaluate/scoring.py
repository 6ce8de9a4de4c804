"""How an answer is judged against a known fact (the contract in DESIGN.md), as pure functions."""
from __future__ import annotations

import re
from typing import Any

from stiqa.answer.guard import numbers_supported
from stiqa.text.japanese import compact, parse_amounts


def _norm(s: str) -> str:
    return compact(s)


def states_yen(answer: str, yen: int) -> bool:
    """The answer states this yen amount in any spelling (1,073百万円 = 10億7,300万円 = 10.73億円)."""
    return any(a.yen == yen for a in parse_amounts(answer))


def _contains_figure(text: str, alt: str) -> bool:
    """Substring match that does not find 「1億円」 inside 「11億円」 (digit boundary before a figure)."""
    if not alt:
        return False
    if not alt[0].isdigit():
        return alt in text
    return re.search(r"(?<![\d.])" + re.escape(alt), text) is not None


def is_correct(item: dict[str, Any], result: dict[str, Any]) -> bool:
    if item.get("abstain"):
        return bool(result.get("abstained"))
    if result.get("abstained"):
        return False
    text = _norm(result.get("answer", ""))
    for i, group in enumerate(item.get("expect", [])):
        if any(_contains_figure(text, _norm(alt)) for alt in group):
            continue
        if i == 0 and item.get("yen") and states_yen(result.get("answer", ""), int(item["yen"])):
            continue
        return False
    return True


def citation_correct(item: dict[str, Any], result: dict[str, Any]) -> bool | None:
    """None for abstention questions (nothing to cite)."""
    if item.get("abstain") or not item.get("source"):
        return None
    stems = [s for s in str(item["source"]).split("|") if s]
    return any(any(stem in c.get("source", "") for stem in stems) for c in result.get("citations", []))


def faithful(result: dict[str, Any]) -> bool:
    """Every number in the answer stands in a cited chunk (abstentions trivially are)."""
    if result.get("abstained"):
        return True
    return numbers_supported(result.get("answer", ""), [c.get("text", "") for c in result.get("citations", [])])


def retrieval_rank(item: dict[str, Any], retrieved_texts: list[str]) -> int | None:
    """1-based rank of the first retrieved chunk holding every expected group, or None."""
    groups = item.get("expect") or []
    if not groups:
        return None
    for rank, text in enumerate(retrieved_texts, 1):
        t = _norm(text)
        if all(any(_norm(a) in t for a in g) or (i == 0 and item.get("yen") and states_yen(text, item["yen"]))
               for i, g in enumerate(groups)):
            return rank
    return None
