"""What a new or changed document changes among the figures the corpus already stated.

For the files a build added or changed: the figures whose (subject, kind, year, budget kind)
already stood with another value (old -> new, both cited), the subjects no earlier document had,
and the figures of changed or removed files that no longer appear. A maintainer reads this before
running the evaluation, so a question whose expected figure changed is re-checked, not just failed.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stiqa.ledger.records import Record, era


@dataclass(frozen=True)
class Change:
    """One fact stated with another value than before."""

    old: Record
    new: Record

    def to_json(self) -> dict[str, Any]:
        return {"old": self.old.to_json(), "new": self.new.to_json()}


@dataclass
class ChangeReport:
    changed_files: list[str]
    removed_files: list[str] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    new_subjects: list[str] = field(default_factory=list)
    gone: list[Record] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.changed or self.new_subjects or self.gone)

    def to_json(self) -> dict[str, Any]:
        return {"changed_files": self.changed_files, "removed_files": self.removed_files,
                "changed": [c.to_json() for c in self.changed], "new_subjects": self.new_subjects,
                "gone": [r.to_json() for r in self.gone]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "ChangeReport":
        return cls(list(d.get("changed_files", [])), list(d.get("removed_files", [])),
                   [Change(Record.from_json(c["old"]), Record.from_json(c["new"])) for c in d.get("changed", [])],
                   list(d.get("new_subjects", [])), [Record.from_json(r) for r in d.get("gone", [])])


def previous_files(gen: Path) -> dict[str, str]:
    """The corpus files (name -> sha256) a generation was built from."""
    try:
        return dict(json.loads((gen / "manifest.json").read_text(encoding="utf-8")).get("files", {}))
    except (OSError, ValueError):
        return {}


def _in(r: Record, files: set[str]) -> bool:
    return any(c.source in files for c in r.citations)


def compare(old: Any, new: Any, *, changed: list[str], removed: list[str] = ()) -> ChangeReport:
    """The change report of ``new`` (a Ledger) against ``old`` for the ``changed`` files."""
    files = set(changed)
    report = ChangeReport(sorted(changed), sorted(removed))
    before: dict[tuple, list[Record]] = {}
    for r in old.records:
        before.setdefault(r.same_fact(), []).append(r)
    now_values = {(r.key(), r.value, r.upper) for r in new.records}
    seen: set[tuple] = set()
    changed_facts: set[tuple] = set()
    for r in new.records:
        if not _in(r, files):
            continue
        for o in before.get(r.same_fact(), []):
            if (o.value, o.upper) == (r.value, r.upper) or o.value is None or r.value is None:
                continue
            if o.unit != r.unit:
                continue
            key = (r.same_fact(), o.value, r.value)
            if key in seen:
                continue
            seen.add(key)
            changed_facts.add(r.same_fact())
            report.changed.append(Change(o, r))
    old_subjects = {r.subject for r in old.records}
    report.new_subjects = sorted({r.subject for r in new.records if _in(r, files)} - old_subjects)
    gone_files = files | set(removed)
    report.gone = [o for o in old.records if _in(o, gone_files) and (o.key(), o.value, o.upper) not in now_values
                   and o.same_fact() not in changed_facts]
    return report


def describe(r: Record) -> str:
    """「戦略的国際共同研究プログラム 令和5年度 予算」: what a figure is, in one phrase."""
    parts = [r.subject, era(r.year), r.budget_kind or r.label]
    return " ".join(p for p in parts if p)


def report_text(report: ChangeReport, *, limit: int = 30) -> str:
    """The report as lines for `stiqa ingest` and the documents tab ('' when nothing changed)."""
    if report.empty:
        return "  数値の変化: 追加・変更された文書で値の変わった数値はありません。" if report.changed_files else ""
    lines = ["  数値の変化（追加・変更された文書: " + ", ".join(report.changed_files or report.removed_files) + "）"]
    for c in report.changed[:limit]:
        lines.append(f"   - 値が変わりました: {describe(c.new)}: {c.old.as_written}〔{c.old.first.short()}〕"
                     f" → {c.new.as_written}〔{c.new.first.short()}〕")
    if len(report.changed) > limit:
        lines.append(f"   - ほか {len(report.changed) - limit} 件")
    if report.new_subjects:
        shown = report.new_subjects[:limit]
        lines.append("   - 新しい主題: " + "、".join(shown) + (f" ほか {len(report.new_subjects) - limit} 件"
                                                       if len(report.new_subjects) > limit else ""))
    for r in report.gone[:limit]:
        lines.append(f"   - 見当たらなくなった数値: {describe(r)}: {r.as_written}〔{r.first.short()}〕")
    if len(report.gone) > limit:
        lines.append(f"   - ほか {len(report.gone) - limit} 件")
    return "\n".join(lines)


def read_changes(index_dir: Path) -> ChangeReport | None:
    """The change report stored with the live generation, or None (first build, or none made)."""
    from stiqa.ledger.store import CHANGES, generation_dir

    gen = generation_dir(index_dir)
    if gen is None or not (gen / CHANGES).is_file():
        return None
    try:
        return ChangeReport.from_json(json.loads((gen / CHANGES).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError):
        return None


def ingest_report(index_dir: Path) -> str:
    """What `stiqa ingest` prints after its summary: the live generation's change report."""
    rep = read_changes(index_dir)
    return report_text(rep) if rep is not None else ""


def _compact(text: str) -> str:
    import unicodedata

    return "".join(unicodedata.normalize("NFKC", str(text)).split()).replace(",", "").replace("，", "")


def flag_questions(report: ChangeReport, items: list[dict[str, Any]]) -> list[tuple[dict[str, Any], Change]]:
    """Evaluation questions whose expected figure is the old value of a changed figure (by its
    spelling in ``expect``, or by ``yen``): re-check them rather than read them as failures."""
    out = []
    for item in items:
        wanted = {_compact(a) for group in item.get("expect") or [] for a in group}
        for c in report.changed:
            spelled = _compact(c.old.as_written)
            if spelled in wanted or (item.get("yen") is not None and c.old.value == item.get("yen")):
                out.append((item, c))
                break
    return out


def eval_flags_text(index_dir: Path, questions: Path) -> str:
    """What `stiqa eval --compare` adds: the questions whose expected figure the last ingest changed."""
    report = read_changes(index_dir)
    if report is None or not report.changed:
        return ""
    try:
        items = [json.loads(line) for line in Path(questions).read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError):
        return ""
    flagged = flag_questions(report, items)
    if not flagged:
        return ""
    lines = [f"期待値の数値が直近の取り込みで変わった質問（確認してください）: {len(flagged)}"]
    for item, c in flagged:
        lines.append(f"  ? {item.get('id')}: {item.get('question')} — {describe(c.new)}: {c.old.as_written}"
                     f"〔{c.old.first.short()}〕 → {c.new.as_written}〔{c.new.first.short()}〕")
    return "\n".join(lines)
