"""Fit the answer-choosing model and measure it leave-one-document-out.

``fit`` fits a logistic regression over the options' features (standardised; fixed seed; CPU;
seconds). ``lodo`` refits it once per development document without that document's questions and
scores them, choosing the answer threshold for each fold on the other folds' held-out predictions
only, so the figure it prints is what a new document should expect. Why a logistic regression: on
these ~600 questions gradient boosting measured no better leave-one-document-out (0.80 vs 0.80
best accuracy, the same wrong share at every threshold), and a linear model's weights can be read.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from stiqa.evaluate.dataset import Question
from stiqa.answer.features import NAMES
from stiqa.answer.model import FEATURES_VERSION, Linear, Ranker, answer_row

#: what a wrong answer costs, in right answers: the threshold maximises right − WRONG_COST × wrong
#: (a wrong figure is worse than 「資料には記載が見つかりませんでした」). A bound on the wrong share
#: (≤ 2%) was tried first: on these documents no threshold meets it short of abstaining on nearly
#: everything (the measured curve is in the README).
WRONG_COST = 1.0
#: inverse regularisation strength of the logistic regression
C = 0.01
SEED = 0

# ------------------------------------------------------------------ fitting

#: at most this many (right, wrong) option pairs per question in the chooser's training data
MAX_PAIRS = 40
#: group folds inside the training documents, to give the answerability model choices made on
#: documents the chooser did not see
INNER_FOLDS = 4


def _pairs(questions: list[Question]):
    """(right − wrong) feature differences, both signs, each question weighing the same."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    xs, ys, ws = [], [], []
    for q in questions:
        rows, labels = np.asarray(q.rows, dtype=float), np.asarray(q.labels)
        pos, neg = rows[labels == 1], rows[labels == 0]
        if not len(pos) or not len(neg):
            continue
        pairs = [(a, b) for a in range(len(pos)) for b in range(len(neg))]
        if len(pairs) > MAX_PAIRS:
            pairs = [pairs[k] for k in sorted(rng.choice(len(pairs), MAX_PAIRS, replace=False))]
        for a, b in pairs:
            d = pos[a] - neg[b]
            xs += [d, -d]
            ys += [1, 0]
            ws += [1.0 / len(pairs)] * 2
    return np.asarray(xs).reshape(-1, len(NAMES)), np.asarray(ys), np.asarray(ws)


def fit_chooser(questions: list[Question], *, c: float = C) -> Linear:
    """A pairwise logistic regression: w · (right − wrong) > 0 for the options of one question."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    x, y, w = _pairs(questions)
    if not len(x):
        return Linear((0.0,) * len(NAMES), (0.0,) * len(NAMES), (1.0,) * len(NAMES))
    scale = np.abs(x).std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=c, fit_intercept=False, max_iter=3000, random_state=SEED)
    model.fit(x / scale, y, sample_weight=w / w.mean())
    return Linear(tuple(float(v) for v in model.coef_[0]), (0.0,) * len(NAMES), tuple(float(v) for v in scale))


def _answer_rows(chooser: Linear, questions: list[Question]) -> tuple[list[list[float]], list[int]]:
    xs, ys = [], []
    for q in questions:
        scores = [chooser(r) for r in q.rows]
        i = max(range(len(scores)), key=scores.__getitem__)
        xs.append(answer_row(q.rows, scores, i))
        ys.append(int(bool(q.labels[i]) and not q.abstain))
    return xs, ys


def fit(questions: list[Question], *, threshold: float = 0.5, meta: dict | None = None, c: float = C) -> Ranker:
    """The chooser on all ``questions``; the answerability model on choices made by choosers fitted
    without the question's own documents (``INNER_FOLDS`` group folds)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    questions = [q for q in questions if q.rows]
    groups = sorted({q.group for q in questions})
    xs: list[list[float]] = []
    ys: list[int] = []
    for k in range(INNER_FOLDS):
        held = set(groups[k::INNER_FOLDS])
        inner = fit_chooser([q for q in questions if q.group not in held], c=c)
        ax, ay = _answer_rows(inner, [q for q in questions if q.group in held])
        xs += ax
        ys += ay
    x = np.asarray(xs, dtype=float)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    if len(set(ys)) < 2:  # every choice right (or wrong): a constant probability, no weights
        z = 4.0 if ys and ys[0] else -4.0
        return Ranker(fit_chooser(questions, c=c), Linear((0.0,) * x.shape[1], tuple(float(v) for v in mean),
                                                         tuple(float(v) for v in scale), z), float(threshold), dict(meta or {}))
    model = LogisticRegression(C=c, max_iter=3000, random_state=SEED)
    model.fit((x - mean) / scale, np.asarray(ys))
    answer = Linear(tuple(float(v) for v in model.coef_[0]), tuple(float(v) for v in mean),
                    tuple(float(v) for v in scale), float(model.intercept_[0]))
    return Ranker(fit_chooser(questions, c=c), answer, float(threshold), dict(meta or {}))


