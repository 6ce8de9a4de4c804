"""Adding a document from the web page: checked, named safely, written only inside corpus/.

Why not just save what the browser sends: the file name comes from the user's machine (paths,
odd characters, a README that would change the corpus table), the content may be too large or not
readable text, and an existing document must not be replaced by accident. A file is read with the
index's own reader before it is saved, so nothing lands in corpus/ that the index would skip (a
broken PDF would otherwise be added, skipped, and warned about on every later ``stiqa ask``).
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import unicodedata
import uuid
from pathlib import Path
from stiqa.errors import UploadError

#: the largest document accepted from the page
MAX_BYTES = 10 * 1024 * 1024
SUFFIXES = (".md", ".txt", ".pdf")


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


def _indexable(uploaded: Path, target: Path, corpus: Path) -> None:
    """Read the file as the index will (``ingest.load_document``) under its corpus name; UploadError
    with the reader's reason when the index would skip it (unreadable, no text, a duplicate)."""
    import tempfile

    from stiqa.ingest.files import corpus_files, load_document

    with tempfile.TemporaryDirectory(prefix="stiqa-upload-") as tmp:
        probe = Path(tmp) / target.name
        shutil.copyfile(uploaded, probe)
        try:
            doc = load_document(probe)
        except (OSError, ValueError) as exc:
            raise UploadError(f"索引に加えられないため追加しませんでした: {exc}") from exc
    for other in corpus_files(corpus):
        if other.resolve() != target and hashlib.sha256(other.read_bytes()).hexdigest() == doc.sha256:
            raise UploadError(f"同じ内容の文書がすでにあります: {other.name}")


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
    _indexable(uploaded, target, corpus)
    tmp = corpus / f".upload-{uuid.uuid4().hex}.part"  # not a corpus suffix: never indexed half-written
    shutil.copyfile(uploaded, tmp)
    os.replace(tmp, target)
    return target


def discard(uploaded: Path, upload_dir: Path) -> None:
    """Delete a browser upload from the web server's upload folder once it has been handled (added
    or refused): Gradio keeps uploads for the whole session otherwise. Nothing outside that folder."""
    path, folder = Path(uploaded).resolve(), Path(upload_dir).resolve()
    if folder not in path.parents:
        return
    path.unlink(missing_ok=True)
    if path.parent == folder:
        return
    try:
        path.parent.rmdir()  # Gradio gives each upload its own folder; removed when empty
    except OSError:
        pass
