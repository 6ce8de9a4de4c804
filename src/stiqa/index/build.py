"""Build and open the index: Chroma vectors + Japanese BM25 + chunks + manifest, atomically.

Layout under ``index/``::

    CURRENT               name of the live generation (replaced atomically with os.replace)
    gen-<stamp>/          one complete, immutable build
        manifest.json     corpus file hashes, embedding model, chunker version, counts
        chunks.jsonl      every chunk with its citation metadata
        bm25/             bm25s index over Sudachi tokens of each chunk's context text
        chroma/           Chroma PersistentClient (embedded default)
    embcache/<model>.npz  vectors by content hash, so an unchanged chunk is never re-embedded
    .lock                 one builder at a time

Why generations instead of updating one store in place: a build killed at any point leaves
CURRENT pointing at the previous complete build, and readers never see a half-written index.
Why our own manifest instead of LlamaIndex's ``IngestionPipeline`` docstore: the pipeline
dedupes by document hash but cannot tell a changed model or chunker from a changed file, and
keeps no per-file report for maintainers.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from stiqa.config import CHUNKER_VERSION, Settings
from stiqa.ingest.files import Skipped, corpus_files, file_sha256, load_corpus
from stiqa.ingest.chunker import chunk_corpus
from stiqa.catalog.build import program_names
from stiqa.text.japanese import char_ngrams, tokens
from stiqa.records import Chunk
from stiqa.errors import IndexError_

log = logging.getLogger(__name__)

COLLECTION = "stiqa"
MANIFEST_VERSION = 1


@dataclass
class BuildReport:
    noop: bool
    generation: str
    files: int
    chunks: int
    embedded: int
    reused: int
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    embed_seconds: float = 0.0
    #: the engine that embedded this build's new chunks ("" when none were embedded)
    engine: str = ""

    def summary(self) -> str:
        if self.noop:
            return f"索引は最新です（{self.files} ファイル、{self.chunks} チャンク、{self.seconds:.2f} 秒）"
        by = f"、{self.engine}" if self.engine and self.embedded else ""
        lines = [f"索引を更新しました: {self.files} ファイル、{self.chunks} チャンク "
                 f"（新たに埋め込み {self.embedded}{by}、再利用 {self.reused}、{self.seconds:.1f} 秒）"]
        if self.changed:
            lines.append("  変更・追加: " + ", ".join(self.changed))
        if self.removed:
            lines.append("  削除: " + ", ".join(self.removed))
        for s in self.skipped:
            lines.append(f"  スキップ: {s.name}: {s.reason}")
        lines.extend(f"  注意: {w}" for w in self.warnings)
        return "\n".join(lines)


# ---------------------------------------------------------------- small helpers


def _model_slug(model_id: str) -> str:
    return hashlib.sha1(model_id.encode()).hexdigest()[:12]


def content_key(model_id: str, chunk: Chunk) -> str:
    return hashlib.sha1(f"{model_id}\n{chunk.embed_text}".encode()).hexdigest()


def current_generation(index_dir: Path) -> Path | None:
    try:
        name = (index_dir / "CURRENT").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    gen = index_dir / name
    return gen if name.startswith("gen-") and gen.is_dir() else None


def read_manifest(gen: Path) -> dict[str, Any]:
    try:
        return json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexError_(f"索引のマニフェストが読めません（{gen.name}）: {exc}。"
                          "`stiqa ingest --rebuild` で作り直してください。") from exc


def corpus_hashes(corpus_dir: Path) -> dict[str, str]:
    out = {}
    for p in corpus_files(corpus_dir):
        try:
            out[p.name] = file_sha256(p)
        except OSError:
            out[p.name] = "unreadable"
    return out


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# ---------------------------------------------------------------- embedding cache


class EmbeddingCache:
    """Vectors keyed by content hash, stored as plain arrays (no pickle)."""

    def __init__(self, index_dir: Path, model_id: str) -> None:
        self.path = index_dir / "embcache" / f"{_model_slug(model_id)}.npz"
        self.vectors: dict[str, np.ndarray] = {}
        try:
            with np.load(self.path, allow_pickle=False) as data:
                for k, v in zip(data["keys"].tolist(), data["vectors"]):
                    self.vectors[k] = v
        except (OSError, KeyError, ValueError):
            self.vectors = {}

    def save(self, keep: set[str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = sorted(k for k in self.vectors if k in keep)
        if not keys:
            return
        tmp = self.path.with_name(f".{uuid.uuid4().hex}.npz")
        np.savez(tmp, keys=np.array(keys), vectors=np.stack([self.vectors[k] for k in keys]))
        os.replace(tmp, self.path)


# ---------------------------------------------------------------- vector store


def chroma_client(settings: Settings, gen: Path):
    """Embedded PersistentClient under the generation, or an HTTP client for a shared server."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        from urllib.parse import urlparse

        u = urlparse(settings.chroma_url)
        return chromadb.HttpClient(host=u.hostname or "127.0.0.1", port=u.port or 8000,
                                   ssl=u.scheme == "https", settings=chroma_settings)
    return chromadb.PersistentClient(path=str(gen / "chroma"), settings=chroma_settings)


