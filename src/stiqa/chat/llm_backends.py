"""The two ways to reach an LLM: an OpenAI-compatible chat endpoint (Ollama, llama.cpp's server, vLLM,
LM Studio) through LlamaIndex's ``OpenAILike``, or a local GGUF file through llama-cpp-python.
Both stream, both time out, and both turn every failure into an ``LLMError`` with a one-line notice."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stiqa.config import Settings
from stiqa.errors import LLMError

#: said after every notice: the user still gets an answer, the extractive one
FALLBACK = "抽出型の回答を表示します。"


Messages = list[tuple[str, str]]  # (role, content)


def llm_enabled(settings: Settings) -> bool:
    return bool(settings.llm_url or settings.llm_gguf)


# --------------------------------------------------------------------------- backends


class OpenAICompatible:
    """An OpenAI-compatible chat endpoint through LlamaIndex's ``OpenAILike``."""

    #: a streamed answer may take this many times ``llm_timeout`` in all (each wait is ``llm_timeout``)
    STREAM_LIMIT = 10

    def __init__(self, settings: Settings, *, max_tokens: int = 512) -> None:
        if not settings.llm_url:
            raise ValueError("llm_url が空です")
        if settings.llm_timeout <= 0:
            raise ValueError(f"llm_timeout は正の秒数です: {settings.llm_timeout}")
        from llama_index.llms.openai_like import OpenAILike

        self.url = settings.llm_url.rstrip("/")
        self.timeout = settings.llm_timeout
        self.llm = OpenAILike(
            model=settings.llm_model or "default",
            api_base=self.url,
            # an explicit placeholder: never send the user's OPENAI_API_KEY to a local server
            api_key=settings.llm_api_key or "not-needed",
            is_chat_model=True,
            is_function_calling_model=False,
            context_window=8192,
            max_tokens=max_tokens,
            temperature=0.0,
            max_retries=0,
            timeout=settings.llm_timeout,
        )

    @staticmethod
    def _messages(messages: Messages):
        from llama_index.core.llms import ChatMessage

        return [ChatMessage(role=r, content=c) for r, c in messages]

    def complete(self, messages: Messages, **kwargs: Any) -> str:
        try:
            resp = self.llm.chat(self._messages(messages), **kwargs)
            content = resp.message.content
        except Exception as exc:  # noqa: BLE001 - every failure becomes a one-line notice
            raise LLMError(self.explain(exc)) from exc
        if not isinstance(content, str):
            raise LLMError(f"LLM サーバーの応答を解釈できませんでした（本文がありません）。{FALLBACK}")
        return content

    def stream(self, messages: Messages, **kwargs: Any) -> Iterator[str]:
        """Text deltas; ``timeout`` bounds each wait, ``STREAM_LIMIT`` × timeout the whole answer."""
        deadline = time.monotonic() + self.STREAM_LIMIT * self.timeout
        try:
            for resp in self.llm.stream_chat(self._messages(messages), **kwargs):
                if resp.delta:
                    yield resp.delta
                if time.monotonic() > deadline:
                    raise LLMError(f"LLM の回答が {self.STREAM_LIMIT * self.timeout:g} 秒を超えても終わりませんでした。"
                                   f"{FALLBACK}")
        except LLMError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise LLMError(self.explain(exc)) from exc

    def explain(self, exc: BaseException) -> str:
        """A one-line Japanese notice for an exception from the client."""
        import openai

        if isinstance(exc, openai.APITimeoutError):
            return f"LLM サーバーが {self.timeout:g} 秒以内に応答しませんでした。{FALLBACK}"
        if isinstance(exc, openai.APIConnectionError):
            return f"LLM サーバーに接続できませんでした（{self.url}）。{FALLBACK}"
        if isinstance(exc, openai.APIStatusError):
            hint = "（モデル名 --model を確認してください）" if exc.status_code == 404 else ""
            return f"LLM サーバーがエラーを返しました（HTTP {exc.status_code}）{hint}。{FALLBACK}"
        if isinstance(exc, (openai.APIResponseValidationError, json.JSONDecodeError, KeyError, IndexError,
                            TypeError, AttributeError, ValueError)):
            return f"LLM サーバーの応答を解釈できませんでした（{type(exc).__name__}）。{FALLBACK}"
        return f"LLM の呼び出しに失敗しました（{type(exc).__name__}）。{FALLBACK}"


class LocalGGUF:
    """A local GGUF file through llama-cpp-python (optional extra: ``pip install llama-cpp-python``).

    Uses ``Llama.create_chat_completion``, which applies the chat template stored in the GGUF file
    (LlamaIndex's ``LlamaCPP`` wrapper would format prompts in one fixed style instead).
    """

    def __init__(self, settings: Settings, *, max_tokens: int = 512) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise LLMError("GGUF モデルを使うには llama-cpp-python が必要です"
                           f"（pip install llama-cpp-python）。{FALLBACK}") from exc
        path = Path(settings.llm_gguf).expanduser()
        if not path.is_file():
            raise LLMError(f"GGUF ファイルが見つかりません（{path}）。{FALLBACK}")
        try:
            self.llm = Llama(model_path=str(path), n_ctx=8192, verbose=False)
        except Exception as exc:  # noqa: BLE001
            raise LLMError(f"GGUF モデルを読み込めませんでした（{type(exc).__name__}）。{FALLBACK}") from exc
        self.max_tokens = max_tokens
        self._lock = threading.Lock()  # a Llama object is not re-entrant

    def _call(self, messages: Messages, stream: bool, max_tokens: int | None):
        return self.llm.create_chat_completion(
            messages=[{"role": r, "content": c} for r, c in messages], temperature=0.0,
            max_tokens=max_tokens or self.max_tokens, stream=stream)

    def complete(self, messages: Messages, *, max_tokens: int | None = None) -> str:
        try:
            with self._lock:
                return str(self._call(messages, False, max_tokens)["choices"][0]["message"]["content"] or "")
        except Exception as exc:  # noqa: BLE001
            raise LLMError(f"GGUF モデルの生成に失敗しました（{type(exc).__name__}）。{FALLBACK}") from exc

    def stream(self, messages: Messages, *, max_tokens: int | None = None) -> Iterator[str]:
        try:
            with self._lock:
                for part in self._call(messages, True, max_tokens):
                    delta = part["choices"][0].get("delta", {}).get("content")
                    if delta:
                        yield delta
        except Exception as exc:  # noqa: BLE001
            raise LLMError(f"GGUF モデルの生成に失敗しました（{type(exc).__name__}）。{FALLBACK}") from exc


def make_backend(settings: Settings):
    """The configured backend: the HTTP endpoint when ``llm_url`` is set, else the GGUF file."""
    if settings.llm_url:
        return OpenAICompatible(settings)
    if settings.llm_gguf:
        return LocalGGUF(settings)
    raise ValueError("LLM が設定されていません（llm_url か llm_gguf を指定してください）")
