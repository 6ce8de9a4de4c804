"""The Japanese prompts of the LLM backend, kept apart so they can be read and tuned in one place.

Our own words, not LlamaIndex's English defaults: answer only from the numbered sources, cite
them as [n], copy figures as written, and say 「資料には記載が見つかりませんでした」 otherwise.
"""
from __future__ import annotations

from collections.abc import Sequence

from stiqa.records import Chunk

NOT_FOUND = "資料には記載が見つかりませんでした。"

ANSWER_SYSTEM = f"""あなたは文部科学省の科学技術・学術政策に関する資料について質問に答えるアシスタントです。
次の規則を必ず守ってください。
1. 番号付きの「資料」に書かれていることだけを使って答えてください。一般知識や推測で補ってはいけません。
2. 根拠にした資料を、その内容を述べた文の末尾に [1] のように番号で示してください。複数なら [1][2] とします。与えられていない番号は使わないでください。
3. 金額・件数・人数・年度・日付などの数値は、資料の表記のまま書き写してください。単位の換算、合計や差の計算、四捨五入はしないでください。
4. 資料に答えが書かれていなければ、「{NOT_FOUND}」とだけ答えてください。
5. 簡潔に答えてください（三文程度まで）。質問が日本語なら日本語で、英語なら英語で答えてください。"""

ANSWER_USER = """資料：
{sources}

質問：{question}"""

CONDENSE_SYSTEM = "あなたは会話の中の質問を、単独で意味が通じる質問に書き換える係です。質問には答えないでください。"

CONDENSE_USER = """以下は利用者とアシスタントの会話と、利用者の新しい質問です。
新しい質問を、会話を読まなくても意味が分かる一つの独立した質問に書き換えてください。
「その」「それ」「同じ」などの指示語や、省略された主語（事業名・制度名・年度など）は会話から補ってください。
新しい質問がすでに独立していれば、そのまま出力してください。
答えは書かず、書き換えた質問だけを一行で出力してください。

会話：
{history}

新しい質問：{question}
独立した質問："""


def format_source(n: int, chunk: Chunk) -> str:
    """One numbered source with the metadata the model should see (title, date, heading, program)."""
    head = [f"[{n}] 文書：{chunk.title or chunk.source}" + (f"（{chunk.date}）" if chunk.date else "")]
    if chunk.section:
        head.append(f"見出し：{chunk.section}")
    if chunk.program and chunk.program not in chunk.section:
        head.append(f"事業：{chunk.program}")
    return " / ".join(head) + "\n" + chunk.text.strip()


def format_sources(chunks: Sequence[Chunk]) -> str:
    return "\n\n".join(format_source(i, c) for i, c in enumerate(chunks, 1))


def answer_messages(question: str, chunks: Sequence[Chunk]) -> list[tuple[str, str]]:
    return [("system", ANSWER_SYSTEM),
            ("user", ANSWER_USER.format(sources=format_sources(chunks), question=question))]


def condense_messages(question: str, history: Sequence[tuple[str, str]], *,
                      answer_chars: int = 200) -> list[tuple[str, str]]:
    """``history`` is (user question, assistant answer) pairs, oldest first."""
    lines = []
    for q, a in history:
        lines.append(f"利用者：{q}")
        if a:
            a = " ".join(a.split())
            lines.append(f"アシスタント：{a[:answer_chars]}{'…' if len(a) > answer_chars else ''}")
    return [("system", CONDENSE_SYSTEM),
            ("user", CONDENSE_USER.format(history="\n".join(lines), question=question))]
