"""An evaluation as people read it: the summary printed, the comparison with the baseline, a Markdown
report with a bar chart by type (matplotlib, when installed), and the results file."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any



# --------------------------------------------------------------------------- output

def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def format_summary(summary: dict[str, Any]) -> str:
    s = summary
    mrr = "—" if s["mrr"] is None else f"{s['mrr']:.3f}"
    lines = [
        f"正答率 accuracy          {_pct(s['accuracy'])}  ({s['correct']}/{s['n']})",
        f"出典正解率 citations     {_pct(s['citation_accuracy'])}  (n={s['citation_n']})",
        f"数値の忠実性 faithfulness {_pct(s['faithfulness'])}  (n={s['faithful_n']})",
        f"誤答（回答したうち）     {_pct(s.get('wrong_share'))}  ({s.get('wrong_given', 0)}/{s['faithful_n']})",
        f"棄権 precision / recall  {_pct(s['abstain_precision'])} / {_pct(s['abstain_recall'])}"
        f"  (棄権 {s['abstained_n']})",
        f"検索 hit@1 / hit@5 / MRR {_pct(s['hit@1'])} / {_pct(s['hit@5'])} / {mrr}"
        f"  (n={s['retrieval_n']})",
        f"応答時間 median / p95    {s.get('latency_median_ms', 0):.1f} ms / {s.get('latency_p95_ms', 0):.1f} ms",
        "種類別 by type:",
    ]
    for t, v in s["by_type"].items():
        lines.append(f"  {t:<10} {_pct(v['accuracy']):>7}  ({v['correct']}/{v['n']})")
    return "\n".join(lines)


def plot_by_type(summary: dict[str, Any], path: str | Path) -> Path | None:
    """Bar chart of accuracy by type (English labels); None when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    path = Path(path)
    types = list(summary["by_type"])
    acc = [summary["by_type"][t]["accuracy"] * 100 for t in types]
    fig, ax = plt.subplots(figsize=(9, 4.2), dpi=110)
    bars = ax.bar(types, acc, color=["#3a7d44" if a >= 80 else "#d9a21b" if a >= 50 else "#c0392b"
                                     for a in acc])
    for b, t in zip(bars, types):
        v = summary["by_type"][t]
        ax.text(b.get_x() + b.get_width() / 2, b.get_height() + 1, f"{v['correct']}/{v['n']}",
                ha="center", va="bottom", fontsize=8)
    overall = summary["accuracy"] * 100
    ax.axhline(overall, color="#555", linestyle="--", linewidth=1, label=f"overall {overall:.1f}%")
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    ax.set_ylim(0, 110)
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"stiqa eval: accuracy by question type (n={summary['n']})")
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell or list item."""
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def write_report(items: list[dict[str, Any]], results: list[dict[str, Any]], summary: dict[str, Any],
                 path: str | Path, *, comparison: dict[str, Any] | None = None) -> Path:
    """``report.md`` (summary, chart, comparison, failures) and the chart PNG next to it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    png = plot_by_type(summary, path.with_name(path.stem + "_by_type.png"))
    s = summary
    out = ["# stiqa 評価レポート", "",
           f"質問 {s['n']} 問（{time.strftime('%Y-%m-%d %H:%M')}）", "",
           "| 指標 | 値 |", "|---|---|",
           f"| 正答率 (accuracy) | {_pct(s['accuracy'])} ({s['correct']}/{s['n']}) |",
           f"| 出典正解率 (citation accuracy) | {_pct(s['citation_accuracy'])} (n={s['citation_n']}) |",
           f"| 誤答の割合（回答したうち） (wrong answers given) | {_pct(s.get('wrong_share'))} ({s.get('wrong_given', 0)}/{s['faithful_n']}) |",
           f"| 数値の忠実性 (number faithfulness) | {_pct(s['faithfulness'])} (n={s['faithful_n']}) |",
           f"| 棄権の適合率 (abstention precision) | {_pct(s['abstain_precision'])} (棄権 {s['abstained_n']}) |",
           f"| 棄権の再現率 (abstention recall) | {_pct(s['abstain_recall'])} |",
           f"| 検索 hit@1 | {_pct(s['hit@1'])} (n={s['retrieval_n']}) |",
           f"| 検索 hit@5 | {_pct(s['hit@5'])} |",
           f"| 検索 MRR | {'—' if s['mrr'] is None else format(s['mrr'], '.3f')} |",
           f"| 応答時間 median / p95 | {s.get('latency_median_ms', 0):.1f} ms / {s.get('latency_p95_ms', 0):.1f} ms |",
           "", "## 種類別 (by type)", "", "| type | 正答率 | 正答/問 |", "|---|---|---|"]
    for t, v in s["by_type"].items():
        out.append(f"| {t} | {_pct(v['accuracy'])} | {v['correct']}/{v['n']} |")
    if png:
        out += ["", f"![accuracy by type]({png.name})"]
    if comparison is not None:
        out += ["", "## ベースラインとの比較", "", *_comparison_lines(comparison, items, results, markdown=True)]
    # wrong answers that were given come first: a wrong figure is worse than an abstention
    fails = sorted(((i, r) for i, r in zip(items, results) if not r["eval"]["correct"]),
                   key=lambda ir: bool(ir[1].get("abstained")))
    given = sum(1 for _, r in fails if not r.get("abstained"))
    out += ["", f"## 不正解 ({len(fails)}: 誤った回答 {given}, 誤った棄権・答えるべき棄権 {len(fails) - given})", ""]
    for item, r in fails:
        kind = "棄権" if r.get("abstained") else "誤答"
        out.append(f"### `{item['id']}` ({item.get('type', '')}, {kind})")
        out.append("")
        if item.get("history"):
            out.append("- 会話履歴: " + " → ".join(f"「{_md(h)}」" for h in item["history"]))
        out.append(f"- 質問: 「{_md(item['question'])}」")
        if r.get("interpretation"):
            out.append(f"- {_md(r['interpretation'])}")
        flag = "（棄権）" if r.get("abstained") else ""
        out.append(f"- 回答{flag}: {_md(r['answer'])[:400]}")
        if item.get("abstain"):
            out.append("- 期待: 棄権（コーパスに答えがない）")
        else:
            groups = " かつ ".join("／".join(g) for g in item.get("expect", []))
            yen = f"（yen={item['yen']:,}）" if item.get("yen") else ""
            out.append(f"- 期待: {_md(groups)}{yen}　出典: `{item.get('source', '')}`")
        cits = ", ".join(f"{c['source']} L{c['line_start']}-{c['line_end']}" for c in r.get("citations", []))
        out.append(f"- 引用: {cits or 'なし'}")
        ev = r["eval"]
        out.append(f"- 出典 {'—' if ev['citation'] is None else ('○' if ev['citation'] else '×')}"
                   f" / 数値忠実 {'○' if ev['faithful'] else '×'} / 検索順位 {ev['rank'] or '—'}")
        out.append("")
    unf = [(i, r) for i, r in zip(items, results) if not r["eval"]["faithful"]]
    if unf:
        out += [f"## 引用にない数値を含む回答 ({len(unf)})", ""]
        for item, r in unf:
            out.append(f"- `{item['id']}` {_md(r['answer'])[:300]}")
        out.append("")
    path.write_text("\n".join(out).rstrip() + "\n", encoding="utf-8")
    return path


