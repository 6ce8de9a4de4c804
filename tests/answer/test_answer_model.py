"""The answer model: it loads, chooses, abstains below its threshold, refuses a missing or stale
file with the command that rebuilds it, and ``stiqa train`` refits it reproducibly.

Real components throughout: the committed model file, the committed training data (a few of its
documents as the fixture), the project's index and engine.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "eval" / "train" / "options.jsonl.gz"


@pytest.fixture(scope="module")
def fixture_data(tmp_path_factory):
    """Seven documents' questions of the committed training data (three sets), as an options file."""
    from stiqa.evaluate.dataset import load_data, save_data

    questions, _ = load_data(DATA)
    groups = sorted({q.group for q in questions if q.set in ("generality", "budget", "programs") and q.rows})[:7]
    small = [q for q in questions if q.group in groups]
    path = tmp_path_factory.mktemp("train") / "options.jsonl.gz"
    save_data(small, path)
    return path, small


def test_the_committed_model_loads_for_the_features_in_the_code():
    from stiqa.answer.features import NAMES
    from stiqa.answer.model import load

    ranker = load()
    assert len(ranker.chooser.coef) == len(NAMES) and 0.0 <= ranker.threshold <= 1.0
    assert ranker.meta["data"] and ranker.meta["code"]  # what it was fitted on


def test_the_model_file_names_the_data_it_was_fitted_on():
    import gzip
    import hashlib

    from stiqa.answer.model import load

    text = gzip.decompress(DATA.read_bytes())
    assert load().meta["data"] == hashlib.sha256(text).hexdigest()[:16]


@pytest.mark.parametrize("content, says", [
    (None, "ありません"),
    ("{not json", "読めません"),
    (json.dumps({"features_version": 0, "names": []}), "別の版"),
])
def test_a_missing_corrupt_or_stale_model_is_named_with_the_command_that_rebuilds_it(tmp_path, content, says):
    from stiqa.errors import ModelError
    from stiqa.answer.model import load

    path = tmp_path / "ranker.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ModelError) as err:
        load(path)
    assert says in str(err.value) and "stiqa train" in str(err.value) and str(path) in str(err.value)


@pytest.mark.slow
def test_the_cli_reports_a_missing_model_in_one_line(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "STIQA_ANSWER_MODEL": str(tmp_path / "gone.json"), "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-m", "stiqa.cli", "ask", "SICORPの予算は？"], capture_output=True,
                         text=True, env=env, cwd=ROOT, timeout=120)
    assert run.returncode != 0
    assert "stiqa train" in run.stderr and "Traceback" not in run.stderr


def test_the_ranker_prefers_the_option_its_weights_favour():
    from stiqa.answer.features import NAMES
    from stiqa.answer.model import EXTRA, Linear, Ranker

    n = len(NAMES)
    weights = [0.0] * n
    weights[NAMES.index("cover_local")] = 3.0
    ranker = Ranker(Linear(tuple(weights), (0.0,) * n, (1.0,) * n),
                    Linear((0.0,) * (n + len(EXTRA)), (0.0,) * (n + len(EXTRA)), (1.0,) * (n + len(EXTRA)), 2.0),
                    0.5)
    rows = [[0.0] * n for _ in range(3)]
    rows[1][NAMES.index("cover_local")] = 0.9
    best, p = ranker.best(rows)
    assert best == 1 and p > 0.5


def test_a_figure_is_answered_with_the_committed_model_and_withdrawn_above_its_threshold(settings, tmp_path):
    """The same engine answers a budget question, and abstains once the threshold is above every
    probability: the model, not a rule, decides."""
    from stiqa.engine import get_assistant

    ans = get_assistant(settings).ask("SICORPの令和5年度予算額（案）はいくらですか？")
    assert not ans.abstained and "1,073百万円" in ans.text and ans.confidence is not None
    model = json.loads((ROOT / "src" / "stiqa" / "answer" / "ranker.json").read_text(encoding="utf-8"))
    model["threshold"] = 1.01
    strict = tmp_path / "strict.json"
    strict.write_text(json.dumps(model), encoding="utf-8")
    withdrawn = get_assistant(replace(settings, answer_model=str(strict))).ask("SICORPの令和5年度予算額（案）はいくらですか？")
    assert withdrawn.abstained and "1,073" not in withdrawn.text


@pytest.mark.slow
def test_training_twice_on_the_same_data_gives_the_same_model(fixture_data, tmp_path):
    import subprocess
    import sys

    path, _ = fixture_data
    outs = []
    for k in range(2):
        out = tmp_path / f"m{k}.json"
        run = subprocess.run([sys.executable, "-m", "stiqa.cli", "train", "--data", str(path), "--out", str(out)],
                             capture_output=True, text=True, cwd=ROOT, timeout=300)
        assert run.returncode == 0, run.stderr[-2000:]
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


@pytest.mark.slow
def test_train_cv_json_reports_leave_one_document_out(fixture_data, tmp_path):
    import subprocess
    import sys

    path, small = fixture_data
    run = subprocess.run([sys.executable, "-m", "stiqa.cli", "train", "--cv", "--json", "--data", str(path),
                          "--out", str(tmp_path / "m.json")], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout)
    lodo = report["lodo"]
    assert lodo["n"] == len(small)
    assert 0.0 <= lodo["accuracy"] <= 1.0 and 0.0 <= lodo["wrong_share"] <= 1.0
    assert {q.type for q in small} == set(lodo["by_type"])


def test_a_fold_never_sees_its_own_document():
    """Leave-one-document-out: the model scoring a document's questions was fitted without them."""
    from stiqa.evaluate import train as T
    from stiqa.evaluate.dataset import Question

    seen: list[set[str]] = []
    real_fit = T.fit

    def spy(questions, **kw):
        seen.append({q.group for q in questions})
        return real_fit(questions, **kw)

    qs = [Question("s", f"q{i}", f"doc{i % 3}", "count", False, [[0.0] * len(T.NAMES)] * 2, [1, 0]) for i in range(6)]
    T.fit, saved = spy, T.fit
    try:
        T.lodo(qs)
    finally:
        T.fit = saved
    assert len(seen) == 3 and all(len(s) == 2 for s in seen)