@dataclass(frozen=True)
class Outcome:
    """A question's fate under a model: the best option's probability and whether it is right."""

    q: Question
    p: float
    right: bool  # the best option is right

    def verdict(self, threshold: float) -> str:
        """'right', 'wrong' (a wrong answer given) or 'abstained-right' / 'abstained-wrong'."""
        if not self.q.rows:
            return ("right" if self.q.fixed else "wrong") if not self.q.abstain else \
                ("abstained-right" if self.q.fixed else "wrong")
        if self.p < threshold:
            return "abstained-right" if self.q.abstain else "abstained-wrong"
        return "right" if self.right and not self.q.abstain else "wrong"


def outcome(ranker: Ranker, q: Question) -> Outcome:
    if not q.rows:
        return Outcome(q, 0.0, False)
    i, p = ranker.best(q.rows)
    return Outcome(q, p, bool(q.labels[i]))


def score(outcomes: list[Outcome], thresholds: list[float] | float) -> dict[str, Any]:
    """accuracy, wrong share of answers given, and both by type."""
    if isinstance(thresholds, float):
        thresholds = [thresholds] * len(outcomes)
    verdicts = [o.verdict(t) for o, t in zip(outcomes, thresholds)]
    by_type: dict[str, list[str]] = defaultdict(list)
    for o, v in zip(outcomes, verdicts):
        by_type[o.q.type].append(v)

    def summary(vs: list[str]) -> dict[str, Any]:
        given = sum(v in ("right", "wrong") and not v.startswith("abstained") for v in vs)
        right = sum(v in ("right", "abstained-right") for v in vs)
        wrong = sum(v == "wrong" for v in vs)
        return {"n": len(vs), "accuracy": round(right / len(vs), 3) if vs else None,
                "wrong_share": round(wrong / given, 3) if given else 0.0, "given": given, "wrong": wrong}

    by_set: dict[str, list[str]] = defaultdict(list)
    for o, v in zip(outcomes, verdicts):
        by_set[o.q.set].append(v)
    out = summary(verdicts)
    out["by_type"] = {t: summary(vs) for t, vs in sorted(by_type.items())}
    out["by_set"] = {s: summary(vs) for s, vs in sorted(by_set.items())}
    return out


def choose_threshold(outcomes: list[Outcome], *, cost: float = WRONG_COST) -> float:
    """The threshold that maximises right − ``cost`` × wrong over the questions the model decides
    (the lowest such threshold on ties: answer as often as the cost allows)."""
    outcomes = [o for o in outcomes if o.q.rows]  # the others' fate is not the threshold's
    best_t, best_u = 1.01, float("-inf")
    for t in sorted({round(o.p, 4) for o in outcomes} | {0.0}):
        s = score(outcomes, float(t))
        u = s["n"] * s["accuracy"] - cost * s["wrong"]
        if u > best_u + 1e-9:
            best_t, best_u = float(t), u
    return best_t


def lodo(questions: list[Question], *, c: float = C) -> dict[str, Any]:
    """Leave-one-document-out: per document, fit without its questions and score them; each
    fold's threshold is chosen on the other folds' held-out predictions."""
    groups = sorted({q.group for q in questions})
    held: dict[str, list[Outcome]] = {}
    for g in groups:
        train = [q for q in questions if q.group != g and q.rows]
        ranker = fit(train, c=c)
        held[g] = [outcome(ranker, q) for q in questions if q.group == g]
    outcomes, thresholds = [], []
    for g in groups:
        others = [o for h, os in held.items() if h != g for o in os]
        t = choose_threshold(others)
        outcomes += held[g]
        thresholds += [t] * len(held[g])
    result = score(outcomes, thresholds)
    result["threshold"] = choose_threshold([o for os in held.values() for o in os])
    return result


def unfitted(questions: list[Question], pick: str) -> dict[str, Any]:
    """What the readers do without a model, for comparison: ``"readers"`` answers with the readers'
    own answer whenever there is one; ``"lexical"`` with the option whose words hold most of the
    question (rarity-weighted), nothing fitted."""
    at = NAMES.index("reader") if pick == "readers" else NAMES.index("cover_local")
    outs = []
    for q in questions:
        if not q.rows:
            outs.append(Outcome(q, 0.0, False))
            continue
        i = max(range(len(q.rows)), key=lambda k: q.rows[k][at])
        has = q.rows[i][at] > 0
        outs.append(Outcome(q, 1.0 if has else 0.0, bool(q.labels[i]) and has))
    return score(outs, 0.5)


def in_sample(questions: list[Question], ranker: Ranker) -> dict[str, Any]:
    return score([outcome(ranker, q) for q in questions], ranker.threshold)


def train(questions: list[Question], data_version: str, code_version: str, *, c: float = C
          ) -> tuple[Ranker, dict[str, Any]]:
    """The model on all questions, its threshold from the leave-one-document-out predictions."""
    cv = lodo(questions, c=c)
    meta = {"data": data_version, "code": code_version, "features_version": FEATURES_VERSION,
            "questions": len(questions), "documents": len({q.group for q in questions}), "C": c,
            "lodo": {k: v for k, v in cv.items() if k != "by_type"}}
    ranker = fit([q for q in questions if q.rows], threshold=cv["threshold"], meta=meta, c=c)
    return ranker, cv


def code_version() -> str:
    """A hash of the code that makes the options and their features: a model fitted on data from
    other code is stale."""
    import hashlib
    from pathlib import Path

    here = Path(__file__).parents[1] / "answer"
    text = "".join((here / f).read_text(encoding="utf-8") for f in ("options.py", "features.py"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
