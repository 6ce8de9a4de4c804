"""The index never loses or corrupts what it had: killed builds, stale corpora, another model or
chunker, corrupt files, re-indexing while answering, many users at once, incremental updates.

Each test works on a private clone of the project's corpus and index (copied, not rebuilt).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from stiqa.engine import get_assistant
from stiqa.config import load_settings
from stiqa.errors import IndexError_
from stiqa.index.build import build_index, chroma_client, collection_name, current_generation, index_status
from stiqa.retrieve.search import Searcher

ROOT = Path(__file__).resolve().parents[2]
BUDGET = "mext_fy2023_budget_international.md"
STRATEGY = "mext_international_strategy_2025-10-08.txt"
SICORP = "SICORPの令和5年度予算額は？"
QUESTIONS = [SICORP, "ASPIREの採択件数は？", "リンダウ会議への派遣推進事業の予算は？", "What is the budget of SICORP?",
             "外国人特別研究員の支援期間は？", "若手研究者研鑚シンポジウム事業の予算額は？", "EXPERT-Jとは何ですか？",
             "国際頭脳循環の予算は？", "さくらサイエンスプログラムの予算は？", "令和5年度の補正予算は？"]


def _clone(tmp_path: Path, settings, *, cache: bool = True):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(settings.corpus_dir, corpus)
    index.mkdir()
    gen = current_generation(settings.index_dir)
    shutil.copytree(gen, index / gen.name)
    (index / "CURRENT").write_text(gen.name, encoding="utf-8")
    if cache:
        shutil.copytree(settings.index_dir / "embcache", index / "embcache")
    return load_settings(corpus_dir=corpus, index_dir=index)


def _env(s) -> dict:
    return dict(os.environ, PYTHONPATH=str(ROOT / "src"), STIQA_CORPUS_DIR=str(s.corpus_dir),
                STIQA_INDEX_DIR=str(s.index_dir), PYTHONIOENCODING="utf-8")


def _cli(s, *args, timeout=300) -> tuple[int, str, str]:
    p = subprocess.run([sys.executable, "-m", "stiqa.cli", *args], capture_output=True, env=_env(s), cwd=ROOT,
                       timeout=timeout)
    out, err = p.stdout.decode(), p.stderr.decode()
    assert "Traceback" not in out + err, err[-3000:]
    return p.returncode, out, err


def _one_line_error(rc: int, err: str) -> str:
    lines = [l for l in err.splitlines() if l.strip()]
    assert rc != 0 and len(lines) == 1 and lines[0].startswith("stiqa: "), (rc, err)
    return lines[0]


def _gens(index: Path) -> list[str]:
    return sorted(p.name for p in index.iterdir() if p.name.startswith("gen-"))


def _tmps(index: Path) -> list[str]:
    return sorted(p.name for p in index.iterdir() if p.name.startswith("tmp-"))


@pytest.fixture(scope="module")
def reference(assistant):
    return {q: assistant.ask(q) for q in QUESTIONS}


def _same(a, b) -> bool:
    return (a.text, a.abstained, [(c.source, c.line_start) for c in a.citations]) == \
           (b.text, b.abstained, [(c.source, c.line_start) for c in b.citations])


# ---------------------------------------------------------------- atomic builds


def _start_ingest(s, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "stiqa.cli", "ingest", "--rebuild"], env=_env(s), cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=log.open("wb"))


@pytest.mark.slow
def test_killed_build_leaves_the_previous_index_answering(tmp_path, settings, reference):
    s = _clone(tmp_path, settings)
    index = s.index_dir
    before = current_generation(index).name
    cache = tmp_path / "embcache-saved"
    shutil.move(index / "embcache", cache)  # cold cache: the rebuild embeds every chunk (many seconds)

    # 1. killed while embedding
    log = tmp_path / "ingest1.log"
    proc = _start_ingest(s, log)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and "埋め込み" not in log.read_text("utf-8", "replace"):
        time.sleep(0.1)
    time.sleep(1.0)
    assert proc.poll() is None, "the build finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert current_generation(index).name == before
    assert _gens(index) == [before]

    # 2. killed while writing the new generation (warm cache: poll for its tmp- folder)
    shutil.rmtree(index / "embcache", ignore_errors=True)
    shutil.copytree(cache, index / "embcache")
    proc = _start_ingest(s, tmp_path / "ingest2.log")
    caught = False
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if _tmps(index):
            time.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
            caught = True
            break
        time.sleep(0.01)
    proc.wait()
    if caught:
        assert current_generation(index).name == before, "CURRENT moved to a half-written build"

    # the previous index still answers, in a fresh process and in this one
    rc, out, err = _cli(s, "ask", SICORP)
    assert rc == 0 and reference[SICORP].text in out, err
    searcher = Searcher.open(s, get_assistant(settings).searcher.embedder)
    assert len(searcher.chunks) == searcher.manifest["chunks"]

    # 3. the next run finishes the job and leaves nothing behind
    rc, out, err = _cli(s, "ingest")
    assert rc == 0, err
    assert not _tmps(index), f"leftovers of the killed build: {_tmps(index)}"
    rc, out, err = _cli(s, "ingest", "--rebuild")
    assert rc == 0, err
    assert not _tmps(index)
    after = current_generation(index).name
    assert after != before and (index / after / "manifest.json").is_file()
    assert index_status(s)["stale"] is False


# ---------------------------------------------------------------- stale, model, chunker, corruption


def test_stale_index_is_detected(tmp_path, settings):
    s = _clone(tmp_path, settings)
    assert index_status(s)["stale"] is False
    path = s.corpus_dir / STRATEGY
    path.write_text(path.read_text("utf-8") + "\n追記された一文。\n", encoding="utf-8")
    (s.corpus_dir / "new-doc.md").write_text("# 新しい資料\n\n本文。\n", encoding="utf-8")
    st = index_status(s)
    assert st["stale"] is True and st["stale_files"] == sorted([STRATEGY, "new-doc.md"])
    (s.corpus_dir / BUDGET).unlink()
    assert BUDGET in index_status(s)["stale_files"]
    report = build_index(s)
    assert not report.noop and index_status(s)["stale"] is False


def _edit_manifest(s, **changes) -> None:
    gen = current_generation(s.index_dir)
    m = json.loads((gen / "manifest.json").read_text("utf-8"))
    m.update(changes)
    (gen / "manifest.json").write_text(json.dumps(m), "utf-8")


@pytest.mark.parametrize("change", [{"embed_model": "hf:some-other-model"}, {"chunker_version": "0"}],
                         ids=["model", "chunker"])
def test_index_from_another_recipe_is_never_queried(tmp_path, settings, change):
    s = _clone(tmp_path, settings)
    _edit_manifest(s, **change)
    with pytest.raises(IndexError_) as exc:
        Searcher.open(s, embedder=object())  # refused before any query could use the wrong vectors
    assert "stiqa ingest --rebuild" in str(exc.value)
    st = index_status(s)
    assert not (st["model_matches"] and st["chunker_matches"])
    rc, out, err = _cli(s, "ask", SICORP)
    assert "stiqa ingest --rebuild" in _one_line_error(rc, err) and out == ""
    report = build_index(s)  # plain `stiqa ingest` rebuilds in full with the current recipe
    assert not report.noop and report.reused == report.chunks
    Searcher.open(s, embedder=object())


def test_other_embedding_backend_refused(tmp_path, settings):
    s = _clone(tmp_path, settings).with_overrides(embed_backend="hf")
    with pytest.raises(IndexError_, match="stiqa ingest --rebuild"):
        Searcher.open(s, embedder=object())


@pytest.mark.parametrize("damage", ["truncate_chunks", "cut_chunks_midline", "no_bm25", "no_chroma",
                                    "bad_manifest", "no_manifest", "bad_current"])
def test_corrupt_index_names_the_fix(tmp_path, settings, damage):
    s = _clone(tmp_path, settings)
    gen = current_generation(s.index_dir)
    chunks = gen / "chunks.jsonl"
    if damage == "truncate_chunks":
        lines = chunks.read_text("utf-8").splitlines(keepends=True)
        chunks.write_text("".join(lines[: len(lines) // 2]), "utf-8")
    elif damage == "cut_chunks_midline":
        data = chunks.read_bytes()
        chunks.write_bytes(data[: len(data) // 2 + 7])
    elif damage == "no_bm25":
        shutil.rmtree(gen / "bm25")
    elif damage == "no_chroma":
        shutil.rmtree(gen / "chroma")
    elif damage == "bad_manifest":
        (gen / "manifest.json").write_text("{not json", "utf-8")
    elif damage == "no_manifest":
        (gen / "manifest.json").unlink()
    elif damage == "bad_current":
        (s.index_dir / "CURRENT").write_text("gen-does-not-exist", "utf-8")
    with pytest.raises(IndexError_) as exc:
        Searcher.open(s, embedder=get_assistant(settings).searcher.embedder)
    assert "stiqa ingest" in str(exc.value) and "\n" not in str(exc.value)
    rc, out, err = _cli(s, "ask", SICORP)
    assert "stiqa ingest" in _one_line_error(rc, err)
    build_index(s, force=True)  # the fix it names
    assert Searcher.open(s, embedder=get_assistant(settings).searcher.embedder).search(SICORP)


# ---------------------------------------------------------------- serving while indexing, many users


def test_reindex_while_answering(tmp_path, settings, reference):
    s = _clone(tmp_path, settings)
    get_assistant(s)  # warm, like a running app
    errors: list[str] = []
    answers: list = []
    stop = threading.Event()

    def asker():
        i = 0
        while not stop.is_set() or i < 4:
            q = QUESTIONS[i % 3]
            try:
                ans = get_assistant(s).ask(q)
                if not _same(ans, reference[q]):
                    errors.append(f"{q}: {ans.text}")
                answers.append(ans)
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(f"{q}: {type(exc).__name__}: {exc}")
            i += 1

    t = threading.Thread(target=asker)
    t.start()
    try:
        gens = {current_generation(s.index_dir).name}
        for _ in range(2):
            build_index(s, force=True)
            gens.add(current_generation(s.index_dir).name)
    finally:
        stop.set()
        t.join(timeout=300)
    assert not errors, errors[:5]
    assert len(gens) == 3 and len(answers) >= 4


def test_concurrent_users_get_identical_answers(settings, reference):
    engine = get_assistant(settings)
    results: dict[tuple[int, int], object] = {}
    errors: list[str] = []

    def user(n: int):
        for k in range(10):
            q = QUESTIONS[(n + k) % len(QUESTIONS)]
            try:
                results[(n, k)] = (q, engine.ask(q))
            except Exception as exc:  # noqa: BLE001
                errors.append(f"{q}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=user, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors, errors[:5]
    assert len(results) == 80
    wrong = [q for q, ans in results.values() if not _same(ans, reference[q])]
    assert not wrong, wrong[:5]


# ---------------------------------------------------------------- incremental


def _chroma_count(s) -> int:
    gen = current_generation(s.index_dir)
    client = chroma_client(s, gen)
    return client.get_collection(collection_name(s, gen.name), embedding_function=None).count()


def test_incremental_reindex(tmp_path, settings, reference):
    s = _clone(tmp_path, settings)
    gen0 = current_generation(s.index_dir).name
    target = s.corpus_dir / BUDGET
    own = [c for c in get_assistant(settings).searcher.chunks if c.source == BUDGET]

    # touched only: nothing re-embedded, nothing rebuilt
    st = target.stat()
    os.utime(target, (st.st_atime + 3600, st.st_mtime + 3600))
    report = build_index(s)
    assert report.noop and report.embedded == 0 and current_generation(s.index_dir).name == gen0

    # one line changed: only that file's changed chunks are embedded
    text = target.read_text("utf-8")
    assert "1,073百万円" in text
    target.write_text(text.replace("1,073百万円", "1,074百万円", 1), "utf-8")
    report = build_index(s)
    assert report.changed == [BUDGET] and not report.removed
    assert 0 < report.embedded <= len(own), report.summary()
    assert report.embedded <= 3
    assert _chroma_count(s) == report.chunks

    # a removed file disappears from chunks, vectors and answers
    (s.corpus_dir / STRATEGY).unlink()
    report = build_index(s)
    assert report.removed == [STRATEGY] and report.embedded == 0
    gen = current_generation(s.index_dir)
    chunks = [json.loads(l) for l in (gen / "chunks.jsonl").read_text("utf-8").splitlines() if l]
    assert chunks and all(c["source"] == BUDGET for c in chunks)
    assert _chroma_count(s) == len(chunks) == report.chunks
    engine = get_assistant(s)
    for q in QUESTIONS[:3]:
        assert all(c.source != STRATEGY for c in engine.ask(q).citations)
    hits = engine.searcher.search("ASPIRE 採択件数", 10)
    assert all(h.chunk.source != STRATEGY for h in hits)
