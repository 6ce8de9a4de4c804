"""Program finder: rank catalog programs for a described situation, and format them for the CLI.

Why: users describe themselves (「博士課程の学生で3か月海外に行きたい」), not program names. The
situation is read with general rules into the same tags the catalog carries (audience, direction,
region, field, duration), each program is scored on its cited facts, and the facts that decided
the match are shown with their citations, together with what the documents leave open.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from stiqa.catalog.records import FIELD_LABELS, Catalog, Fact, Program, find_program_mentions, mention_key, nfkc, tags_for

from stiqa.catalog.build import build_catalog
from stiqa.records import Answer, Citation

# Situation-only wording (colloquial Japanese and English), applied to lower-cased NFKC text on top
# of the catalog vocabulary. Tags are the catalog's normalised tags.
SITUATION_RULES: dict[str, list[tuple[str, str]]] = {
    "audience": [
        (r"high[- ]?school", "高校生"), (r"学部|undergrad", "大学生"),
        (r"修士|master'?s|graduate student|grad student", "大学院生"),
        (r"博士(課程|学生)|ドクター|\bphd\b|ph\.d|doctoral", "博士後期課程学生"),
        (r"postdoc|post-doc", "ポスドク"), (r"若手|early[- ]career|young (researcher|scientist)", "若手研究者"),
        (r"教授|トップ|一流|professor|top[- ]?(level )?(researcher|scientist)|leading (researcher|scientist)",
         "トップ研究者"),
        (r"(大学|研究機関|機関|研究所)(として|側|が)|本学|our (university|institute)|as an? (university|institution)"
         r"|universit(y|ies) (want|wish|plan|would)", "大学・研究機関"),
        (r"会社|民間|compan(y|ies)|industry|corporate", "企業")],
    "direction": [
        (r"海外(に|へ|で)|海外の(大学|研究機関|研究室|ラボ)(で|に|へ)|留学|行きたい|行って|(?<!from )abroad"
         r"|(?<!from )overseas|\bgo to\b|\bstudy in\b|\bvisit(?!\w* japan)", "送り出し"),
        (r"招(き|く|い|こう)|呼(び|ん|ぶ)|雇(用|い|う)|採用|来日|日本(に|へ)(来|呼)|invit|\bhost|receiv|hir(e|ing)"
         r"|recruit|attract|to japan|visit\w* japan", "受け入れ"),
        (r"共同で研究|協働|連携|一緒に研究|joint (research|project)|collaborat", "共同研究"),
        (r"会いたい|出会|議論|ネットワーク|exchange|\bmeet|conference|symposium|network", "交流")],
    "regions": [
        (r"india(?!n ocean)", "インド"), (r"asean|southeast asia|thailand|vietnam|singapore|indonesia|malaysia", "ASEAN"),
        (r"\bthe us\b|\bu\.s\.|\busa?\b|united states|america", "米国"),
        (r"europe|\beu\b|germany|france|\buk\b|britain", "欧州"), (r"\bg7\b", "G7"),
        (r"developed countr|advanced countr", "先進国"), (r"developing countr|global south|low-income", "途上国"),
        (r"emerging countr|新興", "新興国"), (r"africa", "アフリカ")],
    "fields": [
        (r"\bai\b|artificial intelligence|machine learning|機械学習", "AI"), (r"quantum", "量子"),
        (r"semiconductor", "半導体"), (r"\bbio", "バイオ"), (r"energy", "エネルギー"),
        (r"sdgs|sustainable development", "SDGs"), (r"disaster|災害", "防災"), (r"health|medic", "健康・医療"),
        (r"climate|environment", "環境"), (r"telecom|communication", "通信"), (r"material", "マテリアル")]}
UNSUPPORTED = r"小学生|中学生|児童|幼稚園|保育|elementary|junior high|primary school|children|kids"
DOMESTIC = r"国内(だけ|のみ|で完結)|海外(に|へ)(は)?行かず|国際(的な)?(要素|連携)(は|が)?(不要|なし|ない)" \
           r"|domestic(ally)? only|only (in|within) japan"
RELATED = {"博士後期課程学生": {"大学院生", "若手研究者"}, "大学院生": {"博士後期課程学生", "大学生"},
           "ポスドク": {"若手研究者", "研究者"}, "若手研究者": {"ポスドク", "博士後期課程学生", "研究者"},
           "トップ研究者": {"研究者"}, "研究者": {"若手研究者", "ポスドク", "トップ研究者"}, "大学生": {"大学院生"},
           "途上国": {"新興国", "アフリカ", "グローバル・サウス"}, "新興国": {"途上国"}, "アフリカ": {"途上国"},
           "ASEAN": {"アジア", "グローバル・サウス"}, "インド": {"アジア", "グローバル・サウス"},
           "米国": {"先進国", "G7"}, "欧州": {"先進国", "G7"}, "G7": {"米国", "欧州", "先進国"},
           "先進国": {"G7", "米国", "欧州"}, "アジア": {"ASEAN", "インド"},
           "交流": {"受け入れ", "送り出し"}, "受け入れ": {"交流"}, "送り出し": {"交流"}}
_NUM = {"one": 1, "a": 1, "an": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "nine": 9, "twelve": 12,
        "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6}
_UNIT = r"(週間?|weeks?|か月|ヶ月|ヵ月|カ月|ケ月|箇月|months?|年(?!度)|years?)"
OPPOSITE = {"送り出し": "受け入れ", "受け入れ": "送り出し"}
MIN_SCORE = 4.5
KIND_PENALTY = {"umbrella": -1.5, "initiative": -0.5, "sub": -0.5}  # prefer programs one can apply to
STOP_TERMS = {"want", "would", "like", "with", "from", "for", "the", "and", "our", "research", "researcher",
              "researchers", "japan", "program", "university", "students", "student"}


@dataclass(frozen=True)
class Situation:
    """What the finder understood from the user's description (all as catalog tags)."""

    text: str
    audience: frozenset[str] = frozenset()
    direction: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    fields: frozenset[str] = frozenset()
    duration: tuple[float, float] | None = None
    domestic: bool = False
    unsupported: tuple[str, ...] = ()
    mentions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Match:
    """A ranked program: score, one-line reason, deciding facts (with citations) and open points."""

    program: Program
    score: float
    reason: str
    facts: tuple[tuple[str, Fact], ...]
    open_points: tuple[str, ...] = field(default=())


