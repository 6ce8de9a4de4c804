"""Load on the running web app (small size): concurrent ``gradio_client`` sessions with a re-index mid-run.

The code is ``bench/load.py`` (the full run, 20 sessions x 500 questions, writes ``bench/load.md``).
Here: ``python app.py`` as a subprocess on a free loopback port, on a private copy of the corpus and
index; 8 sessions x 10 questions; a new corpus file is indexed by ``stiqa ingest`` after 10 answers.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # sessions under load, with a re-index in the middle

ROOT = Path(__file__).resolve().parents[2]


def _bench_load():
    spec = importlib.util.spec_from_file_location("stiqa_bench_load", ROOT / "bench" / "load.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sessions_with_reindex_all_correct(tmp_path, settings):
    pytest.importorskip("gradio_client")
    pytest.importorskip("psutil")
    load = _bench_load()
    res = load.run_load(tmp_path, settings, sessions=8, total=80, n_questions=12, reindex_at=0.125)
    report = load.report_md(res, seed=0)
    (tmp_path / "load.md").write_text(report, encoding="utf-8")
    assert not res.errors, res.errors[:5]
    assert not res.wrong, res.wrong[:5]
    assert not res.history_bad, res.history_bad[:5]
    assert res.answered == 80
    r = res.reindex
    assert r["rc"] == 0 and r["gen_after"] != r["gen_before"], r.get("output", "")[-2000:]
    # the load really overlapped the re-index, and the server serves the new generation afterwards
    assert r["answered_during"] + r["answered_after"] > 0
    assert res.note_answer["from_note"], res.note_answer
    # memory: no growth with the number of answers once warm (a re-opened engine is allowed for). PSS, not
    # RSS: RSS counts Sudachi's dictionary once per worker thread that maps it (see bench/load.md)
    assert res.pss["end"] - res.pss["start"] < 150 * 2**20, report
    assert res.pct(95) < 30, report
