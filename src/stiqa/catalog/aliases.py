"""Glue between the program catalog and the pipeline: the alias lookup and the finder hook.

The alias table derived from the corpus serves retrieval (a question naming
国際科学技術共同研究推進事業 finds SICORP chunks), follow-ups in chat and the program finder.
When the catalog cannot be built, program names fall back to the chunk headings.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from stiqa.config import Settings
from stiqa.text.japanese import compact

log = logging.getLogger(__name__)


def _core(name: str) -> str:
    s = re.sub(r"[（(][^)）]*[)）]", "", name)
    return s.strip()


def heading_aliases(program_names: list[str]) -> Callable[[str], list[list[str]]]:
    """Fallback lookup: a program is mentioned when its heading name (or its ABBR) appears."""
    groups: list[list[str]] = []
    for name in sorted(set(program_names)):
        names = [name, _core(name)] + re.findall(r"[（(]([A-Za-z][A-Za-z\-]+)[)）]", name)
        groups.append([n for n in dict.fromkeys(names) if len(n) >= 3])

    def lookup(text: str) -> list[list[str]]:
        t = compact(text)
        found = [g for g in groups if any(compact(n) in t for n in g)]
        # the longest match wins over names it contains (海外特別研究員事業 vs 事業)
        return sorted(found, key=lambda g: -max(len(n) for n in g))[:2]

    return lookup


def hooks(settings: Settings, chunks: list[Any] | None = None):
    """(alias lookup, finder) for the Assistant."""
    try:
        from stiqa.catalog.build import build_catalog
        from stiqa.catalog.records import find_program_mentions
    except ImportError:
        names = [c.program for c in chunks or [] if c.program]
        return (heading_aliases(names) if names else None), None
    try:
        catalog = build_catalog(settings.corpus_dir)
    except Exception as exc:  # the catalog is an aid; answering goes on without it
        log.warning("program catalog unavailable: %s", exc)
        names = [c.program for c in chunks or [] if c.program]
        return (heading_aliases(names) if names else None), None
    by_id = {p.id: p for p in catalog.programs}

    def lookup(text: str) -> list[list[str]]:
        out = []
        for pid in find_program_mentions(text, catalog):
            p = by_id.get(pid)
            if p is not None:
                names = [p.name.value, *(a.value for a in p.aliases)]
                out.append(list(dict.fromkeys(n for n in names if n)))
        return out

    return lookup, _finder(settings, catalog)


def _finder(settings: Settings, catalog: Any):
    try:
        from stiqa.catalog.finder import answer_situation
    except ImportError:
        return None

    def find(question: str):
        return answer_situation(catalog, question)

    return find
