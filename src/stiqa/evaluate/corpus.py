"""A question set's own corpus: the project's documents plus the set's, indexed apart from index/.

``stiqa eval --corpus eval/generality/corpus`` asks what a maintainer adding documents would ask:
do the answers hold on the mixed corpus? The set's documents are merged with the project corpus
(files and README table rows) into a scratch folder beside the set, indexed there, and the
project's own ``index/`` is never written. The project's embedding cache is copied in once, so
only the added documents are embedded.
"""
from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from stiqa.config import Settings

#: where a set's merged corpus and its index live (git-ignored), next to the set's corpus folder
WORK = ".work"


def _table_rows(readme: Path) -> list[str]:
    if not readme.is_file():
        return []
    return [line for line in readme.read_text(encoding="utf-8").splitlines() if line.startswith("| `")]


def merged_corpus(settings: Settings, extra: Path) -> Settings:
    """Settings whose corpus is ``settings.corpus_dir`` + ``extra`` and whose index is private.

    The merge is rewritten on every call (files removed from either side disappear); the index
    build that follows re-embeds only what changed.
    """
    extra = Path(extra).resolve()
    if not extra.is_dir():
        raise FileNotFoundError(f"評価用コーパスのフォルダがありません: {extra}")
    base = Path(settings.corpus_dir).resolve()
    if extra == base:
        return settings
    work = extra.parent / WORK / extra.name
    corpus, index = work / "corpus", work / "index"
    if corpus.exists():
        shutil.rmtree(corpus)
    corpus.mkdir(parents=True)
    for folder in (base, extra):
        for p in sorted(folder.iterdir()):
            if p.is_file() and not p.name.upper().startswith("README"):
                shutil.copy2(p, corpus / p.name)
    head = (base / "README.md").read_text(encoding="utf-8") if (base / "README.md").is_file() else \
        "| file | what it is | date |\n|---|---|---|\n"
    rows = _table_rows(extra / "README.md")
    (corpus / "README.md").write_text(head.rstrip("\n") + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    index.mkdir(parents=True, exist_ok=True)
    cache = Path(settings.index_dir) / "embcache"
    if cache.is_dir() and not (index / "embcache").exists():
        shutil.copytree(cache, index / "embcache")
    return replace(settings, corpus_dir=corpus, index_dir=index)


def prepare(settings: Settings, extra: Path | None) -> Settings:
    """The settings to evaluate with: the merged corpus built and indexed, or ``settings`` as is."""
    if extra is None:
        return settings
    from stiqa.index.build import build_index

    merged = merged_corpus(settings, extra)
    build_index(merged)
    return merged


def set_corpus(questions: Path, given: str | Path | None) -> Path | None:
    """The corpus a question set is asked against: the one given, else a ``corpus/`` folder
    beside the questions file (``eval/generality/corpus``), else none (the project corpus)."""
    if given:
        return Path(given)
    beside = Path(questions).resolve().parent / "corpus"
    return beside if beside.is_dir() and any(beside.glob("*.md")) else None