def _months(text: str) -> tuple[float, float] | None:
    """Duration range in months from 「3ヶ月~1年程度」, 「2年以内」, 「約1~3週間」, "up to two years"."""
    t = nfkc(text).lower()
    t = re.sub(r"\b(one|two|three|four|five|six|nine|twelve|an?)\b(?=\s*" + _UNIT + ")",
               lambda m: str(_NUM[m.group(1)]), t)
    t = re.sub(r"([一二三四五六])(?=" + _UNIT + ")", lambda m: str(_NUM[m.group(1)]), t)
    t = re.sub(r"(\d+(?:\.\d+)?)\s*(?:~|〜|-|から|to)\s*(\d+(?:\.\d+)?)\s*" + _UNIT, r"\1\3~\2\3", t)
    vals = []
    for num, unit in re.findall(r"(\d+(?:\.\d+)?)\s*" + _UNIT, t):
        if float(num) < 100:
            vals.append(float(num) * (0.25 if unit[0] in "週w" else 12 if unit[0] in "年y" else 1))
    if "数週間" in t or "a few weeks" in t or "several weeks" in t:
        vals += [0.25, 1.0]
    if "数か月" in t or "数ヶ月" in t or "a few months" in t or "several months" in t:
        vals += [2.0, 6.0]
    if "半年" in t:
        vals.append(6.0)
    if not vals:
        return None
    lo, hi = min(vals), max(vals)
    if re.search(r"最大|最長|以内|まで|up to|at most|within|less than", t):
        lo = 0.0
    if re.search(r"程度|約|about|around", t):
        lo, hi = lo * 0.8, hi * 1.2
    return lo, hi


def parse_situation(text: str, catalog: Catalog) -> Situation:
    """Tags of the user's position, direction, region, field and duration (general rules, ja + en)."""
    low = nfkc(text).lower()
    tags: dict[str, set[str]] = {}
    for kind in ("audience", "direction", "regions", "fields"):
        found = set(tags_for(kind, text)) - ({"大学・研究機関"} if kind == "audience" else set())
        found |= {tag for pat, tag in SITUATION_RULES[kind] if re.search(pat, low)}
        tags[kind] = found
    if tags["audience"] - {"研究者"} and re.search(r"(?<!若手)(?<!トップ)研究者", text) is None:
        tags["audience"].discard("研究者")
    if re.search(r"researcher|scientist", low) and not tags["audience"] & {"若手研究者", "トップ研究者", "ポスドク"}:
        tags["audience"].add("研究者")
    return Situation(text, frozenset(tags["audience"]), frozenset(tags["direction"]), frozenset(tags["regions"]),
                     frozenset(tags["fields"]), _months(text), bool(re.search(DOMESTIC, low)),
                     tuple(m.group() for m in re.finditer(UNSUPPORTED, low)),
                     tuple(find_program_mentions(text, catalog)))


