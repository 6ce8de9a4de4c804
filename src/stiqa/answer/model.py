"""The fitted model that chooses among a question's options, and decides whether to answer at all.

Two linear models, both fitted by ``train.py``: a **chooser** scores each option (a pairwise
logistic regression: trained to score a right option above a wrong one of the same question), and
an **answerability** model gives the probability that the chosen option is right, from its
features, its score and its lead over the runner-up. One threshold on that probability, chosen
leave-one-document-out, decides between answering and 「資料には記載が見つかりませんでした」.

The model file (``ranker.json`` beside this module, committed) holds the feature names, both
models' weights and standardisation, the threshold, and the data and code version it was fitted
on. It is JSON rather than a pickle so that it loads under any scikit-learn (or none) and reads in a
diff. ``stiqa train`` writes it.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from stiqa.answer.features import NAMES
from stiqa.errors import ModelError

#: the committed model file
DEFAULT_PATH = Path(__file__).with_name("ranker.json")
#: bump when the option or feature code changes meaning: a model fitted before is then stale
FEATURES_VERSION = 3
REBUILD = "`stiqa train` で作り直してください"
#: what the answerability model sees beyond the chosen option's features
EXTRA = ("score", "margin", "n_rivals")


@dataclass(frozen=True)
class Linear:
    """w · (x − mean) / scale + b."""

    coef: tuple[float, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    intercept: float = 0.0

    def __call__(self, row: list[float]) -> float:
        return self.intercept + sum(w * (x - m) / s for w, x, m, s in zip(self.coef, row, self.mean, self.scale))

    def to_json(self) -> dict:
        return {"coef": list(self.coef), "mean": list(self.mean), "scale": list(self.scale),
                "intercept": self.intercept}

    @classmethod
    def from_json(cls, d: dict) -> "Linear":
        return cls(tuple(map(float, d["coef"])), tuple(map(float, d["mean"])), tuple(map(float, d["scale"])),
                   float(d.get("intercept", 0.0)))


def answer_row(rows: list[list[float]], scores: list[float], i: int) -> list[float]:
    """The answerability model's input: the chosen option's features, its score, its lead over the
    best other option with a different figure or text, and how many options there were."""
    rivals = [s for k, s in enumerate(scores) if k != i]
    margin = scores[i] - max(rivals) if rivals else 5.0
    return [*rows[i], scores[i], min(margin, 5.0), math.log1p(len(rivals))]


@dataclass(frozen=True)
class Ranker:
    chooser: Linear
    answer: Linear
    threshold: float
    meta: dict = field(default_factory=dict)

    def best(self, rows: list[list[float]]) -> tuple[int, float]:
        """The index of the option the chooser prefers and the probability that it is right."""
        scores = [self.chooser(r) for r in rows]
        i = max(range(len(scores)), key=scores.__getitem__)
        z = self.answer(answer_row(rows, scores, i))
        return i, 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))

    def to_json(self) -> dict:
        return {"features_version": FEATURES_VERSION, "names": list(NAMES), "extra": list(EXTRA),
                "chooser": self.chooser.to_json(), "answer": self.answer.to_json(),
                "threshold": self.threshold, "meta": self.meta}


def save(ranker: Ranker, path: str | Path = DEFAULT_PATH) -> Path:
    path = Path(path)
    path.write_text(json.dumps(ranker.to_json(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def load(path: str | Path | None = None) -> Ranker:
    """The model from ``path`` (default the committed file); a clear ``ModelError`` otherwise."""
    path = Path(path) if path else DEFAULT_PATH
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"回答選択モデルのファイルがありません: {path}。{REBUILD}") from None
    except (OSError, ValueError) as e:
        raise ModelError(f"回答選択モデルのファイルを読めません: {path}（{e}）。{REBUILD}") from None
    if not isinstance(data, dict) or data.get("features_version") != FEATURES_VERSION \
            or tuple(data.get("names", ())) != NAMES:
        raise ModelError(f"回答選択モデル {path} は別の版の特徴量で作られています。{REBUILD}")
    try:
        ranker = Ranker(Linear.from_json(data["chooser"]), Linear.from_json(data["answer"]),
                        float(data["threshold"]), dict(data.get("meta", {})))
    except (KeyError, TypeError, ValueError) as e:
        raise ModelError(f"回答選択モデル {path} の中身が壊れています（{e}）。{REBUILD}") from None
    if len(ranker.chooser.coef) != len(NAMES) or len(ranker.answer.coef) != len(NAMES) + len(EXTRA):
        raise ModelError(f"回答選択モデル {path} の重みの数が特徴量と合いません。{REBUILD}")
    return ranker
