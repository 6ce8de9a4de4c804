"""Adding a document from the web page: checked, named safely, written only inside corpus/.

Why not just save what the browser sends: the file name comes from the user's machine (paths,
odd characters, a README that would change the corpus table), the content may be too large or not
readable text, and an existing document must not be replaced by accident.
"""
from __future__ import annotations

import os
import re
import shutil
import unicodedata
import uuid
from pathlib import Path

#: the largest document accepted from the page
MAX_BYTES = 10 * 1024 * 1024
SUFFIXES = (".md", ".txt", ".pdf")


class UploadError(ValueError):
    """A one-line reason the document was not added."""


def safe_name(name: str) -> str:
    """The file name as stored in corpus/: its base name only, no path or odd characters."""
    base = unicodedata.normalize("NFKC", Path(str(name).replace("\\", "/")).name).strip()
    stem, dot, suffix = base.rpartition(".")
    if not dot or f".{suffix.lower()}" not in SUFFIXES:
        raise UploadError(f"追加できるのは {' / '.join(SUFFIXES)} のファイルです: {base or name!r}")
    stem = re.sub(r"[^\w\-.ぁ-んァ-ヴー一-龯]+", "_", stem).strip("._") or "document"
    if stem.upper().startswith("README"):
        raise UploadError("README はコーパスの説明なので、ここからは追加できません")
    return f"{stem[:100]}.{suffix.lower()}"


def _readable(path: Path, suffix: str) -> None:
    data = path.read_bytes()
    if suffix == ".pdf":
        if not data.startswith(b"%PDF"):
            raise UploadError("PDF として読めません（%PDF で始まっていません）")
        return
    for enc in ("utf-8", "cp932"):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        if not text.strip():
            raise UploadError("ファイルが空です")
        return
    raise UploadError("テキストとして読めません（UTF-8 または Shift_JIS にしてください）")


def add_document(corpus_dir: Path, uploaded: Path, name: str, *, overwrite: bool = False) -> Path:
    """Copy an uploaded file into ``corpus_dir`` under a safe name; the path written, or UploadError."""
    uploaded = Path(uploaded)
    if not uploaded.is_file():
        raise UploadError("ファイルが選ばれていません")
    size = uploaded.stat().st_size
    if size > MAX_BYTES:
        raise UploadError(f"ファイルが大きすぎます（{size / 1024 / 1024:.1f} MB、上限 {MAX_BYTES // 1024 // 1024} MB）")
    target_name = safe_name(name)
    corpus = Path(corpus_dir).resolve()
    target = (corpus / target_name).resolve()
    if target.parent != corpus:
        raise UploadError("コーパスのフォルダの外には書き込めません")
    if target.exists() and not overwrite:
        raise UploadError(f"同じ名前の文書があります: {target_name}（置き換える場合は「同名の文書を置き換える」を選んでください）")
    _readable(uploaded, target.suffix)
    tmp = corpus / f".upload-{uuid.uuid4().hex}.part"  # not a corpus suffix: never indexed half-written
    shutil.copyfile(uploaded, tmp)
    os.replace(tmp, target)
    return target
