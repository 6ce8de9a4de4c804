"""Evaluation: answer the question set, score it, report it, compare it with the committed baseline.

``stiqa eval [--questions FILE] [--out RESULTS.jsonl] [--compare BASELINE] [--report PATH]``
answers every question of ``eval/questions.jsonl`` (each in a fresh conversation, with its
``history`` replayed as earlier turns), writes one result a line (the ``ask --json`` object plus
``"id"`` and an ``"eval"`` object with the verdicts), prints a summary and writes a Markdown report
(``eval/report.md``) with a bar chart by type (``eval/report_by_type.png``, needs matplotlib).
With ``--compare eval/baseline.json`` it names the questions that were right in the baseline and
are wrong now (regressions, exit status 1) and the other way round (fixes).

Figures (all shares in 0..1):
- ``accuracy``: :func:`stiqa.evaluate.scoring.is_correct`, overall and per ``type``;
- ``citation_accuracy``: :func:`stiqa.evaluate.scoring.citation_correct` over questions that have a source;
- ``faithfulness``: share of non-abstaining answers whose every number stands in a cited chunk
  (:func:`stiqa.evaluate.scoring.faithful`);
- ``abstain_precision`` / ``abstain_recall``: abstentions that were right / abstain questions that
  got one;
- ``hit@1``, ``hit@5``, ``mrr``: rank of the first retrieved chunk holding every expected string
  (:func:`stiqa.evaluate.scoring.retrieval_rank`), over non-abstain questions;
- ``latency_median_ms`` / ``latency_p95_ms``: wall time of the asked question (history excluded).

The baseline (``eval/baseline.json``: ``{"summary": {...}, "correct_ids": [...]}``) is what the
gate ``tests/evaluate/test_eval_gate.py`` holds the answerer to. Maintainers regenerate it deliberately,
after a change to the answerer that they accept::

    PYTHONPATH=src python -m stiqa.evaluate.run --save-baseline [--questions FILE] [--baseline PATH]

(which also writes the results and the report of that same run). Without ``--save-baseline``,
``python -m stiqa.evaluate.run`` behaves like ``stiqa eval``.

The pure computation is :func:`evaluate` (used in-process by the gate and the benchmark).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

from stiqa.config import PROJECT_ROOT, Settings
from stiqa.evaluate.corpus import prepare, set_corpus
from stiqa.evaluate.scoring import citation_correct, faithful, is_correct, retrieval_rank
from stiqa.evaluate.report import format_comparison, format_summary, write_report, write_results


def _project_dir() -> Path:
    """The checkout when run from one (where eval/ lives), else the working directory."""
    return PROJECT_ROOT if (PROJECT_ROOT / "pyproject.toml").exists() else Path.cwd()


DEFAULT_QUESTIONS = _project_dir() / "eval" / "questions.jsonl"
DEFAULT_OUT = _project_dir() / "eval" / "results.jsonl"
DEFAULT_REPORT = _project_dir() / "eval" / "report.md"
DEFAULT_BASELINE = _project_dir() / "eval" / "baseline.json"

#: figures a baseline is compared on (higher is better)
GATED = ("accuracy", "citation_accuracy")


# --------------------------------------------------------------------------- loading

def load_questions(path: str | Path) -> list[dict[str, Any]]:
    """The question set, one JSON object a line (blank lines skipped); clear errors on bad lines."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"評価用の質問ファイルがありません: {path}")
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{n}: JSON として読めません: {exc}") from exc
        if not isinstance(item, dict) or "id" not in item or "question" not in item:
            raise ValueError(f"{path}:{n}: id と question が必要です")
        items.append(item)
    ids = Counter(i["id"] for i in items)
    dup = [k for k, c in ids.items() if c > 1]
    if dup:
        raise ValueError(f"{path}: id が重複しています: {', '.join(dup)}")
    return items


