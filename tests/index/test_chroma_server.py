"""Shared deployments: stiqa's vectors in a real `chroma run` server give the same answers.

Starts the chromadb package's own server on a free 127.0.0.1 port in a temp folder, builds an
index through it (STIQA_CHROMA_URL), answers questions from the evaluation set through it and
through the embedded store, and checks that pruning a generation deletes its collection.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import free_port

pytestmark = pytest.mark.slow  # a real `chroma run` server

ROOT = Path(__file__).resolve().parents[2]


def _chroma_bin() -> str | None:
    here = Path(sys.executable).parent / "chroma"
    return str(here) if here.exists() else shutil.which("chroma")


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory):
    exe = _chroma_bin()
    if exe is None:
        pytest.skip("chroma (chromadb の server) がありません")
    import chromadb

    path = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    log = (path / "server.log").open("w")
    proc = subprocess.Popen([exe, "run", "--path", str(path / "data"), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 60
        while True:
            try:
                chromadb.HttpClient(host="127.0.0.1", port=port).heartbeat()
                break
            except Exception:
                if proc.poll() is not None or time.time() > deadline:
                    pytest.fail("chroma run が起動しませんでした: " + (path / "server.log").read_text()[-2000:])
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _questions(n: int = 12) -> list[dict]:
    items = [json.loads(x) for x in (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines() if x]
    plain = [it for it in items if not it.get("history")]
    step = max(1, len(plain) // n)
    return plain[::step][:n]


def _collections(url: str) -> set[str]:
    import chromadb
    from urllib.parse import urlparse

    u = urlparse(url)
    client = chromadb.HttpClient(host=u.hostname, port=u.port)
    return {c if isinstance(c, str) else c.name for c in client.list_collections()}


def test_index_and_answer_through_server(chroma_url, corpus_copy, assistant):
    from stiqa.engine import get_assistant
    from stiqa.index.build import build_index, current_generation

    s = corpus_copy.with_overrides(chroma_url=chroma_url)
    report = build_index(s)
    assert not report.noop and report.embedded == 0  # the project's embedding cache was reused
    gen = current_generation(s.index_dir)
    assert f"stiqa-{gen.name}" in _collections(chroma_url)
    assert not (gen / "chroma").exists()  # vectors live on the server, not in the folder
    assert build_index(s).noop

    served = get_assistant(s)  # the same engine the CLI and the web app use
    assert served.searcher.collection.count() == report.chunks
    for item in _questions():
        a = assistant.ask(item["question"])
        b = served.ask(item["question"])
        assert b.text == a.text, item["id"]
        assert b.abstained == a.abstained
        assert [c.source for c in b.citations] == [c.source for c in a.citations]
        assert [h.chunk.id for h in served.searcher.search(item["question"])] == \
               [h.chunk.id for h in assistant.searcher.search(item["question"])], item["id"]


def test_pruned_generation_collection_is_deleted(chroma_url, corpus_copy):
    from stiqa.index.build import build_index

    s = corpus_copy.with_overrides(chroma_url=chroma_url)
    gens = [build_index(s, force=True).generation for _ in range(3)]
    names = _collections(chroma_url)
    # the live generation and the previous one stay (readers may still hold it); older ones go
    assert f"stiqa-{gens[2]}" in names and f"stiqa-{gens[1]}" in names
    assert f"stiqa-{gens[0]}" not in names
    assert sorted(p.name for p in s.index_dir.glob("gen-*")) == sorted(gens[1:])
