"""Shared fixtures: the real corpus, the real index (built once), the real engine.

Tests that change the corpus work on a copy in tmp_path and reuse the project's embedding cache,
so only the chunks they change are embedded again.
"""
from __future__ import annotations

import os
import shutil
import socket
from dataclasses import replace
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.fixture(scope="session")
def settings():
    """Settings for the project's own corpus and index (built here if `stiqa ingest` has not run)."""
    from stiqa.config import load_settings
    from stiqa.index.build import build_index

    s = load_settings(corpus_dir=CORPUS, index_dir=Path(os.environ.get("STIQA_INDEX_DIR", ROOT / "index")))
    build_index(s)
    return s


@pytest.fixture(scope="session")
def assistant(settings):
    from stiqa.engine import get_assistant

    return get_assistant(settings)


@pytest.fixture()
def corpus_copy(tmp_path, settings):
    """A private corpus + index folder pair, with the project's embedding cache copied in."""
    from stiqa.config import load_settings

    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    index = tmp_path / "index"
    index.mkdir()
    cache = settings.index_dir / "embcache"
    if cache.is_dir():
        shutil.copytree(cache, index / "embcache")
    return load_settings(corpus_dir=corpus, index_dir=index)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (servers in tests listen on loopback only)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def web_url(settings):
    """The Gradio app on a free loopback port, for the module's tests."""
    from stiqa.web.app import launch

    s = replace(settings, host="127.0.0.1", port=free_port())
    demo = launch(s, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{s.port}/"
    demo.close()


def launch_chromium(p):
    """Debian's headless Chromium through Playwright (Playwright's own browser download fails offline)."""
    exe = shutil.which("chromium")
    if exe is None:
        pytest.skip("chromium is not installed (make test installs it)")
    return p.chromium.launch(executable_path=exe, args=["--headless", "--no-sandbox", "--disable-gpu",
                                                        "--disable-background-networking",
                                                        "--disable-component-update"])


def open_tab(page, name: str) -> None:
    """Click a tab of the web app as a user does: on a narrow screen Gradio folds the tabs that do
    not fit into the 「ほかのタブ」 menu, which is opened first."""
    tab = page.get_by_role("tab", name=name)
    if tab.count() and tab.first.is_visible():
        tab.first.click()
        return
    page.click("button[aria-label='ほかのタブ']")
    page.locator(".overflow-dropdown button", has_text=name).first.click()


def pytest_collection_modifyitems(items):
    """A browser test is a slow test: `make check` leaves both out, `make test` runs everything."""
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.slow)
