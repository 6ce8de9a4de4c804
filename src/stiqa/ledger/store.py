"""The ledger on disk: ``figures.json`` inside each index generation, written with the build.

Why beside the index, per generation: the ledger is then always the ledger of the index that
answers (an atomic switch of CURRENT switches both), and the previous generation's ledger is what
a new build is compared with to say what a new document changes.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stiqa.ledger.records import Record


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