def write_results(results: list[dict[str, Any]], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for r in results:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


def format_comparison(comparison: dict[str, Any], items: list[dict[str, Any]],
                      results: list[dict[str, Any]]) -> str:
    return "\n".join(_comparison_lines(comparison, items, results, markdown=False))


def _comparison_lines(comparison: dict[str, Any], items: list[dict[str, Any]], results: list[dict[str, Any]],
                      *, markdown: bool) -> list[str]:
    """The comparison with the baseline, once: figures that dropped, regressions, fixes; as Markdown
    for the report or as plain lines for the terminal."""
    qs = {i["id"]: i for i in items}
    by_id = {r["id"]: r for r in results}
    md = _md if markdown else (lambda s: s)
    lines = []
    for key, (old, new) in comparison["dropped"].items():
        lines.append(f"- **{key} が下がりました**: {_pct(old)} → {_pct(new)}" if markdown
                     else f"{key} が下がりました: {_pct(old)} → {_pct(new)}")
    tag = ("- ", "（regressions）", "（fixes）") if markdown else ("", "", "")
    lines.append(f"{tag[0]}以前は正解・今回は不正解{tag[1]}: {len(comparison['regressions'])}")
    for qid in comparison["regressions"]:
        lines.append(f"  - `{qid}` {md(qs[qid]['question'])} → {md(by_id[qid]['answer'])[:200]}" if markdown
                     else f"  - {qid}: {qs[qid]['question']} → {by_id[qid]['answer'][:120]}")
    lines.append(f"{tag[0]}以前は不正解・今回は正解{tag[2]}: {len(comparison['fixes'])}")
    for qid in comparison["fixes"]:
        lines.append(f"  - `{qid}` {md(qs[qid]['question'])}" if markdown else f"  + {qid}: {qs[qid]['question']}")
    return lines
