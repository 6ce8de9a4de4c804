"""Labelled training data for the answer model: every development question's options.

``collect`` asks every question of every set on its set's corpus with the model switched off
(``answer_model="none"``) and records each question's options: their feature rows and whether each
would be scored right (the expected answer *and* a citation of the expected document). Saved as
gzip JSONL; its hash is the data version the model file records.
"""
from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: the development sets, relative to the project: (name, questions file); a set with a corpus/
#: folder beside its questions is asked on the project corpus plus that folder
SETS = (("suite", "eval/questions.jsonl"), ("heldout", "eval/heldout.jsonl"),
        ("generality", "eval/generality/questions.jsonl"), ("budget", "eval/budget/questions.jsonl"),
        ("programs", "eval/programs/questions.jsonl"))
#: where the collected data is kept (committed: the model file names its hash)
DATA = "eval/train/options.jsonl.gz"


@dataclass
class Question:
    """One labelled question: its options' feature rows and labels, or a fixed outcome when the
    answer did not pass through the model (a program finder answer, a document's date)."""

    set: str
    id: str
    group: str  # the document it is about: the unit held out
    type: str
    abstain: bool
    rows: list[list[float]] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    fixed: bool | None = None  # the outcome when there are no options
    texts: list[str] = field(default_factory=list)  # each option's answer (for reading the errors)

    def to_json(self) -> dict[str, Any]:
        return {"set": self.set, "id": self.id, "group": self.group, "type": self.type, "abstain": self.abstain,
                "rows": [[round(x, 5) for x in r] for r in self.rows], "labels": self.labels, "fixed": self.fixed,
                "texts": self.texts}


def group_of(set_name: str, item: dict[str, Any]) -> str:
    src = str(item.get("source") or "")
    return src if src else f"{set_name}:unanswerable"


def collect(sets: dict[str, Path], settings: Any, *, progress: bool = False) -> list[Question]:
    """Every question of every set with its options labelled (the model switched off)."""
    from dataclasses import replace

    from stiqa.engine import get_assistant
    from stiqa.evaluate.corpus import prepare, set_corpus
    from stiqa.evaluate.run import load_questions
    from stiqa.evaluate.scoring import citation_correct, is_correct
    from stiqa.answer.answerer import TRACE

    out: list[Question] = []
    for name, path in sets.items():
        assistant = get_assistant(replace(prepare(settings, set_corpus(path, None)), answer_model="none"))
        items = load_questions(path)
        for n, item in enumerate(items):
            conv = assistant.chat()
            conv.replay(item.get("history") or [])
            trace: list = []
            token = TRACE.set(trace)
            try:
                ans = conv.ask(item["question"])
            finally:
                TRACE.reset(token)
            q = Question(name, item["id"], group_of(name, item), item.get("type", ""), bool(item.get("abstain")))
            if trace:
                _, offer, rows = trace[-1]
                q.rows = rows
                for o in offer.options:
                    res = {"answer": o.text, "abstained": False,
                           "citations": [{"source": c.source} for c in o.chunks]}
                    ok = is_correct(item, res) and citation_correct(item, res) is not False
                    q.labels.append(int(ok))
                    q.texts.append(o.text[:100])
            else:
                q.fixed = is_correct(item, ans.to_json())
            out.append(q)
            if progress and n % 50 == 0:
                print(f"  {name}: {n}/{len(items)}", flush=True)
    return out


def save_data(questions: list[Question], path: Path) -> str:
    """Write the labelled options (gzip JSONL); the data version is the hash of what was written."""
    text = "".join(json.dumps(q.to_json(), ensure_ascii=False) + "\n" for q in questions)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(path, "wb", mtime=0) as f:
        f.write(text.encode("utf-8"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def load_data(path: Path) -> tuple[list[Question], str]:
    text = gzip.decompress(Path(path).read_bytes()).decode("utf-8")
    qs = [Question(**json.loads(line)) for line in text.splitlines() if line.strip()]
    return qs, hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


