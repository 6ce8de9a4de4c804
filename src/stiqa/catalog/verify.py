"""Every catalog value checked against the lines it cites, at build time: a value found elsewhere in
its file is reported as moved (and used from there), one found nowhere as vanished (and dropped);
the reviewed data file's own values are read here too."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from stiqa.ingest.files import corpus_files, load_document
from stiqa.catalog.records import FIELD_LABELS, Fact, LIST_FIELDS, match_key



# --- reading and verifying ----------------------------------------------------------------------
def _read_corpus(corpus_dir: Path, problems: list[str]) -> dict[str, list[str]]:
    """The same files, decoded the same way, as the index reads (ingest.load_document): a huge,
    binary or unreadable file is skipped here too, with its reason."""
    texts: dict[str, list[str]] = {}
    for path in corpus_files(corpus_dir):
        try:
            texts[path.name] = load_document(path).lines
        except (OSError, ValueError) as exc:
            problems.append(f"読み込み不可: {path.name} を読めないためスキップしました（{exc}）")
    return texts


def _windows(key: str, lkeys: list[str], span: int) -> list[tuple[int, int]]:
    """Minimal line windows (1-based) whose joined text contains ``key``."""
    out = []
    for i in range(len(lkeys)):
        acc = ""
        for j in range(i, min(len(lkeys), i + span + 2)):
            acc += lkeys[j]
            if key in acc:
                if key not in "".join(lkeys[i + 1:j + 1]):
                    out.append((i + 1, j + 1))
                break
    return out


def _verify(items: list[tuple[str, str, Fact]], texts: dict[str, list[str]], names: dict[str, str],
            problems: list[str]) -> list[tuple[str, str, Fact]]:
    """Check each (program, field, fact) at its lines; relocate moved ones, drop vanished ones."""
    lkeys = {src: [match_key(x) for x in lines] for src, lines in texts.items()}
    ok, pending = [], []
    for pid, fld, fact in items:
        keys, key = lkeys.get(fact.source), match_key(fact.value)
        if keys is not None and key in "".join(keys[fact.line_start - 1:fact.line_end]):
            ok.append((pid, fld, fact))
        else:
            cands = _windows(key, keys, fact.line_end - fact.line_start + 1) if keys is not None and key else []
            pending.append((pid, fld, fact, cands))
    shifts: dict[str, Counter] = {}
    for _, _, fact, cands in pending:
        if len(cands) == 1:
            shifts.setdefault(fact.source, Counter())[cands[0][0] - fact.line_start] += 1
    for pid, fld, fact, cands in pending:
        short = fact.value if len(fact.value) <= 30 else fact.value[:30] + "…"
        where = f"{fact.source} の「{short}」（{names.get(pid, pid)}・{FIELD_LABELS.get(fld, fld)}）"
        if not cands:
            why = "ファイルが読めない" if fact.source not in lkeys else \
                f"{fact.line_start}–{fact.line_end} 行にもファイル内にも見つからない"
            problems.append(f"消失: {where} が{why}ため除外しました")
            continue
        shift = shifts[fact.source].most_common(1)[0][0] if fact.source in shifts else 0
        new = min(cands, key=lambda c: abs(c[0] - fact.line_start - shift))
        problems.append(f"移動: {where} は {fact.line_start}–{fact.line_end} 行から {new[0]}–{new[1]} 行に移っていました（新しい位置を使用）")
        ok.append((pid, fld, Fact(fact.value, fact.source, new[0], new[1], fact.tags, fact.origin)))
    return ok


# --- data file ------------------------------------------------------------------------------------
def _load_data(path: Path) -> tuple[list[dict[str, Any]], list[tuple[str, str, Fact]]]:
    """Program seeds and their cited facts from the reviewed data file (optional curated additions:
    without it the catalog holds what the corpus headings and name patterns give)."""
    if not path.is_file():
        return [], []
    raw = json.loads(path.read_text(encoding="utf-8"))
    files: dict[str, str] = raw["files"]

    def fact(e: list[Any]) -> Fact:
        end = e[3] if len(e) > 3 else e[2]
        return Fact(e[0], files.get(e[1], e[1]), e[2], end, tuple(e[4]) if len(e) > 4 else (), "data")

    seeds: list[dict[str, Any]] = []
    facts: list[tuple[str, str, Fact]] = []
    for p in raw["programs"]:
        seeds.append({"id": p["id"], "kind": p.get("kind", "program"), "parent": p.get("parent", "")})
        facts.append((p["id"], "name", fact(p["name"])))
        for fld in (*LIST_FIELDS, "anchors"):
            facts += [(p["id"], "anchor" if fld == "anchors" else fld, fact(e)) for e in p.get(fld, [])]
    return seeds, facts
