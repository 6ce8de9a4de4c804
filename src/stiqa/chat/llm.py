"""Optional LLM answers: fluent text that still cites its sources and never invents a figure.

The extractive answerer stays the default. When ``settings.llm_url`` (an OpenAI-compatible server:
Ollama, llama.cpp's server, vLLM, LM Studio) or ``settings.llm_gguf`` (a local GGUF file, through
llama-cpp-python) is set, ``Conversation.ask`` comes here:

1. a follow-up is condensed into a stand-alone question by the model (Japanese condense prompt);
2. the hybrid searcher retrieves the top-k chunks, given to the model as numbered sources with
   their title and heading (``prompts.py``);
3. the model answers, citing [n];
4. the guard checks the answer: every [n] names a source that was given, at least one is cited,
   and every number stands in a cited source (``answer.numbers_supported``, the evaluation's
   normaliser: 1,073百万円 = 10億7,300万円).

Whatever goes wrong (rejected answer, server down, timeout, HTTP error, garbage) the user gets
the extractive answer with a one-line ``Answer.notice`` saying why; never a traceback or a hang.
"""
from __future__ import annotations

import logging
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from stiqa.answer import ABSTAIN_TEXT
from stiqa.answer.guard import numbers_supported
from stiqa.config import Settings
from stiqa.text.japanese import normalize, numbers, parse_amounts
from stiqa.records import Answer, Chunk, Citation, Hit
from stiqa.chat.turns import Turn, check_question
from stiqa.chat.prompts import NOT_FOUND, answer_messages, condense_messages
from stiqa.retrieve.search import expand_query
from stiqa.chat.llm_backends import FALLBACK, llm_enabled, make_backend
from stiqa.errors import LLMError

log = logging.getLogger("stiqa.chat.llm")
log.addHandler(logging.NullHandler())  # logged for apps that configure logging; the CLI shows the notice


_MARKER = re.compile(r"[\[［]\s*([0-9０-９]+(?:\s*[,，、]\s*[0-9０-９]+)*)\s*[\]］]")


# --------------------------------------------------------------------------- the guard


@dataclass(frozen=True)
class Verdict:
    """The guard's decision on one generated answer."""

    ok: bool
    text: str  # the answer with its [n] renumbered to follow ``cited`` (when ok)
    cited: list[Chunk]
    abstained: bool = False
    reason: str = ""  # why it was rejected (Japanese, plain form: 「…ため採用せず」 follows)


def _marker_numbers(group: str) -> list[int]:
    return [int(normalize(n)) for n in re.split(r"\s*[,，、]\s*", group.strip()) if n.strip()]


def _source_text(chunk: Chunk) -> str:
    """What the model saw of a source (title, date, heading, program and passage)."""
    return f"{chunk.date}\n{chunk.context_text}"


def unsupported_figure(text: str, sources: Sequence[str]) -> str:
    """The first figure in ``text`` that none of ``sources`` states (for the notice); '' if none."""
    for sentence in re.split(r"(?<=[。\n])", text):
        if not sentence.strip() or numbers_supported(sentence, list(sources)):
            continue
        src_yen = {a.yen for s in sources for a in parse_amounts(s)}
        src_numbers = {n for s in sources for n in numbers(s)}
        norm = normalize(sentence)
        for a in parse_amounts(norm):
            if a.yen not in src_yen:
                return norm[a.start:a.end]
        for n in numbers(norm):
            if n not in src_numbers:
                return n
        return sentence.strip()[:40]
    return ""


def check_answer(text: str, sources: Sequence[Chunk]) -> Verdict:
    """Accept an LLM answer only if its citations exist and every number stands in a cited source."""
    text = (text or "").strip()
    if not text:
        return Verdict(False, text, [], reason="空だった")
    groups = [(m, _marker_numbers(m.group(1))) for m in _MARKER.finditer(text)]
    cited_idx: list[int] = []
    for _, ns in groups:
        for n in ns:
            if not 1 <= n <= len(sources):
                return Verdict(False, text, [], reason=f"与えられていない出典 [{n}] を引用していた"
                                                      f"（出典は {len(sources)} 件）")
            if n not in cited_idx:
                cited_idx.append(n)
    bare = _MARKER.sub(" ", text)
    if not cited_idx:
        if compact_has(bare, NOT_FOUND):
            return Verdict(True, text, [], abstained=True)
        return Verdict(False, text, [], reason="出典番号 [n] を示していなかった")
    cited = [sources[n - 1] for n in cited_idx]
    src = [_source_text(c) for c in cited]
    if not numbers_supported(bare, src):
        fig = unsupported_figure(bare, src)
        return Verdict(False, text, cited, reason=f"引用した出典にない数値「{fig}」を含んでいた")
    # renumber so that [i] in the text is the i-th citation of the Answer
    new = {old: i for i, old in enumerate(cited_idx, 1)}
    renumbered = _MARKER.sub(lambda m: "".join(f"[{new[n]}]" for n in dict.fromkeys(_marker_numbers(m.group(1)))),
                             text)
    return Verdict(True, renumbered, cited)


