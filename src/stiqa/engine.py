"""The engine: one loaded pipeline (searcher, answerer, alias table) per settings and index
generation, shared by every face and thread; conversations are made from it."""
from __future__ import annotations

import threading
from typing import Any

from stiqa.answer import AliasLookup, Answerer
from stiqa.answer.model import load as load_ranker
from stiqa.catalog.names import name_groups, topic_lookup
from stiqa.chat.conversation import Conversation
from stiqa.chat.turns import check_question
from stiqa.config import Settings
from stiqa.index.build import current_generation
from stiqa.records import Answer
from stiqa.retrieve.search import Searcher


class Assistant:
    """The loaded pipeline (searcher, answerer, alias table); one per process, thread-safe reads."""

    def __init__(self, settings: Settings, *, searcher: Any = None, aliases: AliasLookup | None = None,
                 finder: Any = None) -> None:
        self.settings = settings
        self.searcher = searcher or Searcher.open(settings)
        self._aliases = aliases
        # a conversation's topics: the catalog's programs and the names the documents introduce
        # themselves (「正式名称（略称）」), so a new document's program is a topic too (names.py)
        self._topics = topic_lookup(name_groups(self.searcher.chunks), aliases)
        # "none": the readers' own answer, unchosen (what `stiqa train` collects its data from)
        ranker = None if settings.answer_model == "none" else load_ranker(settings.answer_model or None)
        self.answerer = Answerer(self.searcher, aliases=aliases, finder=finder, ranker=ranker)

    def in_corpus(self, phrase: str) -> bool:
        from stiqa.text.japanese import compact
        from stiqa.answer.passages import flat

        p = compact(phrase)
        return any(p in flat(c) for c in self.searcher.chunks)

    def mentions(self, text: str) -> list[list[str]]:
        return self._topics(text)

    @classmethod
    def open(cls, settings: Settings | None = None, **overrides: Any) -> "Assistant":
        """The engine for ``settings`` (default: corpus/ and index/, ``STIQA_*`` variables, then
        ``overrides`` such as ``corpus_dir=...``), its index brought up to date first (only
        changed files are embedded; a no-op takes milliseconds)."""
        from stiqa.config import load_settings
        from stiqa.index.build import build_index

        settings = settings.with_overrides(**overrides) if settings else load_settings(**overrides)
        build_index(settings)
        return get_assistant(settings)

    def chat(self) -> Conversation:
        """A new conversation: follow-ups (「その予算は？」) are read against its earlier turns."""
        return Conversation(self)

    def answer(self, question: str, *, interpretation: str = "") -> Answer:
        problem = check_question(question, self.settings.max_question_chars)
        if problem:
            return Answer(question, problem, [], True, backend="input")
        # no lock: the answerer keeps no per-question state (each question runs on its own copy),
        # Sudachi tokenisers are per thread, the BM25 and sentence matrices are read-only, and the
        # e5 engine serialises its own calls
        return self.answerer.answer(question, interpretation=interpretation)

    def ask(self, question: str, history: list[str] | None = None) -> Answer:
        conv = self.chat()
        conv.replay(history or [])
        return conv.ask(question)


_ENGINE: dict[tuple, Assistant] = {}
_ENGINE_LOCK = threading.Lock()


def get_assistant(settings: Settings) -> Assistant:
    """The cached engine for these settings (reopened when the index generation changes)."""
    gen = current_generation(settings.index_dir)
    key = (settings, gen.name if gen else None)
    with _ENGINE_LOCK:
        eng = _ENGINE.get(key)
        if eng is None:
            old = [k for k in _ENGINE if k[0] == settings]
            embedder = _ENGINE[old[0]].searcher.embedder if old else None
            searcher = Searcher.open(settings, embedder)
            aliases, finder = _catalog_hooks(settings, searcher.chunks)
            eng = Assistant(settings, searcher=searcher, aliases=aliases, finder=finder)
            for k in old:
                del _ENGINE[k]
            _ENGINE[key] = eng
        return eng


def _catalog_hooks(settings: Settings, chunks: list):
    """Alias lookup and program finder from the catalog (or the chunk headings without it)."""
    from stiqa.catalog import aliases as programs

    return programs.hooks(settings, chunks)
