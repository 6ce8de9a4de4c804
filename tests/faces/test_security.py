"""Security: no code execution on data, loopback by default, the source viewer stays in corpus/,
and the dependencies are pinned so a fresh install gets what was tested."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from stiqa.config import Settings, load_settings
from stiqa.index.build import corpus_file_path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "stiqa"

# patterns that would run or unpickle data a user or a document provides
_FORBIDDEN = [
    (re.compile(r"(?<![\w.])eval\s*\("), "eval()"),
    (re.compile(r"(?<![\w.])exec\s*\("), "exec()"),
    (re.compile(r"^\s*(import|from)\s+(c?pickle|dill|cloudpickle|joblib|marshal|shelve)\b", re.M), "pickle-like import"),
    (re.compile(r"\bpickle\.loads?\s*\("), "pickle.load"),
    (re.compile(r"allow_pickle\s*=\s*True"), "allow_pickle=True"),
    (re.compile(r"\byaml\.load\s*\((?![^)]*SafeLoader)"), "yaml.load without SafeLoader"),
    (re.compile(r"\btorch\.load\s*\((?![^)]*weights_only\s*=\s*True)"), "torch.load without weights_only"),
    (re.compile(r"\bshell\s*=\s*True"), "subprocess shell=True"),
    (re.compile(r"\btrust_remote_code\s*=\s*True"), "trust_remote_code=True"),
]


def _sources() -> list[Path]:
    files = sorted(SRC.rglob("*.py"))
    if (ROOT / "app.py").exists():
        files.append(ROOT / "app.py")
    return files


def test_the_scan_sees_the_package():
    names = {str(p.relative_to(SRC)) for p in _sources() if SRC in p.parents}
    assert {"index/build.py", "ingest/chunker.py", "retrieve/search.py", "chat/conversation.py", "cli.py"} <= names


@pytest.mark.parametrize("pattern,label", _FORBIDDEN, ids=[l for _, l in _FORBIDDEN])
def test_no_code_execution_on_data(pattern, label):
    offenders = []
    for path in _sources():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if pattern.search(code) or (label.startswith("pickle-like") and pattern.search(line.split("#")[0])):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, f"{label} found:\n" + "\n".join(offenders)


def test_scanner_would_catch_them():
    # the patterns are only worth something if they fire on the real thing
    samples = ["x = eval(q)", "import pickle", "data = pickle.loads(b)", "np.load(p, allow_pickle=True)",
               "subprocess.run(cmd, shell=True)", "yaml.load(f)", "torch.load(path)"]
    for sample in samples:
        assert any(p.search(sample) for p, _ in _FORBIDDEN), sample
    for harmless in ["model.eval()", "from .evaluate import run_cli", "np.load(p, allow_pickle=False)",
                     "def cmd_eval(args):", "torch.load(p, weights_only=True)"]:
        assert not any(p.search(harmless) for p, _ in _FORBIDDEN), harmless


def test_embedding_cache_refuses_pickles(tmp_path):
    """The only file stiqa loads with numpy is its own cache; a pickled object there is not run."""
    import numpy as np

    from stiqa.index.build import EmbeddingCache

    settings = Settings(corpus_dir=tmp_path, index_dir=tmp_path)
    cache = EmbeddingCache(tmp_path, settings.embed_model_id)
    cache.path.parent.mkdir(parents=True)
    np.savez(cache.path.with_suffix(""), keys=np.array([object()], dtype=object), vectors=np.zeros((1, 2)))
    assert EmbeddingCache(tmp_path, settings.embed_model_id).vectors == {}


# ---------------------------------------------------------------- network exposure


def test_default_host_is_loopback(monkeypatch):
    for key in ("STIQA_HOST", "STIQA_USERNAME", "STIQA_PASSWORD"):
        monkeypatch.delenv(key, raising=False)
    assert Settings().host == "127.0.0.1"
    assert load_settings().host == "127.0.0.1"
    assert load_settings().username == "" and load_settings().password == ""


def test_no_public_share_link_in_source():
    for path in _sources():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"share\s*=\s*True", text), f"{path.name} opens a public share link"
        assert "0.0.0.0" not in re.sub(r"#.*", "", text) or "127.0.0.1" in text, path.name


# ---------------------------------------------------------------- source viewer


@pytest.fixture()
def viewer(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "doc.txt").write_text("本文\n", encoding="utf-8")
    (corpus / "資料 2023.md").write_text("# 見出し\n", encoding="utf-8")
    (corpus / "sub").mkdir()
    (corpus / "sub" / "inner.txt").write_text("内側\n", encoding="utf-8")
    secret = tmp_path / "secret.txt"
    secret.write_text("password\n", encoding="utf-8")
    (corpus / "link-out.txt").symlink_to(secret)
    (corpus / "link-in.txt").symlink_to(corpus / "doc.txt")
    (corpus / "dir-out").symlink_to(tmp_path)
    return Settings(corpus_dir=corpus, index_dir=tmp_path / "index"), secret


def test_viewer_serves_corpus_files(viewer):
    settings, _ = viewer
    root = settings.corpus_dir.resolve()
    assert corpus_file_path(settings, "doc.txt") == root / "doc.txt"
    assert corpus_file_path(settings, "資料 2023.md") == root / "資料 2023.md"
    assert corpus_file_path(settings, "sub/inner.txt") == root / "sub" / "inner.txt"
    assert corpus_file_path(settings, "link-in.txt") == root / "doc.txt"  # a link that stays inside


@pytest.mark.parametrize("name", [
    "../secret.txt", "..", ".", "", "   ", "sub/../../secret.txt", "./../secret.txt", "..\\secret.txt",
    "link-out.txt", "dir-out/secret.txt", "sub", "missing.txt",
    "doc.txt\x00.png", "/etc/passwd", "//etc/passwd", "%2e%2e/secret.txt",
])
def test_viewer_refuses_anything_else(viewer, name):
    settings, secret = viewer
    with pytest.raises(ValueError):
        corpus_file_path(settings, name)


def test_viewer_refuses_absolute_paths_even_inside(viewer):
    settings, secret = viewer
    for name in (str(secret), str(settings.corpus_dir / "doc.txt"), str(settings.corpus_dir.resolve() / "doc.txt")):
        with pytest.raises(ValueError):
            corpus_file_path(settings, name)


def test_viewer_refuses_non_strings(viewer):
    settings, _ = viewer
    for name in (None, 3, b"doc.txt", Path("doc.txt")):
        with pytest.raises(ValueError):
            corpus_file_path(settings, name)  # type: ignore[arg-type]


def test_viewer_on_the_real_corpus():
    settings = load_settings(corpus_dir=ROOT / "corpus")
    for path in (ROOT / "corpus").iterdir():
        if path.is_file():
            assert corpus_file_path(settings, path.name).read_bytes() == path.read_bytes()
    with pytest.raises(ValueError):
        corpus_file_path(settings, "../pyproject.toml")


# ---------------------------------------------------------------- pinned dependencies


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(req: str) -> str:
    return _canonical(re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req).group(1))


def _pins() -> dict[str, str]:
    path = ROOT / "constraints.txt"
    assert path.is_file(), "constraints.txt is missing: `pip install -c constraints.txt` needs it"
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        m = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*===?\s*([^\s;]+)", line)
        assert m, f"constraints.txt line is not an exact pin: {line!r}"
        pins[_canonical(m.group(1))] = m.group(3)
    return pins


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_constraints_pin_every_runtime_dependency():
    pins = _pins()
    deps = [_requirement_name(r) for r in _pyproject()["project"]["dependencies"]]
    missing = [d for d in deps if d not in pins]
    assert not missing, f"not pinned in constraints.txt: {missing}"


def test_constraints_pin_every_installed_optional_dependency():
    """Every extra that is installed here (so was tested) is pinned too.

    Extras that are not installed in the test environment (llama-cpp-python, compiled per machine)
    cannot have a tested version; they are listed by the next test's message only.
    """
    from importlib.metadata import PackageNotFoundError, version

    pins = _pins()
    extras = _pyproject()["project"].get("optional-dependencies", {})
    missing = []
    for name in sorted({_requirement_name(r) for reqs in extras.values() for r in reqs} - {"stiqa"}):
        try:
            version(name)
        except PackageNotFoundError:
            continue
        if name not in pins:
            missing.append(name)
    assert not missing, f"installed and tested but not pinned in constraints.txt: {missing}"


def test_pins_satisfy_pyproject_ranges():
    from packaging.requirements import Requirement

    pins = _pins()
    project = _pyproject()["project"]
    reqs = list(project["dependencies"]) + [r for rs in project.get("optional-dependencies", {}).values() for r in rs]
    bad = []
    for raw in reqs:
        req = Requirement(raw)
        name = _canonical(req.name)
        if name == "stiqa" or name not in pins:
            continue
        if not req.specifier.contains(pins[name], prereleases=True):
            bad.append(f"{name}=={pins[name]} outside {req.specifier}")
    assert not bad, "constraints.txt contradicts pyproject.toml: " + "; ".join(bad)


def test_installed_versions_match_the_pins():
    """What the tests run against is what constraints.txt promises (for the runtime dependencies)."""
    from importlib.metadata import PackageNotFoundError, version

    pins = _pins()
    wrong = []
    for raw in _pyproject()["project"]["dependencies"]:
        name = _requirement_name(raw)
        try:
            have = version(name)
        except PackageNotFoundError:
            continue
        if name in pins and _canonical(have) != _canonical(pins[name]):
            wrong.append(f"{name}: installed {have}, pinned {pins[name]}")
    assert not wrong, "; ".join(wrong)
