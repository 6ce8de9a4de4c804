"""People's names as the who-questions need them: Japanese surname + given name, and foreign names
in katakana (with or without the middle dot), never a single common word."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("text,names", [
    ("上田 宏（東京工業大学 教授）", ["上田 宏"]),
    ("ルイ・パスツールが白鳥の首フラスコを考案した", ["ルイ・パスツール"]),
    ("この実験はパスツールが行った", ["パスツール"]),
    ("予算額は1,073百万円である", []),
])
def test_person_names(text, names):
    from stiqa.text.japanese import person_names

    assert person_names(text) == names