def collection_name(settings: Settings, gen_name: str) -> str:
    # on a shared server every generation has its own collection; embedded stores hold one
    return f"stiqa-{gen_name}" if settings.chroma_url else COLLECTION


def _write_vectors(settings: Settings, gen: Path, chunks: list[Chunk], vectors: np.ndarray) -> None:
    client = chroma_client(settings, gen)
    # embedding_function=None: Chroma's default downloads a model; stiqa passes its own vectors
    col = client.get_or_create_collection(collection_name(settings, gen.name), embedding_function=None,
                                          metadata={"hnsw:space": "cosine"})
    step = 2000
    for i in range(0, len(chunks), step):
        part = chunks[i:i + step]
        col.add(ids=[c.id for c in part], embeddings=vectors[i:i + step].tolist(),
                documents=[c.context_text for c in part],
                metadatas=[{k: v for k, v in c.to_meta().items() if k not in ("text", "id")} for c in part])


def _write_bm25(gen: Path, chunks: list[Chunk]) -> None:
    """Two sparse indexes: Sudachi content words, and character 1+2-grams (JSQuAD showed each
    finds what the other misses; fused with the dense score they beat every single retriever)."""
    import bm25s

    retriever = bm25s.BM25()
    retriever.index([tokens(c.context_text) or [""] for c in chunks], show_progress=False)
    retriever.save(str(gen / "bm25"), show_progress=False)
    chars = bm25s.BM25()
    chars.index([char_ngrams(c.context_text) or [" "] for c in chunks], show_progress=False)
    chars.save(str(gen / "bm25c"), show_progress=False)


# ---------------------------------------------------------------- build


def build_index(settings: Settings, *, embedder: Any = None, force: bool = False,
                progress: Callable[[int, int], None] | None = None) -> BuildReport:
    """Bring the index up to date with the corpus; a no-op when nothing changed."""
    t0 = time.perf_counter()
    index_dir = settings.index_dir
    with build_lock(index_dir):
        hashes = corpus_hashes(settings.corpus_dir)
        gen = current_generation(index_dir)
        old: dict[str, Any] = {}
        if gen is not None:
            try:
                old = read_manifest(gen)
            except IndexError_:
                old = {}
        same_recipe = (old.get("embed_model") == settings.embed_model_id
                       and old.get("chunker_version") == CHUNKER_VERSION
                       and old.get("chroma_url", "") == settings.chroma_url)
        # files_seen includes skipped files, so a corpus with one unreadable file is not rebuilt every run
        if gen is not None and not force and same_recipe and old.get("files_seen", old.get("files")) == hashes:
            _prune(index_dir, keep={p.name for p in index_dir.iterdir() if p.name.startswith("gen-")})
            return BuildReport(True, gen.name, len(hashes), int(old.get("chunks", 0)), 0, 0,
                               seconds=time.perf_counter() - t0)

        docs, skipped = load_corpus(settings.corpus_dir)
        chunks = chunk_corpus(docs, program_names(settings.corpus_dir))
        if not chunks:
            raise IndexError_(f"索引にする文書がありません（{settings.corpus_dir}）")
        old_files: dict[str, str] = old.get("files", {}) if same_recipe else {}
        changed = sorted(d.name for d in docs if old_files.get(d.name) != d.sha256)
        removed = sorted(set(old_files) - {d.name for d in docs})

        info: dict[str, Any] = {}
        vectors, keys, embedded, embed_seconds = embed_chunks(settings, chunks, embedder=embedder, progress=progress,
                                                              info=info)
        # which engine embedded what: the model is one (embed_model), the engines may differ
        embedded_by = {"engine": info.get("embedded_by", ""), "embedded": embedded, "from_cache": len(chunks) - embedded}
        manifest = {
            "embedded_by": embedded_by,
            "files": {d.name: d.sha256 for d in docs}, "skipped": {s.name: s.reason for s in skipped},
            # the corpus hashes as seen at the start, so an edit during the build shows as stale
            "files_seen": hashes,
        }
        new_name = write_generation(settings, chunks, vectors, manifest, previous=gen)
        EmbeddingCache(index_dir, settings.embed_model_id).save(set(keys))
        warnings = [w for d in docs for w in d.warnings]
        return BuildReport(False, new_name, len(docs), len(chunks), embedded, len(chunks) - embedded,
                           changed, removed, skipped, warnings, time.perf_counter() - t0, embed_seconds,
                           engine=embedded_by["engine"])


