"""What a conversation is made of: its turns, and what a question may be before anyone reads it."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from stiqa.records import Answer
from stiqa.text.japanese import normalize


@dataclass
class Turn:
    question: str
    resolved: str
    topic: list[str]  # the names of the program/topic this turn was about
    answer: Answer


def check_question(question: Any, limit: int) -> str:
    """A clear message for input that cannot be a question; '' when it is fine."""
    if question is not None and not isinstance(question, str):
        return f"質問は文字列で渡してください（{type(question).__name__} が渡されました）。"
    if not question or not question.strip():
        return "質問が空です。質問を入力してください。"
    if len(question) > limit:
        return f"質問が長すぎます（{len(question):,} 文字）。{limit:,} 文字以内で入力してください。"
    if not re.search(r"[\w\u3040-\u30ff\u4e00-\u9fff]", normalize(question)):
        return "質問として読める文字がありません。"
    return ""