def compact_has(text: str, phrase: str) -> bool:
    squash = lambda s: re.sub(r"[\s。、.]", "", normalize(s))  # noqa: E731
    return squash(phrase) in squash(text)


# --------------------------------------------------------------------------- the answerer


class LLMAnswerer:
    """Retrieve, prompt, generate, guard; fall back to the extractive answerer on any failure."""

    def __init__(self, settings: Settings, assistant: Any, *, backend: Any = None, k: int | None = None) -> None:
        if not llm_enabled(settings) and backend is None:
            raise ValueError("LLM が設定されていません（llm_url か llm_gguf を指定してください）")
        self.settings = settings
        self.assistant = assistant
        self.k = k or settings.top_k
        self._backend = backend
        self._backend_error = ""
        self._init_lock = threading.Lock()

    @property
    def backend(self):
        """Built on first use; a backend that cannot be built (GGUF extra missing) is remembered."""
        with self._init_lock:
            if self._backend is None and not self._backend_error:
                try:
                    self._backend = make_backend(self.settings)
                except LLMError as exc:
                    self._backend_error = str(exc)
                except Exception as exc:  # noqa: BLE001
                    self._backend_error = f"LLM を準備できませんでした（{type(exc).__name__}: {exc}）。{FALLBACK}"
            if self._backend is None:
                raise LLMError(self._backend_error)
            return self._backend

    # ------------------------------------------------------------ steps

    def condense(self, question: str, turns: Sequence[Any]) -> str:
        """A follow-up rewritten as a stand-alone question (the question itself when there is no history)."""
        if not turns:
            return question.strip()
        history = [(t.question, getattr(t.answer, "text", "")) for t in turns[-4:]]
        out = self.backend.complete(condense_messages(question, history), max_tokens=128)
        line = next((s for s in out.strip().splitlines() if s.strip()), "")
        line = re.sub(r"^(独立した質問|書き換えた質問|質問)\s*[:：]\s*", "", line.strip()).strip()
        for left, right in ("「」", '""', "''", "『』"):  # the whole line quoted: unwrap it
            if len(line) > 2 and line[0] == left and line[-1] == right and left not in line[1:-1]:
                line = line[1:-1].strip()
        if not line or len(line) > self.settings.max_question_chars:
            return question.strip()
        return line

    def retrieve(self, question: str) -> list[Hit]:
        q = normalize(question)
        groups = self.assistant.mentions(q) if hasattr(self.assistant, "mentions") else []
        alias_terms = [n for g in groups for n in g[1:]]
        bm25_query = expand_query(q) + (" " + " ".join(alias_terms) if alias_terms else "")
        return self.assistant.searcher.search(q, self.k, bm25_query=bm25_query)

    # ------------------------------------------------------------ entry points

    def answer(self, question: str, conversation_turns: Sequence[Any] = (), *,
               fallback: Callable[[], Answer] | None = None) -> Answer:
        """One guarded LLM answer (non-streaming), or the extractive one with a notice."""
        result: Answer | None = None
        for item in self._run(question, conversation_turns, fallback, stream=False):
            if isinstance(item, Answer):
                result = item
        assert result is not None
        return result

    def stream(self, question: str, conversation_turns: Sequence[Any] = (), *,
               fallback: Callable[[], Answer] | None = None) -> Iterator[str | Answer]:
        """Text deltas as the model writes, then the final (guarded) ``Answer``.

        The final Answer is what counts: when the guard rejects the streamed text, it is the
        extractive answer with ``notice`` set, and the interface replaces what it showed.
        """
        yield from self._run(question, conversation_turns, fallback, stream=True)

    def _run(self, question: str, turns: Sequence[Any], fallback: Callable[[], Answer] | None,
             *, stream: bool) -> Iterator[str | Answer]:
        t0 = time.perf_counter()
        fallback = fallback or (lambda: self.assistant.answer(question))
        if check_question(question, self.settings.max_question_chars):
            yield fallback()  # the usual input message; no model call
            return
        try:
            resolved = self.condense(question, turns)
            hits = self.retrieve(resolved)
            if not hits:
                yield self._fallback(fallback, "", t0)
                return
            chunks = [h.chunk for h in hits]
            messages = answer_messages(resolved, chunks)
            if stream:
                parts: list[str] = []
                for delta in self.backend.stream(messages):
                    parts.append(delta)
                    yield delta
                text = "".join(parts)
            else:
                text = self.backend.complete(messages)
        except LLMError as exc:
            log.warning("LLM failed: %s", exc)
            yield self._fallback(fallback, str(exc), t0)
            return
        verdict = check_answer(text, chunks)
        if not verdict.ok:
            log.warning("LLM answer rejected (%s): %r", verdict.reason, text[:300])
            yield self._fallback(fallback, f"LLM の回答は{verdict.reason}ため採用せず、{FALLBACK}", t0)
            return
        interpretation = f"解釈：{resolved}" if normalize(resolved) != normalize(question).strip() else ""
        if verdict.abstained:
            related = [Citation.from_chunk(c) for c in chunks[:3]]
            ans = Answer(question, ABSTAIN_TEXT + ("近い内容の箇所を参考として示します。" if related else ""),
                         [], True, related=related)
        else:
            cited_ids = {c.id for c in verdict.cited}
            ans = Answer(question, verdict.text, [Citation.from_chunk(c) for c in verdict.cited], False,
                         related=[Citation.from_chunk(c) for c in chunks if c.id not in cited_ids][:3])
        ans.interpretation = interpretation
        ans.retrieved = [h.chunk.id for h in hits]
        ans.backend = "llm"
        ans.latency_ms = (time.perf_counter() - t0) * 1000
        yield ans

    @staticmethod
    def _fallback(fallback: Callable[[], Answer], notice: str, t0: float) -> Answer:
        ans = fallback()
        ans.notice = notice
        ans.latency_ms = (time.perf_counter() - t0) * 1000
        return ans


