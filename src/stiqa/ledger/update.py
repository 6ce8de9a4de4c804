"""The ledger made with each index build (and, for an index built before the ledger existed, from its
chunks on first read), with what the added or changed files change against the previous generation."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from stiqa.records import Chunk
from stiqa.ledger.build import build_ledger, subjects_for
from stiqa.ledger.changes import compare, previous_files
from stiqa.ledger.store import CHANGES, FILE, Ledger, LedgerMissing, generation_dir, ledger_json, load

log = logging.getLogger(__name__)


def read_ledger(index_dir: Path, *, corpus_dir: Path | None = None) -> Ledger:
    """The ledger of the live index generation; a generation built before the ledger existed gets
    one from its own chunks (once, written beside them), so upgrading needs no rebuild."""
    gen = generation_dir(index_dir)
    if gen is None:
        raise LedgerMissing(f"索引がありません（{index_dir}）。先に `stiqa ingest` を実行してください。")
    if not (gen / FILE).is_file() and (gen / "chunks.jsonl").is_file():
        try:
            chunks = [Chunk.from_meta(json.loads(line)) for line in
                      (gen / "chunks.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
            return write_for_build(gen, chunks, corpus_dir=corpus_dir)
        except (OSError, ValueError, KeyError) as exc:
            raise LedgerMissing(f"数値一覧を作れません（{gen.name}）: {exc}。`stiqa ingest --rebuild` で作り直してください。") from exc
    return load(gen / FILE)


def write_for_build(gen: Path, chunks: list[Chunk], *, corpus_dir: Path | None = None,
                    previous: Path | None = None, files: dict[str, str] | None = None) -> Ledger:
    """Build the ledger of ``chunks`` into the generation folder ``gen`` being written, and, when
    a previous generation has a ledger, what the added or changed files change (``CHANGES``)."""
    t0 = time.perf_counter()
    subjects = subjects_for(corpus_dir, chunks)
    records = build_ledger(chunks, subjects=subjects)
    aliases = {s: names for s in sorted({r.subject for r in records})
               if len(names := subjects.aliases(s)) > 1 or names[0] != s}
    ledger = Ledger(records, aliases, gen.name.removeprefix("tmp-"), 0.0)
    report = None
    if previous is not None and (previous / FILE).is_file():
        try:
            old = load(previous / FILE)
        except LedgerMissing:
            old = None
        if old is not None:
            before = previous_files(previous)
            changed = sorted(n for n, h in (files or {}).items() if before.get(n) != h)
            removed = sorted(set(before) - set(files or {}))
            report = compare(old, ledger, changed=changed, removed=removed)
    ledger.seconds = time.perf_counter() - t0
    (gen / FILE).write_text(json.dumps(ledger_json(ledger), ensure_ascii=False), encoding="utf-8")
    if report is not None:
        (gen / CHANGES).write_text(json.dumps(report.to_json(), ensure_ascii=False, indent=1), encoding="utf-8")
    return ledger


def build_beside(gen: Path, chunks: list[Chunk], *, corpus_dir: Path | None = None,
                 previous: Path | None = None, files: dict[str, str] | None = None) -> Ledger | None:
    """``write_for_build`` for the index build: a ledger that cannot be built is reported and left
    out (`stiqa figures` then says so), never a reason to fail the index build."""
    try:
        return write_for_build(gen, chunks, corpus_dir=corpus_dir, previous=previous, files=files)
    except Exception as exc:  # noqa: BLE001 - the index must still be built
        log.warning("数値一覧を作れませんでした: %s", exc)
        return None
