"""stiqa: answers to questions about Japanese STI policy documents, with citations, offline.

The Python API::

    import stiqa

    assistant = stiqa.Assistant.open()          # corpus/ and index/ by default; Settings fields as keywords
    answer = assistant.ask("SICORPの令和5年度予算額（案）は？")
    answer.text, answer.citations[0].source, answer.abstained
    chat = assistant.chat()                      # a conversation keeps follow-ups in context
    chat.ask("SATREPSって何？"); chat.ask("その予算は？")

    stiqa.build_index(stiqa.load_settings(corpus_dir="my_corpus", index_dir="my_index"))

Names are loaded on first use (PEP 562), so ``import stiqa`` and the CLI start without loading
the index, the embedding engine or Chroma.
"""
from __future__ import annotations

from typing import Any

__all__ = ["Answer", "Assistant", "Citation", "Conversation", "Settings", "build_index", "load_settings"]
__version__ = "0.2.0"

_WHERE = {
    "Answer": "records", "Citation": "records", "Settings": "config", "load_settings": "config",
    "build_index": "index.build", "Assistant": "engine", "Conversation": "chat.conversation",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        from importlib import import_module

        value = getattr(import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'stiqa' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