_BLOBS: dict[int, tuple[Catalog, dict[str, str]]] = {}


def _blobs(catalog: Catalog) -> dict[str, str]:
    """All fact text of each program (``mention_key`` form), cached per catalog object."""
    hit = _BLOBS.get(id(catalog))
    if hit is None or hit[0] is not catalog:
        hit = _BLOBS[id(catalog)] = (catalog, {p.id: mention_key(" ".join(f.value for _, f in p.facts()))
                                               for p in catalog.programs})
    return hit[1]


def _terms(text: str) -> list[str]:
    """Content words of a description not already read as a tag: katakana/kanji runs, Latin words."""
    words = re.findall(r"[一-龥々ァ-ヴー]{2,}|[a-z][a-z0-9\-]{2,}", mention_key(text))
    return [w for w in dict.fromkeys(words) if w not in STOP_TERMS and not any(
        tags_for(k, w) or any(re.search(p, w) for p, _ in SITUATION_RULES[k]) for k in SITUATION_RULES)]


def _tag_score(user: frozenset[str], p: Program, kind: str, full: float, penalty: float
               ) -> tuple[float, list[Fact], str]:
    """Score one tagged dimension: exact tag match, related tag, none (penalty) or unknown (0)."""
    facts = getattr(p, kind)
    exact = [f for f in facts if user & set(f.tags)]
    if exact:
        hit = {t for f in exact for t in f.tags} & user
        if hit == {"研究者"}:  # "researchers" alone says little about who may apply
            return 1.0, exact, "match"
        return full + (len(hit) - 1 if kind == "direction" else 0), exact, "match"
    rel = [f for f in facts if {r for u in user for r in RELATED.get(u, ())} & set(f.tags)]
    if kind == "direction" and {OPPOSITE.get(u, "") for u in user} & p.tags(kind):
        rel = []  # e.g. going abroad vs a program that brings people to Japan: 交流 does not rescue it
    world = [f for f in facts if {"全世界", "全分野"} & set(f.tags)]
    if rel or world:
        return full / 2 if rel else full / 3, rel or world, "related"
    return (penalty, [], "mismatch") if facts else (0.0, [], "unknown")


def _score(p: Program, s: Situation, idf: dict[str, float], blob: str) -> Match:
    """Score one program on its cited facts; collect the deciding facts and what stays open."""
    score, facts, good, bad, open_points = KIND_PENALTY.get(p.kind, 0.0), [], [], [], []
    if p.id in s.mentions:
        score += 6
        good.append("名称の指定")
    for kind, full, penalty in (("audience", 3, -2), ("direction", 3, -2.5), ("regions", 3, -2), ("fields", 2, -1)):
        user = getattr(s, kind)
        if not user:
            continue
        pts, fs, how = _tag_score(user, p, kind, full, penalty)
        if kind == "regions" and how == "match" and p.tags(kind) <= user | {r for u in user for r in RELATED.get(u, ())}:
            pts += 1.5  # a program for exactly this region beats one spanning many
        score += pts
        label = FIELD_LABELS[kind]
        if how in ("match", "related"):
            facts += [(kind, f) for f in fs]
            tags = {t for f in fs for t in f.tags}
            shown = sorted(user & tags or tags) if kind == "direction" else [f.value for f in fs[:2]]
            good.append(f"{label}（{'・'.join(dict.fromkeys(shown))}）")
        elif how == "mismatch":
            bad.append(f"{label}が異なる（資料では{'・'.join(sorted(p.tags(kind)))}）")
        else:
            open_points.append(f"{label}は資料に記載がありません")
    if s.duration:
        fits = [(f, _months(f.value)) for f in p.period]
        fits = [(f, r) for f, r in fits if r]
        if not fits:
            open_points.append("期間は資料に記載がありません")
        else:
            lo, hi = s.duration
            judged = [(f, "fit" if lo >= a * 0.9 and hi <= b * 1.1 else "overlap" if lo <= b and hi >= a else "off")
                      for f, (a, b) in fits]
            best = max(judged, key=lambda x: ("off", "overlap", "fit").index(x[1]))
            score += {"fit": 2.0, "overlap": 0.5, "off": -2.0}[best[1]]
            facts.append(("period", best[0]))
            if best[1] == "off":
                bad.append(f"期間が希望と異なる（資料では{best[0].value}）")
            else:
                good.append(f"期間（{best[0].value}）")
    # rare words shared with the program's text; words about who may apply count extra
    score += min(3.0, 0.4 * sum(idf[t] for t in idf if t in blob))
    who = mention_key(" ".join(f.value for f in p.audience))
    score += min(1.5, 0.5 * sum(idf[t] for t in idf if t in who))
    if s.domestic:
        score -= 8
        bad.append("資料の制度はすべて国際的な取組")
    if s.unsupported:
        score -= 6
        bad.append(f"対象者（{s.unsupported[0]}）を支援する記載なし")
    reason = ("、".join(good) + "が条件に合います" if good else "関連する記述があります")
    if bad:
        reason += "。ただし" + "、".join(bad)
    open_points.append("応募時期・締切は資料に記載がありません")
    if not p.agency:
        open_points.append("実施機関（JST・JSPS など）は資料に記載がありません")
    if not p.amount:
        open_points.append("支援額は資料に記載がありません")
    if p.kind == "umbrella":
        open_points.append("複数の事業をまとめた予算項目です（個別の事業を確認してください）")
    positive = bool(good) and any(not g.startswith("期間") for g in good)
    return Match(p, round(score, 2) if positive else min(round(score, 2), 0.0), reason,
                 tuple(facts), tuple(dict.fromkeys(open_points)))


