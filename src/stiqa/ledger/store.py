"""The ledger on disk: ``figures.json`` inside each index generation, written with the build.

Why beside the index, per generation: the ledger is then always the ledger of the index that
answers (an atomic switch of CURRENT switches both), and the previous generation's ledger is what
a new build is compared with to say what a new document changes.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..models import Chunk
from .records import Record

log = logging.getLogger(__name__)

FILE = "figures.json"
CHANGES = "figure_changes.json"
VERSION = 1


class LedgerMissing(RuntimeError):
    """No index yet, or an index built before the ledger existed."""


@dataclass
class Ledger:
    """Every record of one generation, and each subject's other names (for --subject SICORP)."""

    records: list[Record]
    aliases: dict[str, list[str]] = field(default_factory=dict)
    generation: str = ""
    seconds: float = 0.0

    def subjects(self) -> list[str]:
        return sorted({r.subject for r in self.records})

    def years(self) -> list[int]:
        return sorted({r.year for r in self.records if r.year is not None})


def generation_dir(index_dir: Path) -> Path | None:
    """The live generation (read from CURRENT here, so reading the ledger imports no index code)."""
    try:
        name = (Path(index_dir) / "CURRENT").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    gen = Path(index_dir) / name
    return gen if name.startswith("gen-") and gen.is_dir() else None


def ledger_json(ledger: Ledger) -> dict[str, Any]:
    return {"version": VERSION, "generation": ledger.generation, "seconds": round(ledger.seconds, 4),
            "aliases": ledger.aliases, "records": [r.to_json() for r in ledger.records]}


def load(path: Path) -> Ledger:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise LedgerMissing(f"数値一覧がありません（{path.parent.name}）。`stiqa ingest --rebuild` で作り直してください。") from exc
    except (OSError, ValueError) as exc:
        raise LedgerMissing(f"数値一覧が読めません（{path}）: {exc}。`stiqa ingest --rebuild` で作り直してください。") from exc
    return Ledger([Record.from_json(r) for r in data.get("records", [])], data.get("aliases", {}),
                  data.get("generation", ""), float(data.get("seconds", 0.0)))


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
    from .build import build_ledger, subjects_for
    from .changes import compare, previous_files

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