def embed_chunks(settings: Settings, chunks: list[Chunk], *, embedder: Any = None,
                 progress: Callable[[int, int], None] | None = None,
                 info: dict[str, Any] | None = None) -> tuple[np.ndarray, list[str], int, float]:
    """Vectors for ``chunks`` row for row, embedding only content the cache has not seen.

    Returns (vectors, content keys, how many were embedded, seconds spent embedding); ``info``,
    when given, receives the engine that embedded them (``embedded_by``)."""
    cache = EmbeddingCache(settings.index_dir, settings.embed_model_id)
    keys = [content_key(settings.embed_model_id, c) for c in chunks]
    # one embedding per distinct content (duplicate paragraphs share it)
    missing = sorted({k: i for i, k in reversed(list(enumerate(keys))) if k not in cache.vectors}.values())
    # similar lengths in one batch: the torch engine pads each batch to its longest text
    missing.sort(key=lambda i: len(chunks[i].embed_text))
    t_embed = time.perf_counter()
    if missing:
        if embedder is None:
            from stiqa.index.embed import make_embedding

            embedder = make_embedding(settings)
        if hasattr(embedder, "expect"):  # the e5 default picks its passage engine by the amount
            embedder.expect(len(missing))
        batch = 32
        for start in range(0, len(missing), batch):
            idx = missing[start:start + batch]
            vecs = embedder.get_text_embedding_batch([chunks[i].embed_text for i in idx])
            for i, v in zip(idx, vecs):
                cache.vectors[keys[i]] = np.asarray(v, dtype=np.float32)
            if (start // batch) % 8 == 7:
                cache.save(set(cache.vectors))  # a killed build keeps what it embedded
            if progress:
                progress(min(start + batch, len(missing)), len(missing))
        cache.save(set(cache.vectors))
        if info is not None:
            info["embedded_by"] = str(getattr(embedder, "passage_engine", getattr(embedder, "model_name", "?")))
    vectors = np.stack([cache.vectors[k] for k in keys])
    return vectors, keys, len(missing), time.perf_counter() - t_embed


def write_generation(settings: Settings, chunks: list[Chunk], vectors: np.ndarray, manifest: dict[str, Any],
                     *, previous: Path | None) -> str:
    """Write a complete generation in a tmp- folder, then make it live with one atomic rename of
    CURRENT; a failure at any point leaves the previous generation answering."""
    index_dir = settings.index_dir
    new_name = f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    tmp = index_dir / f"tmp-{new_name}"
    tmp.mkdir(parents=True)
    try:
        with (tmp / "chunks.jsonl").open("w", encoding="utf-8") as fh:
            for c in chunks:
                fh.write(json.dumps(c.to_meta(), ensure_ascii=False) + "\n")
        from stiqa.ledger.update import build_beside  # the figure ledger, rebuilt with every index build

        build_beside(tmp, chunks, corpus_dir=settings.corpus_dir, previous=previous, files=manifest.get("files"))
        _write_bm25(tmp, chunks)
        _write_vectors(settings, tmp if not settings.chroma_url else index_dir / new_name, chunks, vectors)
        full = {"version": MANIFEST_VERSION, "embed_model": settings.embed_model_id,
                "dim": int(vectors.shape[1]), "chunker_version": CHUNKER_VERSION,
                "chroma_url": settings.chroma_url, "skipped": {}, "chunks": len(chunks),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **manifest}
        (tmp / "manifest.json").write_text(json.dumps(full, ensure_ascii=False, indent=1), "utf-8")
        os.replace(tmp, index_dir / new_name)
        _write_atomic(index_dir / "CURRENT", new_name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _prune(index_dir, keep={new_name, previous.name if previous else ""}, settings=settings)
    return new_name


def _prune(index_dir: Path, keep: set[str], settings: Settings | None = None) -> None:
    """Drop old generations and leftovers of killed builds (the previous one stays for readers).

    On a Chroma server each generation has its own collection: a pruned generation's goes too
    (only this index folder's own generations: other deployments may share the server)."""
    pruned = []
    for p in index_dir.iterdir():
        if (p.name.startswith("gen-") and p.name not in keep) or p.name.startswith("tmp-gen-"):
            shutil.rmtree(p, ignore_errors=True)
            pruned.append(p.name.removeprefix("tmp-"))
    if settings is not None and settings.chroma_url and pruned:
        try:
            client = chroma_client(settings, index_dir)
            existing = {c if isinstance(c, str) else c.name for c in client.list_collections()}
            for name in pruned:
                if collection_name(settings, name) in existing:
                    client.delete_collection(collection_name(settings, name))
        except Exception as exc:  # the server may be down: the folder is gone, the collection stays
            log.warning("古い世代のコレクションを削除できませんでした: %s", exc)


def index_status(settings: Settings) -> dict[str, Any]:
    """What the web view and `stiqa status` show: chunks, model, built at, stale or fresh."""
    gen = current_generation(settings.index_dir)
    if gen is None:
        return {"exists": False, "message": "索引がありません。`stiqa ingest` を実行してください。"}
    m = read_manifest(gen)
    hashes = corpus_hashes(settings.corpus_dir)
    stale_files = sorted(n for n in set(hashes) | set(m.get("files", {}))
                         if hashes.get(n) != m.get("files", {}).get(n) and n not in m.get("skipped", {}))
    return {"exists": True, "generation": gen.name, "chunks": m.get("chunks"), "model": m.get("embed_model"),
            "chunker_version": m.get("chunker_version"), "built_at": m.get("built_at"),
            "files": sorted(m.get("files", {})), "skipped": m.get("skipped", {}),
            "stale": bool(stale_files), "stale_files": stale_files,
            "embedded_by": m.get("embedded_by", {}), "engines": _engines(settings),
            "model_matches": m.get("embed_model") == settings.embed_model_id,
            "chunker_matches": m.get("chunker_version") == CHUNKER_VERSION}


def _engines(settings: Settings) -> dict[str, str]:
    from stiqa.index.embed import engines

    return engines(settings)


def corpus_file_path(settings: Settings, name: str) -> Path:
    """The corpus file a source viewer may serve for ``name`` (a file name as cited).

    Refuses, with ``ValueError``, anything that is not a regular file inside ``corpus/``:
    ``../`` traversal, absolute paths, NUL bytes, folders, missing files, and symlinks whose
    target lies outside the corpus folder.
    """
    if not isinstance(name, str) or not name.strip() or "\x00" in name:
        raise ValueError("ファイル名が指定されていません")
    root = settings.corpus_dir.resolve()
    requested = Path(name)
    if requested.is_absolute() or ".." in requested.parts or "\\" in name:
        raise ValueError(f"コーパスの外のファイルは表示できません: {name}")
    path = (root / requested).resolve()
    if path == root or not path.is_relative_to(root):
        raise ValueError(f"コーパスの外のファイルは表示できません: {name}")
    if not path.is_file():
        raise ValueError(f"コーパスにそのファイルはありません: {name}")
    return path