def load_baseline(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ベースラインがありません: {path}")
    data = json.loads(path.read_text(encoding="utf-8"))
    if "summary" not in data or "correct_ids" not in data:
        raise ValueError(f"{path}: summary と correct_ids が必要です")
    return data


# --------------------------------------------------------------------------- computation

def _percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(-(-q * len(s) // 100)) - 1))
    return s[k]


def _share(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def judge(item: dict[str, Any], result: dict[str, Any], retrieved_texts: list[str]) -> dict[str, Any]:
    """The verdicts for one answered question (stored under ``"eval"`` in a result)."""
    rank = None
    if not item.get("abstain"):
        rank = retrieval_rank(item, retrieved_texts)
    return {
        "type": item.get("type", ""),
        "correct": is_correct(item, result),
        "citation": citation_correct(item, result),
        "faithful": faithful(result),
        "rank": rank,
    }


def summarize(items: list[dict[str, Any]], results: list[dict[str, Any]]) -> dict[str, Any]:
    """The summary figures from judged results (each carrying ``"eval"``)."""
    n = len(results)
    verdicts = [r["eval"] for r in results]
    correct = sum(v["correct"] for v in verdicts)
    by_type: dict[str, dict[str, Any]] = {}
    for v in verdicts:
        t = by_type.setdefault(v["type"] or "?", {"n": 0, "correct": 0})
        t["n"] += 1
        t["correct"] += int(v["correct"])
    for t in by_type.values():
        t["accuracy"] = _share(t["correct"], t["n"])
    cites = [v["citation"] for v in verdicts if v["citation"] is not None]
    answered = [(r, v) for r, v in zip(results, verdicts) if not r.get("abstained")]
    faithful_n = sum(v["faithful"] for _, v in answered)
    abstained = [(i, r) for i, r in zip(items, results) if r.get("abstained")]
    should = [(i, r) for i, r in zip(items, results) if i.get("abstain")]
    ranks = [v["rank"] for i, v in zip(items, verdicts) if not i.get("abstain") and i.get("expect")]
    # an answer given (not abstained) that is wrong: for a ministry worse than no answer
    wrong = [r for r, v in answered if not v["correct"]]
    lat = [float(r.get("_wall_ms", r.get("latency_ms", 0.0))) for r in results]
    return {
        "n": n,
        "correct": correct,
        "accuracy": _share(correct, n),
        "by_type": dict(sorted(by_type.items())),
        "citation_accuracy": _share(sum(cites), len(cites)),
        "citation_n": len(cites),
        "faithfulness": _share(faithful_n, len(answered)),
        "faithful_n": len(answered),
        "abstain_precision": _share(sum(bool(i.get("abstain")) for i, _ in abstained), len(abstained)),
        "abstain_recall": _share(sum(bool(r.get("abstained")) for _, r in should), len(should)),
        "abstained_n": len(abstained),
        "wrong_given": len(wrong),
        "wrong_share": _share(len(wrong), len(answered)),
        "hit@1": _share(sum(1 for k in ranks if k == 1), len(ranks)),
        "hit@5": _share(sum(1 for k in ranks if k is not None and k <= 5), len(ranks)),
        "mrr": round(sum(1 / k for k in ranks if k) / len(ranks), 4) if ranks else None,
        "retrieval_n": len(ranks),
        "latency_median_ms": round(statistics.median(lat), 1) if lat else 0.0,
        "latency_p95_ms": round(_percentile(lat, 95), 1),
    }


def evaluate(assistant: Any, items: Iterable[dict[str, Any]], *, progress: bool = True
             ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Answer every item in a fresh conversation; the results (one dict each) and the summary.

    Each result is ``ans.to_json()`` plus ``"id"`` and ``"eval"`` (the verdicts of :func:`judge`).
    """
    items = list(items)
    texts = {c.id: c.text for c in assistant.searcher.chunks}
    results = []
    bar = items
    if progress:
        from tqdm import tqdm

        bar = tqdm(items, desc="評価", unit="問", file=sys.stderr)
    for item in bar:
        conv = assistant.chat()
        conv.replay(item.get("history") or [])
        t0 = time.perf_counter()
        ans = conv.ask(item["question"])
        wall = (time.perf_counter() - t0) * 1000
        res = {"id": item["id"], **ans.to_json()}
        retrieved = [texts[cid] for cid in ans.retrieved if cid in texts]
        res["eval"] = judge(item, res, retrieved)
        res["_wall_ms"] = wall
        results.append(res)
    summary = summarize(items, results)
    for r in results:
        r.pop("_wall_ms", None)
    return results, summary


# --------------------------------------------------------------------------- baseline

def correct_ids(results: list[dict[str, Any]]) -> list[str]:
    return sorted(r["id"] for r in results if r["eval"]["correct"])


def save_baseline(results: list[dict[str, Any]], summary: dict[str, Any], path: str | Path) -> Path:
    """Write ``{"summary", "correct_ids"}`` (latencies dropped: they vary by machine)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    keep = {k: v for k, v in summary.items() if not k.startswith("latency")}
    data = {"summary": keep, "correct_ids": correct_ids(results)}
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def compare(results: list[dict[str, Any]], summary: dict[str, Any], baseline: dict[str, Any]
            ) -> dict[str, Any]:
    """Regressions (right in the baseline, wrong now), fixes (the other way), figures that fell."""
    now = set(correct_ids(results))
    known = {r["id"] for r in results}
    before = set(baseline.get("correct_ids", []))
    regressions = sorted((before - now) & known)
    fixes = sorted(now - before)
    dropped = {}
    for key in GATED:
        old, new = baseline.get("summary", {}).get(key), summary.get(key)
        if old is not None and new is not None and new < old - 1e-9:
            dropped[key] = (old, new)
    return {"regressions": regressions, "fixes": fixes, "dropped": dropped}


# --------------------------------------------------------------------------- faces

def _assistant(settings: Settings) -> Any:
    from stiqa.engine import get_assistant
    from stiqa.index.build import current_generation

    if current_generation(settings.index_dir) is None:
        raise RuntimeError(f"索引がありません（{settings.index_dir}）。先に `stiqa ingest` を実行してください。")
    return get_assistant(settings)


def run_cli(settings: Settings, args: argparse.Namespace) -> int:
    """``stiqa eval``: 0 when done, 1 when ``--compare`` finds regressions or lower figures."""
    questions = Path(getattr(args, "questions", None) or DEFAULT_QUESTIONS)
    items = load_questions(questions)
    settings = prepare(settings, set_corpus(questions, getattr(args, "set_corpus", None)))
    assistant = _assistant(settings)
    results, summary = evaluate(assistant, items, progress=True)
    out = write_results(results, getattr(args, "out", None) or DEFAULT_OUT)
    print(format_summary(summary))
    comparison = None
    if getattr(args, "compare", None):
        comparison = compare(results, summary, load_baseline(args.compare))
        print(format_comparison(comparison, items, results))
    report = write_report(items, results, summary, getattr(args, "report", None) or DEFAULT_REPORT,
                          comparison=comparison)
    print(f"結果: {out}\nレポート: {report}")
    if getattr(args, "save_baseline", False):
        print(f"ベースラインを保存しました: {save_baseline(results, summary, args.baseline)}")
        return 0
    if comparison and (comparison["regressions"] or comparison["dropped"]):
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m stiqa.evaluate.run",
                                description="評価を実行し、--save-baseline でベースラインを書き直す")
    p.add_argument("--save-baseline", action="store_true",
                   help="現在の結果を eval/baseline.json に保存する（回答器の変更を受け入れるとき）")
    p.add_argument("--baseline", default=str(DEFAULT_BASELINE), help="比べる・書き直すベースラインの JSON（既定: %(default)s）")
    p.add_argument("--questions", default=None, help="質問の JSONL（既定: eval/questions.jsonl）")
    p.add_argument("--out", default=None, help="結果を1行1問で書く JSONL（既定: eval/results.jsonl）")
    p.add_argument("--report", default=None, help="人が読むレポートの Markdown（既定: eval/report.md）")
    p.add_argument("--compare", default=None, help="このベースラインと比べ、下がった問いを示す（下がれば終了コード 1）")
    p.add_argument("--corpus", default=None, help="the set's own documents (default: corpus/ beside the questions)")
    args = p.parse_args(argv)
    args.set_corpus = args.corpus
    from stiqa.config import load_settings

    return run_cli(load_settings(), args)


if __name__ == "__main__":
    sys.exit(main())
