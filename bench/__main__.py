"""`python -m bench` (`make bench`): speed, size and retrieval quality, measured in one run, written for the README.

Two runs share one results file (``bench/results.json``; each run replaces its own section) and
one Markdown table + plot generated from it:

- ``python -m bench``: the policy corpus. Full build into a fresh temp index (no embedding cache),
  no-op re-index, size, peak memory; warm latency of retrieval (``Searcher.search``) and of a
  whole answer (``Assistant.ask``), cold start of ``python -m stiqa.cli ask``; the per-stage
  split; the evaluation suite's figures; and the LlamaIndex-defaults baseline on the same questions.
- ``python -m bench --jsquad FILE [--sample N --seed S]``: a SQuAD-format file (JSQuAD) indexed one
  paragraph per chunk under ``bench/jsquad-index/`` (embeddings cached); recall@k / MRR of the
  pipeline and of each fusion method (``jsquad.retrieval_study``), answers holding a gold string,
  the timings, and growth at 1x/2x/4x the paragraphs (each scale in its own process for memory).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from stiqa.config import Settings, load_settings
from bench.measure import JSQUAD_FILES, ROOT_BENCH
from bench.jsquad_runs import run_engines, run_jsquad
from bench.policy import run_policy
from bench.report import write_results


def run_cli(settings: Settings, args: Any) -> int:
    out_dir = Path(args.out) if getattr(args, "out", None) else ROOT_BENCH
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    if getattr(args, "engines", False):
        path = args.jsquad or next((str(p) for p in JSQUAD_FILES if p.is_file()), None)
        if path is None:
            raise RuntimeError("--engines には JSQuAD のファイルが要ります（--jsquad FILE）")
        data = run_engines(settings, path, sample=args.sample or 1000, seed=args.seed or 0, log=log)
        paths = write_results("engines", data, out_dir)
    elif getattr(args, "jsquad", None):
        data = run_jsquad(settings, args.jsquad, sample=args.sample, seed=args.seed or 0, log=log)
        paths = write_results("jsquad", data, out_dir)
    else:
        data = run_policy(settings, log=log)
        paths = write_results("policy", data, out_dir)
    print(paths["md"].read_text(encoding="utf-8"))
    print("書き出し: " + ", ".join(str(p) for p in paths.values()))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description="速度と検索精度のベンチマーク（開発用）")
    p.add_argument("--jsquad", default=None, help="SQuAD 形式のファイル（JSQuAD）")
    p.add_argument("--engines", action="store_true",
                   help="e5 の C エンジンと torch を同じ実行で比べる（JSQuAD と政策コーパス）")
    p.add_argument("--sample", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="結果の書き出し先（既定: bench/）")
    args = p.parse_args(argv)
    return run_cli(load_settings(), args)


if __name__ == "__main__":
    sys.exit(main())