def find_programs(catalog: Catalog, situation: str, *, top: int = 5) -> list[Match]:
    """Best programs for a situation; empty when nothing clears the bar (say so plainly)."""
    s = parse_situation(situation, catalog)
    blobs = _blobs(catalog)
    n = len(catalog.programs)
    idf = {}
    for t in _terms(situation):
        df = sum(1 for b in blobs.values() if t in b)
        if 0 < df <= n / 3:
            idf[t] = math.log(n / df)
    matches = [_score(p, s, idf, blobs[p.id]) for p in catalog.programs]
    matches = [m for m in matches if m.score >= MIN_SCORE]
    return sorted(matches, key=lambda m: (-m.score, m.program.kind != "program"))[:top]


# --- formatting -----------------------------------------------------------------------------------
NO_MATCH = ("条件に合う制度は資料に見当たりません。資料（令和5年度予算案・国際戦略 令和7年10月）の制度は"
            "いずれも国際的な研究・交流の支援で、この状況を対象とする記述はありません。")


def _width(text: str) -> int:
    return sum(2 if ord(c) > 0x2E7F else 1 for c in text)


def _cell(text: str, width: int) -> str:
    out = ""
    for c in text:
        if _width(out + c) > width - (1 if _width(text) > width else 0):
            return out + "…" + " " * (width - _width(out) - 1)
        out += c
    return out + " " * (width - _width(out))


def _latest_budget(p: Program) -> str:
    if not p.budgets:
        return "—"
    def year(b: Any) -> int:
        m = re.search(r"令和(\d+)", b.fiscal_year)
        return int(m.group(1)) if m else 0
    b = max(p.budgets, key=lambda b: (year(b), b.kind != "前年度予算額"))
    return f"{b.fiscal_year}{b.kind} {b.amount}"


def format_programs_table(catalog: Catalog) -> str:
    """Readable table of every program (for ``stiqa programs``), then any data problems."""
    cols = (("ID", 26), ("名称", 36), ("略称", 9), ("対象", 24), ("方向", 16), ("期間", 16), ("直近の予算", 34))
    lines = ["  ".join(_cell(h, w) for h, w in cols).rstrip()]
    lines.append("  ".join("-" * w for _, w in cols))
    for p in catalog.programs:
        abbr = next((a.value for a in p.aliases if re.fullmatch(r"[A-Za-z][A-Za-z0-9\-]*", a.value)), "")
        row = (("  " if p.kind == "sub" else "") + p.id, p.name.value, abbr, "・".join(sorted(p.tags("audience"))),
               "・".join(sorted(p.tags("direction"))), " / ".join(f.value for f in p.period[:2]), _latest_budget(p))
        lines.append("  ".join(_cell(v or "—", w) for v, (_, w) in zip(row, cols)).rstrip())
    n = sum(1 for p in catalog.programs for _ in p.facts())
    lines.append(f"\n{len(catalog.programs)} 件の制度、{n} 件の値（すべて出典の行つき）。詳細は --json。")
    if catalog.problems:
        lines.append(f"資料との照合で {len(catalog.problems)} 件の注意:")
        lines += [f"  - {x}" for x in catalog.problems]
    return "\n".join(lines)