# --------------------------------------------------------------------------- conversation glue

_ANSWERERS: "weakref.WeakKeyDictionary[Any, LLMAnswerer]" = weakref.WeakKeyDictionary()
_ANSWERERS_LOCK = threading.Lock()


def answerer_for(assistant: Any) -> LLMAnswerer:
    """One ``LLMAnswerer`` per loaded assistant (its settings are frozen, so is the backend)."""
    with _ANSWERERS_LOCK:
        llm = _ANSWERERS.get(assistant)
        if llm is None:
            llm = _ANSWERERS[assistant] = LLMAnswerer(assistant.settings, assistant)
        return llm


def _record(conv: Any, question: str, before: int, ans: Answer) -> None:
    """Add the turn for an accepted LLM answer (the extractive fallback records its own)."""
    if len(conv.turns) != before:
        return
    resolved = ans.interpretation.removeprefix("解釈：") or normalize(question).strip()
    own = conv.assistant.mentions(resolved)
    conv.turns.append(Turn(question, resolved, own[0] if own else conv.topic(), ans))


def ask_with_llm(conv: Any, question: str) -> Answer:
    """``Conversation.ask`` when an LLM is configured: the LLM answer, or the extractive one."""
    before = len(conv.turns)
    ans = answerer_for(conv.assistant).answer(question, list(conv.turns),
                                              fallback=lambda: conv.ask(question, use_llm=False))
    _record(conv, question, before, ans)
    return ans


def stream_with_llm(conv: Any, question: str) -> Iterator[str | Answer]:
    """Streaming ``Conversation.ask`` for the web chat: text deltas, then the final ``Answer``."""
    before = len(conv.turns)
    for item in answerer_for(conv.assistant).stream(question, list(conv.turns),
                                                    fallback=lambda: conv.ask(question, use_llm=False)):
        if isinstance(item, Answer):
            _record(conv, question, before, item)
        yield item
