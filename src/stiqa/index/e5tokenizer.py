"""The e5 tokenizer rebuilt from the model file's own vocabulary: a ``tokenizers`` Unigram model whose
normaliser (the precompiled character map) matches the C engine's, so token ids agree."""
from __future__ import annotations

import struct
from typing import Any

import numpy as np
from stiqa.errors import ConversionError
from stiqa.index.e5file import E5File, META, SPECIALS, UNK_PIECE


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
