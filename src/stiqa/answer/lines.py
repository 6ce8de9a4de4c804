"""The line that answers, when no typed reader does: an abbreviation's full name from the documents'
own 「ABBR: 名称」/「名称（ABBR）」 forms, the best-scoring line of the hits, and saying it in one
Japanese sentence that names its subject. A mixin of ``Answerer`` (it scores with ``Relevance``)."""
from __future__ import annotations

import re

from stiqa.text.japanese import compact, normalize, person_names, tokens
from stiqa.records import Chunk, Hit
from stiqa.answer.passages import DAY, Unit, around, clean
from stiqa.answer.passages import subject as subject_of
from stiqa.answer.passages import units as passage_units
from stiqa.answer.question import WHO as _WHO, Query
from stiqa.answer.money import MONEY_WORDS
from stiqa.answer.tables import names_entry
from stiqa.answer.relevance import GENERIC_VERBS


class Lines:
    """Abbreviations, the best line, and how a chosen line is said."""

    def _abbrev(self, q: Query, hits: list[Hit]):
        """Full name of an abbreviation, from the documents' own 「ABBR: 名称」/「名称（ABBR）」 forms."""
        asked = re.search(r"([A-Za-z][A-Za-z0-9\-]+)\s*(?:は|って|とは|の正式|の略|の日本語|stand|の英語)", q.text)
        terms = sorted(q.salient, key=lambda t: 0 if asked and asked.group(1) == t else 1)
        for term in terms:
            t = re.escape(normalize(term))
            rx = [re.compile(rf"(?<![A-Za-z]){t}\s*[:：]\s*([^\s:：()（）A-Z]{{4,}})"),
                  re.compile(rf"([^\s\t「」()（）:：、。]{{4,}})\s*[（(]{t}[）)]"),
                  re.compile(rf"(?<![A-Za-z]){t}[^()（）\n]{{0,20}}\s*[（(]([A-Z][A-Za-z &]{{6,}})[）)]"),
                  re.compile(rf"[（(]([A-Z][A-Za-z &]{{6,}}?)\s*[:：]\s*{t}[）)]"),
                  # a heading or list item 「2. NEXUS 日ASEAN科学技術・イノベーション協働連携事業」: the name after
                  # the abbreviation, when it is a name of its kind (…プログラム, …事業)
                  re.compile(rf"(?<![A-Za-z]){t}\s+([一-龯ァ-ヴー・]{{4,}}(?:事業|プログラム|制度|基金|イニシアティブ|会議|計画))")]
            names: list[tuple[str, Chunk]] = []
            for chunk in [h.chunk for h in hits] + self.searcher.chunks:
                body = normalize(chunk.text)
                for r in rx:
                    for m in r.finditer(body):
                        name = m.group(1).strip("「」 ")
                        if name not in [n for n, _ in names]:
                            names.append((name, chunk))
            if names:
                main, chunk = names[0]
                others = [n for n, _ in names[1:3]]
                text = f"{term}は「{main}」です。"
                if others:
                    text += "資料では" + "、".join(f"「{n}」" for n in others) + "とも表記されています。"
                used = [chunk] + [c for n, c in names[1:3] if c.id != chunk.id]
                return text, used[:3], main
        return None

    def _best_line(self, q: Query, hits: list[Hit], top: int = 1, need: float = 0.34):
        units = passage_units(hits, following=lambda c: self._after.get(c.id))
        want = self._figure(q)
        if q.qtype == "amount":
            # a program's total budget does not answer "how much per project / per person"
            units = [u for u in units if not re.search(r"予算額|要求|要望額|補正", u.text)]
        if want is not None:
            # a count question is answered by a line with a count (or a table cell with a number)
            units = [u for u in units if want.search(normalize(u.text))
                     or (q.qtype == "count" and re.search(r"\t\s*\d[\d,]*\s*(\t|$)", u.text))]
        who = _WHO.search(q.text)
        if who and q.qtype == "fact" and not re.search(r"対象|資格|応募", who.group(1) or ""):  # 対象者は誰 asks who is eligible
            # 「…は誰？」 is answered by a line naming a person, in the role asked about when the
            # role is specific (文部科学大臣, not a 文部科学大臣表彰 award)
            role = "" if re.fullmatch(r"(研究者|人|方|人物|者|代表者)", who.group(1) or "") else who.group(1) or ""
            units = [u for u in units if person_names(u.text)
                     and (not role or re.search(re.escape(role) + r"(?![一-龯])", normalize(u.label + u.text)))]
            named = 0.5  # a bare name line 「上田 宏（東京工業大学 教授）」 is the answer here, not a label
        else:
            named = 0.0
        if q.qtype == "date" and re.search(r"何日|何月何|what date|which day", q.text, re.I):
            units = [u for u in units if DAY.search(normalize(u.text))] or units  # 「何年何月何日」 asks for a day
        if not units:
            return None
        scored = [(self._score(q, u) + named, u) for u in units]
        scored.sort(key=lambda su: -su[0])
        verdicts: dict[tuple[str, str], bool] = {}
        money = q.qtype in ("budget", "amount")
        # as for _money: 「総額は？」 says how much, not what about
        attrs = [a for a in self._attrs if a not in MONEY_WORDS] if money else self._attrs
        # the names asked about (九州大学) are for the passage to name; the line must say the rest
        names = {t for n in list(q.proper) + re.findall(r"[一-龯ァ-ヴ]+(?:大学|研究所|研究機構)", q.text)
                 for t in tokens(n)}

        def covered(u: Unit) -> bool:
            key = (u.chunk.id, u.label)
            if key not in verdicts:
                verdicts[key] = self._covers(q, attrs, f"{u.label} {u.chunk.context_text}", need)
            # the line itself (with its label and heading) says something of what is asked
            own = f"{u.label} {u.text} {u.chunk.section.rsplit(' > ', 1)[-1]} {around(u)}"
            asked = [a for a in attrs if a not in GENERIC_VERBS and a not in names]
            return verdicts[key] and self._speaks_of_topic(u) and (
                q.english or not asked or self._overlap(q, own, asked) > 0)

        # the best line of a passage that speaks of what is asked (a higher-scoring line of a
        # passage about something else does not make the answer unknown); a sum of money is
        # never taken from further down: only the best money line may answer
        candidates = scored[:1] if money else scored
        at = next((i for i, (sc, u) in enumerate(candidates) if sc >= 0.55 and covered(u)), None)
        if at is None:
            return None
        scored = scored[at:]
        score, best = scored[0]
        if top == 1 and len(scored) > 1:
            # a fact may take two close lines; any answer quotes both of two lines it cannot tell apart
            top = 2 if scored[1][0] >= (0.85 if q.qtype == "fact" else 0.999) * score else 1
        if top > 1:  # a second line from the same passage, e.g. the count beside a list
            extra = next((u for _, u in scored[1:] if u.chunk.id == best.chunk.id and u.line != best.line), None)
            if extra is not None:
                text, used, span = self._render(q, best)
                return f"{text}また「{clean(extra.text)}」とあります。", used, span
        return self._render(q, best)

    def _render(self, q: Query, best: Unit):
        line = clean(best.text)
        cells = [c for c in re.split(r"\t+", best.text.strip()) if c.strip()]
        subject = subject_of(best.chunk)
        pair = self._table_pair(q, cells)
        header = clean(best.chunk.text.split("\n")[0])
        if pair:
            text = f"{subject}の「{header}」では「{pair[0]} {pair[1]}」となっています。"
        elif len(cells) == 2 and len(cells[0]) <= 20:
            text = f"{subject}の{clean(cells[0])}は「{clean(cells[1])}」です。"
        elif best.label and len(line) <= 60 and not best.label.lstrip().startswith("#") \
                and compact(best.label) not in compact(subject):
            text = f"{subject}の{clean(best.label).strip('【】■●◆ ')}は「{line}」です。"
        else:
            text = f"{subject}について、資料には「{line}」とあります。"
        return text, [best.chunk] + ([best.more] if best.more else []), line

    @staticmethod
    def _table_pair(q: Query, cells: list[str]) -> tuple[str, str] | None:
        """In a row like 「米国 51 イタリア 6」 the figure after the cell the question names."""
        if len(cells) < 2:
            return None
        for i, cell in enumerate(cells[:-1]):
            if len(cell) >= 2 and names_entry(q.text, cell) and re.fullmatch(r"[\d,.]+", cells[i + 1].strip()):
                return cell.strip(), cells[i + 1].strip()
        return None
