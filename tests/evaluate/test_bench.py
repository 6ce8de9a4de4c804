"""The benchmark runs end to end on a tiny SQuAD-format file: behaviour and shapes, never timings."""
from __future__ import annotations

import json

import numpy as np
import pytest

PARAS = [
    ("富士山", "富士山は静岡県と山梨県にまたがる活火山で、標高は3776メートルである。日本の最高峰として知られる。",
     [("日本で最も高い山の標高は何メートルか？", "3776メートル")]),
    ("琵琶湖", "琵琶湖は滋賀県にある日本最大の湖である。面積は約670平方キロメートルで、淀川の水源となっている。",
     [("日本最大の湖はどこの県にあるか？", "滋賀県")]),
    ("東京タワー", "東京タワーは1958年に完成した電波塔で、高さは333メートルである。港区芝公園に立つ。",
     [("東京タワーが完成したのは何年か？", "1958年")]),
    ("将棋", "将棋は二人で行うボードゲームで、駒を取ると自分の駒として使える点がチェスと異なる。",
     [("取った駒を自分の駒として使えるゲームは何か？", "将棋")]),
    ("味噌", "味噌は大豆を発酵させて作る調味料で、米麹や麦麹を加えることが多い。味噌汁の材料となる。",
     [("味噌の主な原料は何か？", "大豆")]),
]


def write_fixture(path):
    data = {"version": "test", "data": [
        {"title": title, "paragraphs": [{"context": f"{title} [SEP] {text}", "qas": [
            {"id": f"{i}-{j}", "question": q, "answers": [{"text": a, "answer_start": text.find(a)}],
             "is_impossible": False} for j, (q, a) in enumerate(qas)]}]}
        for i, (title, text, qas) in enumerate(PARAS)]}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_load_squad_and_sample(tmp_path):
    from stiqa.evaluate.jsquad import load_squad, paragraph_chunks, sample_questions

    paragraphs, questions = load_squad(write_fixture(tmp_path / "mini.json"))
    assert len(paragraphs) == 5 and len(questions) == 5
    assert paragraphs[0].title == "富士山" and not paragraphs[0].text.startswith("富士山 [SEP]")
    assert questions[1].pid == 1 and questions[1].answers == ("滋賀県",)
    assert sample_questions(questions, 3, 7) == sample_questions(questions, 3, 7)
    assert len(sample_questions(questions, 3, 7)) == 3
    chunks = paragraph_chunks(paragraphs, replicas=2)
    assert len({c.id for c in chunks}) == 10
    bad = tmp_path / "bad.json"
    bad.write_text("{}", encoding="utf-8")
    with pytest.raises(ValueError):
        load_squad(bad)


def test_fuse_rules():
    from stiqa.evaluate.jsquad import fuse, rank_metrics

    sig = {"bm25": np.array([0.0, 3.0, 1.0, 0.0]), "dense": np.array([0.9, 0.1, 0.5, 0.2])}
    assert fuse({"bm25": sig["bm25"]}, "single") == [1, 2]  # zero BM25 scores are not hits
    assert fuse(sig, "weighted", weights={"bm25": 1.0, "dense": 0.0})[:2] == [1, 2]
    assert fuse(sig, "weighted", weights={"bm25": 0.0, "dense": 1.0})[0] == 0
    assert set(fuse(sig, "rrf")) == {0, 1, 2, 3}
    m = rank_metrics([1, 2, None, 6])
    assert m == {"recall@1": 0.25, "recall@5": 0.5, "recall@10": 0.75, "mrr": round((1 + 0.5 + 1 / 6) / 4, 4)}


@pytest.mark.slow
def test_jsquad_bench_on_tiny_file(tmp_path):
    from bench.jsquad_runs import run_jsquad
    from bench.report import render_markdown, write_results
    from stiqa.config import load_settings

    path = write_fixture(tmp_path / "mini.json")
    res = run_jsquad(load_settings(), path, root=tmp_path / "idx", growth=(), log=lambda m: None)
    pl = res["pipeline"]
    for key in ("recall@1", "recall@5", "recall@10", "mrr", "answer_contains_gold", "gold_in_citations"):
        assert 0.0 <= pl[key] <= 1.0, key
    assert pl["recall@1"] <= pl["recall@5"] <= pl["recall@10"]
    assert pl["recall@5"] == 1.0  # five paragraphs: the right one is always in the top five
    assert {"tokenise", "bm25", "embed", "vector", "fuse", "answer"} <= set(pl["stages_p50_ms"])
    assert res["paragraphs"] == 5 and res["questions"] == 5
    assert res["index"]["cold_build"]["embedded"] == 5
    for name, m in res["methods"].items():
        assert set(m) == {"recall@1", "recall@5", "recall@10", "mrr"}, name
        assert all(0.0 <= v <= 1.0 for v in m.values()), name
    assert res["best_method"]["name"] in res["methods"]
    # a rerun reuses the cached vectors and the untouched index
    again = run_jsquad(load_settings(), path, root=tmp_path / "idx", growth=(), study=False, log=lambda m: None)
    assert again["index"]["embedded_this_run"] == 0
    assert again["pipeline"]["recall@1"] == pl["recall@1"]

    paths = write_results("jsquad", res, tmp_path / "out")
    assert json.loads(paths["json"].read_text(encoding="utf-8"))["jsquad"]["paragraphs"] == 5
    assert "recall@1" in render_markdown({"jsquad": res})
