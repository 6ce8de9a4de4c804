"""`stiqa figures [--subject S] [--year Y] [--kind K] [--csv|--json]`: the stored ledger, filtered.

Reads ``figures.json`` of the live index generation and nothing else, so it answers in tens of
milliseconds: no torch, Chroma, Sudachi or answer model is imported. ``fast_path`` lets the CLI
run it before building its full parser (which imports the answer stage).
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

COLUMNS = ("subject", "kind", "year", "budget_kind", "value", "unit", "as_written", "label", "source",
           "line_start", "line_end", "citations")


def add_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("--subject", default=None, help="主題（事業名・略称。例: SICORP）")
    s.add_argument("--year", default=None, help="年度（2023, 令和5年度, R5）")
    s.add_argument("--kind", default=None, help="種類: money, count, percent, period, rank")
    out = s.add_mutually_exclusive_group()
    out.add_argument("--csv", action="store_true", help="CSV で出力")
    out.add_argument("--json", action="store_true", help="JSON（レコードのリスト）で出力")


def add_parser(sub: Any, func: Any = None) -> None:
    s = sub.add_parser("figures", help="資料の数値一覧（出典つき）を主題・年度・種類で絞り込む")
    add_arguments(s)
    s.set_defaults(func=func or (lambda args: run(args)))


def csv_text(records: list[Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(COLUMNS)
    for r in records:
        c = r.first
        w.writerow([r.subject, r.kind, r.year if r.year is not None else "", r.budget_kind,
                    "" if r.value is None else (int(r.value) if float(r.value).is_integer() else r.value),
                    r.unit, r.as_written, r.label, c.source, c.line_start, c.line_end,
                    "; ".join(x.short() for x in r.citations)])
    return buf.getvalue()


def table_text(records: list[Any]) -> str:
    from stiqa.ledger.records import era

    lines = []
    for r in records:
        what = " ".join(p for p in (era(r.year), r.budget_kind, r.label) if p)
        cites = "; ".join(c.short() for c in r.citations)
        lines.append(f"{r.subject}\t{r.kind}\t{what}\t{r.as_written}\t〔{cites}〕")
    lines.append(f"（{len(records)} 件）")
    return "\n".join(lines)


def _dirs(args: argparse.Namespace) -> tuple[Path, Path | None]:
    """(index folder, corpus folder) from the flags, the environment or the defaults."""
    if getattr(args, "index", None):
        corpus = getattr(args, "corpus", None) or os.environ.get("STIQA_CORPUS_DIR")
        return Path(args.index), Path(corpus) if corpus else None
    from stiqa.config import load_settings

    s = load_settings(corpus_dir=getattr(args, "corpus", None))
    return s.index_dir, s.corpus_dir


def run(args: argparse.Namespace) -> int:
    """Print the filtered ledger; a bad filter or a missing ledger is one line on stderr, exit 2."""
    from stiqa.ledger.query import FilterError, select
    from stiqa.ledger.store import LedgerMissing
    from stiqa.ledger.update import read_ledger

    try:
        index_dir, corpus_dir = _dirs(args)
        ledger = read_ledger(index_dir, corpus_dir=corpus_dir)
        records = select(ledger, subject=args.subject, year=args.year, kind=args.kind)
    except (FilterError, LedgerMissing) as exc:
        print(f"stiqa: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([r.to_json() for r in records], ensure_ascii=False))
    elif args.csv:
        sys.stdout.write(csv_text(records))
    else:
        print(table_text(records))
    return 0


def fast_path(argv: list[str] | None) -> int | None:
    """Run `stiqa figures ...` without the full CLI parser; None when the command is another."""
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="stiqa", add_help=False)
    for flag in ("--corpus", "--index", "--embed", "--chroma-url"):
        p.add_argument(flag)
    try:
        known, rest = p.parse_known_args(argv)
    except SystemExit:
        return None
    if not rest or rest[0] != "figures" or "-h" in rest or "--help" in rest:
        return None
    s = argparse.ArgumentParser(prog="stiqa figures")
    add_arguments(s)
    try:
        args = s.parse_args(rest[1:])
    except SystemExit as exc:
        return int(exc.code or 0)
    args.index = known.index or os.environ.get("STIQA_INDEX_DIR") or None
    args.corpus = known.corpus
    try:
        return run(args)
    except BrokenPipeError:
        return 0
