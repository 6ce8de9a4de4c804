"""Rough edges a developer meets first: a bad setting, a question that is not text, the eval options."""
from __future__ import annotations

import re

import pytest


def test_a_bad_number_setting_names_the_variable_and_the_type(monkeypatch):
    from stiqa.config import load_settings

    monkeypatch.setenv("STIQA_TOP_K", "abc")
    with pytest.raises(ValueError) as err:
        load_settings()
    assert "STIQA_TOP_K" in str(err.value) and "整数" in str(err.value) and "abc" in str(err.value)


@pytest.mark.parametrize("question", [123, 1.5, ["SATREPS"], b"SATREPS"])
def test_a_question_that_is_not_text_says_it_must_be_text(assistant, question):
    ans = assistant.ask(question)
    assert ans.backend == "input" and "文字列" in ans.text and "空" not in ans.text


def test_a_blank_question_is_still_called_empty(assistant):
    assert "空" in assistant.ask("  ").text and "空" in assistant.ask(None).text


def test_every_evaluate_option_is_documented(capsys):
    from stiqa.evaluate.run import main

    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    options = re.findall(r"^  (--[\w-]+)( [A-Z_]+)?(.*)$", out, flags=re.M)
    assert len(options) >= 6
    lines = out.splitlines()
    for name, _, rest in options:
        i = next(n for n, line in enumerate(lines) if line.startswith(f"  {name}"))
        described = rest.strip() or (i + 1 < len(lines) and lines[i + 1].startswith(" " * 8))
        assert described, f"{name} has no help"
