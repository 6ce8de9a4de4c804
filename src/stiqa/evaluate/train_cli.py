"""`stiqa train`: collect the labelled options, fit the model, print its leave-one-document-out figure.

    stiqa train                 collect (≈1 min), fit, write src/stiqa/answer/ranker.json
    stiqa train --cv [--json]   also print LODO per set and type beside the unfitted readers
    stiqa train --data F        fit on an options file already collected (no collection)
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    s = sub.add_parser("train", help="回答選択モデルを学習し直す（文書単位の交差検証つき）")
    s.add_argument("--cv", action="store_true", help="文書ごとに除いて学習・評価した精度（LODO）を表示")
    s.add_argument("--json", action="store_true", help="結果を JSON 一つで出力（\"lodo\" に n, accuracy, wrong_share, by_type）")
    s.add_argument("--data", default=None, help="収集済みの選択肢ファイル（既定: 収集し直して eval/train/ に保存）")
    s.add_argument("--out", default=None, help="モデルの書き出し先（既定: src/stiqa/answer/ranker.json）")
    s.add_argument("--sets", default=None, help="使う評価セット名をカンマ区切りで（既定: すべて）")
    s.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from stiqa.config import PROJECT_ROOT, load_settings
    from stiqa.evaluate.dataset import DATA, SETS, collect, load_data, save_data
    from stiqa.answer.model import DEFAULT_PATH, save
    from stiqa.evaluate.train import code_version, in_sample, train, unfitted

    root = PROJECT_ROOT
    if args.data:
        questions, version = load_data(Path(args.data))
    else:
        names = set(args.sets.split(",")) if args.sets else None
        sets = {n: root / p for n, p in SETS if names is None or n in names}
        missing = [str(p) for p in sets.values() if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"評価セットがありません: {', '.join(missing)}")
        print(f"選択肢を収集中: {', '.join(sets)}", file=sys.stderr)
        questions = collect(sets, load_settings(), progress=not args.json)
        save_data(questions, root / DATA)
        # fitted on the file as saved (rounded), so `stiqa train --data` refits the same model
        questions, version = load_data(root / DATA)
    ranker, cv = train(questions, version, code_version())
    out = save(ranker, Path(args.out) if args.out else DEFAULT_PATH)
    report = {"model": str(out), "data": version, "questions": len(questions),
              "threshold": ranker.threshold, "lodo": cv, "in_sample": in_sample(questions, ranker),
              "unfitted": {"readers": unfitted(questions, "readers"), "lexical": unfitted(questions, "lexical")}}
    if args.json:
        print(json.dumps(report if args.cv else {k: v for k, v in report.items() if k != "lodo"} | {"lodo": cv},
                         ensure_ascii=False))
        return 0
    print(f"モデルを書き出しました: {out}（{len(questions)} 問、データ {version}、しきい値 {ranker.threshold:.3f}）")
    if args.cv:
        print(format_table(report))
    return 0


def format_table(report: dict[str, Any]) -> str:
    """The comparison the issue asks for: unfitted readers, lexical overlap, the model (LODO and
    in-sample), overall and per type."""
    cols = [("readers (no model)", report["unfitted"]["readers"]), ("lexical (no fit)", report["unfitted"]["lexical"]),
            ("model LODO", report["lodo"]), ("model in-sample", report["in_sample"])]
    lines = ["| | " + " | ".join(c for c, _ in cols) + " |", "|---|" + "---|" * len(cols)]

    def cell(s: dict[str, Any]) -> str:
        return f"{s['accuracy']:.3f} (wrong {s['wrong_share']:.1%})" if s.get("n") else "-"

    lines.append("| all | " + " | ".join(cell(s) for _, s in cols) + " |")
    for name in sorted(report["lodo"].get("by_set", {})):
        lines.append(f"| set {name} | " + " | ".join(cell(s.get("by_set", {}).get(name, {})) for _, s in cols) + " |")
    for t in sorted(report["lodo"]["by_type"]):
        lines.append(f"| type {t} | " + " | ".join(cell(s.get("by_type", {}).get(t, {})) for _, s in cols) + " |")
    return "\n".join(lines)