def format_matches(matches: list[Match]) -> str:
    """Ranked list: name, one-line reason, deciding facts with 〔file Lx-y〕, open points."""
    if not matches:
        return NO_MATCH
    out = []
    for i, m in enumerate(matches, 1):
        p = m.program
        abbr = next((a.value for a in p.aliases if re.fullmatch(r"[A-Za-z][A-Za-z0-9\-]*", a.value)), "")
        out.append(f"{i}. {p.name.value}{f'（{abbr}）' if abbr else ''} {p.name.cite()}  スコア {m.score:.1f}")
        out.append(f"   理由: {m.reason}")
        shown: dict[str, int] = {}
        for kind, f in m.facts:
            shown[kind] = shown.get(kind, 0) + 1
            if shown[kind] <= 2:
                out.append(f"   - {FIELD_LABELS.get(kind, kind)}: {f.value} {f.cite()}")
        out += [f"   - {FIELD_LABELS[k]}: {getattr(p, k)[0].value} {getattr(p, k)[0].cite()}"
                for k in ("amount", "expenses") if getattr(p, k) and k not in shown][:1]
        out += [f"   ※ {x}" for x in m.open_points]
    return "\n".join(out)


def answer_situation(catalog: Catalog, question: str, *, top: int = 3) -> Answer | None:
    """Chat hook for 「どの制度が合う？」: a cited answer, a plain 'none fits', or None (no situation)."""
    s = parse_situation(question, catalog)
    if not any((s.audience, s.direction, s.regions, s.fields, s.duration, s.mentions, s.domestic, s.unsupported)):
        return None
    matches = find_programs(catalog, question, top=top)
    if not matches:
        return Answer(question, NO_MATCH, [], True, backend="catalog")
    text = "資料から、次の制度が合いそうです。\n" + "\n".join(
        f"{i}. {m.program.name.value}：{m.reason}。" for i, m in enumerate(matches, 1))
    text += "\n" + "\n".join(f"※ {x}" for x in matches[0].open_points)
    titles: dict[str, tuple[str, str]] = {}
    lines: dict[str, list[str]] = {}
    if catalog.corpus_dir:
        from stiqa.ingest.files import read_metadata_table
        titles = read_metadata_table(Path(catalog.corpus_dir))
    cites: dict[tuple[str, int, int], Citation] = {}
    for m in matches:
        for _, f in (("name", m.program.name), *m.facts):
            old = cites.get((f.source, f.line_start, f.line_end))
            if old is not None:  # one card per passage; highlight the longest value cited in it
                if len(f.value) > len(old.span) and f.value in old.text:
                    cites[(f.source, f.line_start, f.line_end)] = replace(old, span=f.value)
                continue
            if f.source not in lines:
                try:
                    lines[f.source] = (Path(catalog.corpus_dir) / f.source).read_text(encoding="utf-8").splitlines()
                except (OSError, UnicodeDecodeError):
                    lines[f.source] = []
            passage = "\n".join(lines[f.source][f.line_start - 1:f.line_end]) or f.value
            cites[(f.source, f.line_start, f.line_end)] = Citation(
                f.source, titles.get(f.source, (f.source, ""))[0], m.program.name.value, f.line_start, f.line_end,
                passage, f.value if f.value in passage else "")
    return Answer(question, text, list(cites.values()), False, backend="catalog")


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Catalog):
        return {"programs": [asdict(p) for p in obj.programs], "problems": list(obj.problems)}
    if isinstance(obj, Match):
        return {"id": obj.program.id, "name": obj.program.name.value, "score": obj.score, "reason": obj.reason,
                "facts": [{"field": k, **asdict(f)} for k, f in obj.facts], "open_points": list(obj.open_points),
                "program": asdict(obj.program)}
    if isinstance(obj, list):
        return [_jsonable(x) for x in obj]
    return asdict(obj)


def to_json(obj: Catalog | Match | list[Match]) -> str:
    """JSON text for ``--json``: a catalog, a match or a list of matches."""
    return json.dumps(_jsonable(obj), ensure_ascii=False, indent=2)


def programs_command(corpus_dir: Path, situation: str | None, as_json: bool) -> str:
    """``stiqa programs [SITUATION] [--json]``: the catalog table, or the programs fitting a situation."""
    catalog = build_catalog(Path(corpus_dir))
    if not situation or not situation.strip():
        return to_json(catalog) if as_json else format_programs_table(catalog)
    matches = find_programs(catalog, situation)
    if as_json:
        return json.dumps({"situation": situation, "no_match": not matches, "message": "" if matches else NO_MATCH,
                           "matches": _jsonable(matches), "problems": list(catalog.problems)},
                          ensure_ascii=False, indent=2)
    text = format_matches(matches)
    return text + (f"\n（資料との照合で {len(catalog.problems)} 件の注意があります: stiqa programs で確認）"
                   if catalog.problems else "")
