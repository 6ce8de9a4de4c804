"""stiqa inside LlamaIndex apps: a retriever, a query engine and a chat engine.

    from stiqa import Assistant
    from stiqa.llamaindex import StiqaRetriever, StiqaQueryEngine, StiqaChatEngine

    assistant = Assistant.open()
    RetrieverQueryEngine.from_args(StiqaRetriever(assistant), llm=my_llm)   # stiqa's search, your LLM
    StiqaQueryEngine(assistant).query("SICORPの令和5年度予算額は？")          # stiqa's cited answer
    StiqaChatEngine(assistant).chat("SATREPSの予算は？")                      # with follow-ups

Every node's metadata carries the citation (``source``, ``title``, ``section``, ``line_start``,
``line_end``). The vector store behind the index stays stiqa's own Chroma collection, not
LlamaIndex's ``ChromaVectorStore``: the index is swapped whole between generations (a killed build
never leaves a half-written store) and vectors are cached by content hash across builds; the
vector store abstraction holds one collection with upserts and has neither.
"""
from __future__ import annotations

import threading
from collections.abc import Generator
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole
from llama_index.core.base.response.schema import Response
from llama_index.core.chat_engine.types import AgentChatResponse, BaseChatEngine, StreamingAgentChatResponse
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from stiqa.records import Answer, Chunk, Citation

_META = ("source", "title", "section", "line_start", "line_end")


def chunk_node(chunk: Chunk, score: float | None = None) -> NodeWithScore:
    meta = {k: getattr(chunk, k) for k in _META}
    return NodeWithScore(node=TextNode(id_=chunk.id, text=chunk.text, metadata=meta), score=score)


def citation_node(c: Citation) -> NodeWithScore:
    meta = {k: getattr(c, k) for k in _META}
    if c.span:
        meta["span"] = c.span
    node_id = f"{c.source}:{c.line_start}-{c.line_end}"
    return NodeWithScore(node=TextNode(id_=node_id, text=c.text, metadata=meta), score=1.0)


class StiqaRetriever(BaseRetriever):
    """stiqa's hybrid search (Sudachi BM25, character BM25, e5 vectors, sentence re-rank)."""

    def __init__(self, assistant: Any, *, k: int = 5, **kwargs: Any) -> None:
        if k < 1:
            raise ValueError(f"k は 1 以上です: {k}")
        self._assistant = assistant
        self._k = k
        super().__init__(**kwargs)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self._assistant.searcher.search(query_bundle.query_str, self._k)
        return [chunk_node(h.chunk, h.score) for h in hits]


def _response(ans: Answer) -> Response:
    return Response(ans.text, source_nodes=[citation_node(c) for c in ans.citations],
                    metadata={"abstained": ans.abstained, "interpretation": ans.interpretation,
                              "question": ans.question})


class StiqaQueryEngine(CustomQueryEngine):
    """stiqa's own answer (extractive, every figure cited) as a LlamaIndex query engine."""

    assistant: Any

    def __init__(self, assistant: Any, **kwargs: Any) -> None:
        super().__init__(assistant=assistant, **kwargs)

    def custom_query(self, query_str: str) -> Response:
        return _response(self.assistant.ask(query_str))


class StiqaChatEngine(BaseChatEngine):
    """A stiqa conversation: follow-ups (「その前年度は？」) are read against the earlier turns."""

    def __init__(self, assistant: Any) -> None:
        self._assistant = assistant
        self._conversation = assistant.chat()
        self._history: list[ChatMessage] = []

    def reset(self) -> None:
        self._conversation = self._assistant.chat()
        self._history = []

    @property
    def chat_history(self) -> list[ChatMessage]:
        return list(self._history)

    def _answer(self, message: str, chat_history: list[ChatMessage] | None) -> Answer:
        if chat_history is not None:  # a history given by the caller replaces the engine's own
            self.reset()
            self._conversation.replay([m.content or "" for m in chat_history if m.role == MessageRole.USER])
            self._history = list(chat_history)
        ans = self._conversation.ask(message)
        self._history += [ChatMessage(role=MessageRole.USER, content=message),
                          ChatMessage(role=MessageRole.ASSISTANT, content=ans.text)]
        return ans

    def chat(self, message: str, chat_history: list[ChatMessage] | None = None) -> AgentChatResponse:
        ans = self._answer(message, chat_history)
        return AgentChatResponse(response=ans.text, source_nodes=[citation_node(c) for c in ans.citations],
                                 metadata={"abstained": ans.abstained, "interpretation": ans.interpretation})

    def stream_chat(self, message: str, chat_history: list[ChatMessage] | None = None
                    ) -> StreamingAgentChatResponse:
        ans = self._answer(message, chat_history)

        def pieces() -> Generator[ChatResponse, None, None]:
            text = ""
            for piece in _pieces(ans.text):
                text += piece
                yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=piece)

        out = StreamingAgentChatResponse(chat_stream=pieces(),
                                         source_nodes=[citation_node(c) for c in ans.citations])
        # the answer is already in this engine's history; the stream only needs draining into the queue
        threading.Thread(target=out.write_response_to_history, args=(_NoMemory(),), daemon=True).start()
        return out

    async def achat(self, message: str, chat_history: list[ChatMessage] | None = None) -> AgentChatResponse:
        return self.chat(message, chat_history)

    async def astream_chat(self, message: str, chat_history: list[ChatMessage] | None = None
                           ) -> StreamingAgentChatResponse:
        return self.stream_chat(message, chat_history)


def _pieces(text: str) -> list[str]:
    """The answer in sentence-sized pieces for streaming (whole figures are never split)."""
    out, cur = [], ""
    for ch in text:
        cur += ch
        if ch in "。\n":
            out.append(cur)
            cur = ""
    return out + ([cur] if cur else [])


class _NoMemory:
    """What ``write_response_to_history`` writes the finished message to: nothing to keep here."""

    def put(self, message: ChatMessage) -> None:  # noqa: D401
        return None
