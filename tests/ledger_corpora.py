"""Private corpora for the figure ledger's tests (imported by tests/*/test_ledger*.py): the seed
corpus built first, then a second document added and built again, so the second build has a change
report; the project's embedding cache is copied in, so only the added chunks are embedded."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FY2025 = ROOT / "eval" / "generality" / "corpus" / "mext_fy2025_request_points.md"
FIXTURES = ROOT / "tests" / "fixtures" / "ledger"
SEED = "mext_fy2023_budget_international.md"
EXCERPT = "mext_fy2024_budget_excerpt.md"


def _private(tmp: Path, settings, extra: list[Path]):
    """Seed corpus + index (built), then ``extra`` files added and built again."""
    from stiqa.config import load_settings
    from stiqa.index.build import build_index

    corpus, index = tmp / "corpus", tmp / "index"
    shutil.copytree(ROOT / "corpus", corpus)
    index.mkdir()
    if (settings.index_dir / "embcache").is_dir():
        shutil.copytree(settings.index_dir / "embcache", index / "embcache")
    s = load_settings(corpus_dir=corpus, index_dir=index)
    build_index(s)
    for f in extra:
        shutil.copy(f, corpus / f.name)
    build_index(s)
    return s


@pytest.fixture(scope="module")
def two_years(tmp_path_factory, settings):
    return _private(tmp_path_factory.mktemp("two_years"), settings, [FY2025])


@pytest.fixture(scope="module")
def revised(tmp_path_factory, settings):
    return _private(tmp_path_factory.mktemp("revised"), settings, [FIXTURES / "v1" / EXCERPT])
