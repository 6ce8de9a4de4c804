"""Answer ratings from the chat (👍 / 👎 with a comment): the signal maintainers need for the next
evaluation. One JSON line per rating in ``feedback/feedback.jsonl`` (git-ignored), appended under
an exclusive file lock so concurrent sessions never interleave or lose a line; ``stiqa feedback``
lists them and ``--to-eval FILE`` writes the 👎 ones as draft questions in the evaluation format.
"""
from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any

from stiqa.records import Answer


def entry(question: str, history: list[str], ans: Answer, verdict: str, comment: str = "") -> dict[str, Any]:
    if verdict not in ("up", "down"):
        raise ValueError(f"verdict は up か down です: {verdict!r}")
    return {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "question": question, "history": list(history),
            "answer": ans.text, "abstained": ans.abstained, "interpretation": ans.interpretation,
            "citations": [c.to_json() for c in ans.citations], "verdict": verdict, "comment": comment.strip()}


def record(path: Path, item: dict[str, Any]) -> None:
    """Append one rating: the whole line in one write, under an exclusive lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(item, ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line)
        os.fsync(fd)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def load(path: Path) -> list[dict[str, Any]]:
    """Every rating recorded (a line that cannot be read is skipped, never fatal)."""
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def to_eval(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The 👎 ratings as draft evaluation questions (``expect`` left for the maintainer)."""
    drafts = []
    for n, it in enumerate((i for i in items if i.get("verdict") == "down"), 1):
        sources = sorted({c["source"].rsplit(".", 1)[0] for c in it.get("citations", [])})
        drafts.append({"id": f"fb-{n:03d}", "question": it["question"], "history": it.get("history", []),
                       "expect": [], "source": "|".join(sources), "type": "feedback", "abstain": False,
                       "note": f"👎 {it.get('comment', '')}".strip() + f" / 回答: {it.get('answer', '')[:200]}"})
    return drafts


def summary(items: list[dict[str, Any]]) -> str:
    up = sum(1 for i in items if i.get("verdict") == "up")
    lines = [f"評価 {len(items)} 件（👍 {up} / 👎 {len(items) - up}）"]
    for i in items:
        mark = "👍" if i.get("verdict") == "up" else "👎"
        comment = f" — {i['comment']}" if i.get("comment") else ""
        lines.append(f"{mark} {i.get('time', '')} 「{i.get('question', '')}」{comment}")
    return "\n".join(lines)


def conversation_markdown(turns: list[Any]) -> str:
    """A conversation for a memo: each question, its answer and its citations with the quoted text."""
    out = ["# stiqa 会話記録", "", f"作成: {time.strftime('%Y-%m-%d %H:%M')}", ""]
    for n, t in enumerate(turns, 1):
        ans = t.answer
        out += [f"## {n}. {t.question}", ""]
        if ans.interpretation:
            out += [f"*{ans.interpretation}*", ""]
        out += [ans.text, ""]
        for i, c in enumerate(ans.citations, 1):
            out.append(f"[{i}] `{c.source}` L{c.line_start}-{c.line_end}" + (f" 〔{c.section}〕" if c.section else ""))
            quoted = "\n".join(f"> {line}" for line in c.text.splitlines() if line.strip())
            out += [quoted, ""]
    return "\n".join(out).rstrip() + "\n"
