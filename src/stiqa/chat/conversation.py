"""Conversation: follow-ups (「その予算は？」) read against earlier turns, one logic for every face.

The web chat, ``stiqa chat``, the Python API and ``stiqa eval`` (replaying ``history``) all go
through ``Conversation.ask``. The reading of a follow-up is shown (「解釈：…」) so a user can see
and correct a misreading.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from stiqa.text.japanese import normalize
from stiqa.records import Answer
from stiqa.answer.question import COMPARE, analyze
from stiqa.chat.llm import ask_with_llm
from stiqa.chat.turns import Turn, check_question


class Engine(Protocol):
    """What a conversation asks of the engine (``stiqa.engine.Assistant``): the engine makes
    conversations, so the conversation knows it only by this interface, never by import."""

    settings: Any

    def answer(self, question: str, *, interpretation: str = "") -> Answer: ...

    def mentions(self, text: str) -> list[list[str]]: ...

    def in_corpus(self, phrase: str) -> bool: ...


_PRONOUN = re.compile(r"^(その|それ|この|あの|同じ|同|当該|そちら|こちら|これ|あれ)(事業|制度|プログラム|施策)?(の|は|って|で|に|、)?")
_OPENERS = re.compile(r"^(では|じゃあ|じゃ|で、|それでは|それじゃ|また|あと|ちなみに|and |what about |how about )", re.I)
_ATTRIBUTE = re.compile(r"予算|件数|人数|期間|支援額|対象者|開始|正式名称|目的|相手国|採択|いくら|何人|何件|いつ")
_EN_PRONOUN = re.compile(r"\b(its|it|this program|that program|the program|this scheme)\b", re.I)


def _swap(previous: str, phrase: str) -> str:
    """The previous question with its noun of the same kind replaced by ``phrase`` ('' if none).

    Two nouns are of a kind when they end alike (導入支援 / 本格支援, 大学院生 / 博士研究員 do not).
    """
    m = re.fullmatch(r"([一-龯ァ-ヴー]{3,})(は|では|だと|の場合は?|って)?[？?。]*", phrase.strip())
    if not m:
        return ""
    new = m.group(1)
    head = new[-2:]
    for old in re.findall(r"[一-龯ァ-ヴー]{3,}", previous):
        if old != new and old.endswith(head) and len(old) <= len(new) + 2:
            return previous.replace(old, new, 1)
    return ""


_NUMBERED = re.compile(r"第\s*(\d+)\s*(期|回|次|号|部|章)")
_ASKING = re.compile(r"(は|を|って|では)?\s*(いくら|幾ら|何|どの|どれ|どこ|いつ|誰|教えて|について|を?知りたい).*$")
_ERA_YEAR = re.compile(r"(令和|平成|昭和)\s*(\d+|元)\s*年度?")


def carry_subject(previous: str, question: str) -> str:
    """An elliptic follow-up read with the previous question's subject ('' when it is not one).

    Works without any list of names, for any document: 「前年度は？」 after 「…での○○事業の
    要求額は？」 becomes 「…での○○事業の前年度は？」; 「では第2期は？」 after 「第1期の
    …の期間」 is the same question of its numbered sibling; 「And how much …?」 keeps the name asked about.
    """
    q = normalize(question).strip()
    prev = normalize(previous).strip()
    mine, theirs = _NUMBERED.search(q), _NUMBERED.search(prev)
    if mine and theirs and mine.group(2) == theirs.group(2) and mine.group(1) != theirs.group(1):
        return prev[:theirs.start()] + mine.group(0) + prev[theirs.end():]
    if not re.search(r"[ぁ-んァ-ヴ一-龯]", q):  # English: keep the names the previous question asked about
        names = [n for n in re.findall(r"[A-Z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)+|[A-Z]{2,}[A-Za-z0-9]*", prev)
                 if n not in q]
        return f"{q.rstrip('?')} ({', '.join(names)})?" if names and _OPENERS.match(q) else ""
    body = _PRONOUN.sub("", _OPENERS.sub("", q).lstrip("、, ")).lstrip("、, ")
    body = re.sub(r"^(その|この)?うち", "うち", body)
    if not (_OPENERS.match(q) or _PRONOUN.match(q) or len(body) <= 20) or len(body) > 40:
        return ""
    core = _ASKING.sub("", prev)
    subject = core.rsplit("の", 1)[0] if "の" in core else core
    if _ERA_YEAR.search(body):
        subject = _ERA_YEAR.sub("", subject).lstrip("のでにおける、 ")
    if len(subject) < 2 or subject in body:
        return ""
    return f"{subject}の{body}"


_RANK_PHRASE = re.compile(r"(一番|最も|もっとも)(?=多|大き|高|少な)|\d+番目に?(?=多|大き|高|少な)")


def _reorder(previous: str, question: str) -> str:
    """The previous ranking question asked for the place in ``question`` ('' if not one)."""
    from stiqa.answer.tables import rank_asked

    asked, before = rank_asked(question), rank_asked(previous)
    m = _RANK_PHRASE.search(normalize(previous))
    if not (asked and before and m) or len(question) > 12:
        return ""
    return normalize(previous)[:m.start()] + f"{asked[0]}番目に" + normalize(previous)[m.end():]


def _short_name(group: list[str]) -> str:
    """How to name a program in a rewritten question: its abbreviation when it has one."""
    ascii_names = [n for n in group if re.fullmatch(r"[A-Za-z][A-Za-z0-9\- ]{1,20}", n)]
    return ascii_names[0] if ascii_names else group[0]


@dataclass
class Conversation:
    """One user's conversation state (each web session holds its own)."""

    assistant: Engine
    turns: list[Turn] = field(default_factory=list)

    def topic(self) -> list[str]:
        for t in reversed(self.turns):
            if t.topic:
                return t.topic
        return []

    def resolve(self, question: str) -> tuple[str, list[str]]:
        """The question with its omitted subject filled in from earlier turns, and its topic."""
        q = normalize(question).strip()
        own = self.assistant.mentions(q)
        if own:
            # 「若手研究者海外挑戦プログラムは？」 after 「…の新規採用人数は？」: same question, new program
            rest = q
            for n in sorted(own[0], key=len, reverse=True):
                rest = rest.replace(normalize(n), "")
            if not re.sub(r"[はっての？?。、\s]|では|について|だと|の場合", "", rest) and self.turns:
                last = _ATTRIBUTE.search(self.turns[-1].resolved)
                if last:
                    return re.sub(r"(は|って|では|だと)?[？?。]*$", "", q) + f"の{last.group(0)}は？", own[0]
            return q, own[0]
        prev = self.topic()
        if not prev:
            # no named program to carry: the previous question's own subject is carried instead
            return (carry_subject(self.turns[-1].resolved, q) if self.turns else "") or q, []
        salient = analyze(q).salient
        if salient:  # names something the alias table does not know: a new topic
            return q, [salient[0]]
        head = re.match(r"^([一-龯ァ-ヴー]{3,})の", q)
        if head and not _ATTRIBUTE.search(head.group(1)) and not self.assistant.in_corpus(head.group(1)):
            return q, []  # 「月面基地の建設費用は？」 has its own subject, unknown to the documents
        name = _short_name(prev)
        body = _OPENERS.sub("", q)
        elliptic = (analyze(body).qtype == "fact" and len(body) <= 14 and not _ATTRIBUTE.search(body)
                    and not COMPARE.search(body))
        if _EN_PRONOUN.search(body):
            body = _EN_PRONOUN.sub(name, body, count=1)
        elif _PRONOUN.match(body):
            body = _PRONOUN.sub(f"{name}の", body, count=1)
        elif len(body) <= 30:
            body = f"{name}の{body}"
        else:
            return q, []
        # 「導入支援は？」 after 「本格支援だと1人あたり年間いくら？」: the same question about the other one
        swapped = _swap(self.turns[-1].resolved, _OPENERS.sub("", q)) if elliptic and self.turns else ""
        # 「2番目は？」 after 「…で一番多いのは？」: the same ranking, another place
        swapped = swapped or (_reorder(self.turns[-1].resolved, q) if elliptic and self.turns else "")
        if swapped:
            return swapped, prev
        # 「前年度は？」 after a budget question keeps the attribute that was asked
        if elliptic and self.turns:
            last = _ATTRIBUTE.search(self.turns[-1].resolved)
            if last:
                body = re.sub(r"(は|って)?[？?。]*$", "", body) + f"の{last.group(0)}は？"
        # 「前年度と比べて増えた？」 is relative: to the fiscal year the conversation is about
        year = _ERA_YEAR.search(self.turns[-1].resolved) if self.turns else None
        if year and "前年度" in body and not _ERA_YEAR.search(body):
            body = body.replace("前年度", f"{year.group(0)}の前年度", 1)
        return body, prev

    def ask(self, question: str, *, use_llm: bool = True) -> Answer:
        if use_llm and (self.assistant.settings.llm_url or self.assistant.settings.llm_gguf):
            return ask_with_llm(self, question)  # guarded LLM answer; falls back to ask(use_llm=False)
        problem = check_question(question, self.assistant.settings.max_question_chars)
        if problem:  # junk is never read as a follow-up of the previous turn
            ans = Answer(question, problem, [], True, backend="input")
            self.turns.append(Turn(question, question, [], ans))
            return ans
        resolved, topic = self.resolve(question)
        asked = normalize(question).strip()
        interpretation = f"解釈：{resolved}" if resolved != asked else ""
        alone = None
        if resolved != asked and self._names_own_subject(asked):
            # a follow-up that names its own subject (「国際頭脳循環の予算の合計は？」 after a SATREPS
            # question) is read as it stands when the documents answer it so; the carried reading
            # only when they do not
            alone = self.assistant.answer(asked)
        if alone is not None and not alone.abstained:
            found = self.assistant.mentions(asked)
            ans, resolved, topic = alone, asked, found[0] if found else []
        else:
            ans = self.assistant.answer(resolved, interpretation=interpretation)
        ans.question = question
        if not topic and not ans.abstained:
            # a question without a program (「博士課程で海外に行きたい」) takes the program it was answered with
            found = self.assistant.mentions(ans.text)
            topic = found[0] if found else []
        self.turns.append(Turn(question, resolved, topic, ans))
        return ans

    def _names_own_subject(self, question: str) -> bool:
        """The question opens with a subject of its own that the documents know (「国際頭脳循環の…」),
        not an attribute of the last one (「前年度の…」, 「その予算は」)."""
        head = re.match(r"^([一-龯ァ-ヴーA-Za-z]{3,})の", question)
        return bool(head and not _ATTRIBUTE.search(head.group(1)) and self.assistant.in_corpus(head.group(1)))

    def replay(self, history: list[str]) -> None:
        for q in history:
            self.ask(q)
