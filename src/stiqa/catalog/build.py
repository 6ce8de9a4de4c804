"""Program catalog: one record per program/initiative, every value with its file + line citation.

Why: the answerer, the program finder and query expansion need facts they can cite. Values are
extracted by rules from the corpus text where the text allows it (abbreviation definitions,
budget lines, scheme rows, purposes) and come from the reviewed ``data/programs.json`` otherwise
(which also holds the tag vocabulary shared with the finder).
Every value is checked against its cited lines at build time; a value found elsewhere in the file
is reported as moved (and used from there), one found nowhere as vanished (and dropped).
"""
from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Any

from stiqa.ingest.chunker import compact_name
from stiqa.catalog.records import Budget, Catalog, DATA_FILE, Fact, LIST_FIELDS, Program, TAGGED, _alias_regex, _find, load_vocabulary, match_key, mention_key, nfkc, tags_for
from stiqa.catalog.verify import _load_data, _read_corpus, _verify

log = logging.getLogger(__name__)


# --- scheme-row keys (NFKC) -> field ----------------------------------------------------------
ROW_KEYS = {"支援対象者": "audience", "対象者": "audience", "支援対象機関": "audience",
            "対象機関・件数": "audience", "支援額": "amount", "支援規模": "amount", "事業規模": "amount",
            "支援経費": "expenses", "経費": "expenses", "事業開始時期": "start", "開始": "start",
            "事業期間": "period", "支援期間": "period", "渡航期間": "period", "受入期間": "period",
            "期間": "period", "事業実施期間": "period", "新規採用人数(見込み)": "headcount",
            "受入人数": "headcount", "国・地域:課題数": "headcount", "対象国・地域": "regions"}
ROW_DIRECTION = {"渡航期間": "送り出し", "受入期間": "受け入れ", "受入人数": "受け入れ"}
SPACE_KEYS = ("事業実施期間", "事業規模", "支援期間", "支援規模")
_KEY_ALT = "|".join(sorted(map(re.escape, ROW_KEYS), key=len, reverse=True))
COLON_RE = re.compile(rf"(?:^|(?<=[\s■●]))({_KEY_ALT})\s*:\s*")
SPACE_RE = re.compile(rf"(?:^|(?<=\s))({'|'.join(SPACE_KEYS)})\s+(\S+)")
BRACKET_RE = re.compile(rf"^【({_KEY_ALT})】$")
LABEL_RE = re.compile(r"(令和\d+年度)(第\d+次)?(補正)?予算額(\(案\))?|(令和\d+年度)要求・要望額|前年度予算額?")
AMOUNT_RE = re.compile(r"\d[\d,]*(?:\.\d+)?(?:百万円|億円)")
DEF_RE = re.compile(r"([A-Za-z][A-Za-z0-9\-]*)\s*:\s*([^\s:]+)")
PAREN_RE = re.compile(r"([^\s「」『』()<>:、。*]{1,80})\(([A-Za-z][A-Za-z0-9\-& ]*[A-Za-z0-9])\)")
ANGLE_RE = re.compile(r"^#+\s*(\S+)\s*<([^>]+)>\s*$")
NAME_SUFFIX = ("事業", "プログラム", "連携", "研究", "シンポジウム", "ミーティング", "会議", "準参加", "Initiative")
PURPOSE_HEAD_RE = re.compile(r"^[#\s【]*(事業の)?目的(・概要|・目標)?】?$|^【事業目的】$")
LEAD_RE = re.compile(r"^[\s\-・●◆■▶>#\d.「『(]+")


# --- extraction by rule -------------------------------------------------------------------------
Item = tuple[str, str, Fact]  # (program id, field, fact)
Section = tuple[str | None, int, str, bool]  # (program id, heading line, heading text, directly under it)


def _known(name: str, known: dict[str, str]) -> str | None:
    """Program a written name refers to: exact alias, or a known name followed by '/…' (名称/プログラム)."""
    k = mention_key(name)
    return known.get(k) or next((known[a] for a in sorted(known, key=len, reverse=True)
                                 if k.startswith(a + "/")), None)


def _alias_facts(texts: dict[str, list[str]], known: dict[str, str]) -> list[Item]:
    """Abbreviations from 「ABBR: 名称」, 「名称(ABBR)」 and headings 「名称 <別称>」, to a fixed point."""
    cands = []
    for src, lines in texts.items():
        for i, line in enumerate(lines, 1):
            t = nfkc(line)
            cands += [(m.group(2), m.group(1), src, i, False) for m in DEF_RE.finditer(t)]
            cands += [(m.group(1), m.group(2), src, i, False) for m in PAREN_RE.finditer(t)]
            cands += [(m.group(1), m.group(2), src, i, True) for m in [ANGLE_RE.match(t)] if m]
    out: list[Item] = []
    changed = True
    while changed:
        changed = False
        for name, alt, src, i, angle in cands:
            pn, pa = _known(name, known), known.get(mention_key(alt))
            new = []
            if pn and not pa and (angle or re.fullmatch(r"[A-Za-z][A-Za-z0-9\-& ]*", alt)):
                new.append((pn, alt))
            if pa and not pn and name.endswith(NAME_SUFFIX):
                new.append((pa, name))
            if pn and mention_key(name) not in known:
                new.append((pn, name))
            for pid, value in new:
                known[mention_key(value)] = pid
                out.append((pid, "aliases", Fact(value, src, i, i)))
                changed = True
    return out


def _title(text: str, regex: re.Pattern[str], known: dict[str, str]) -> str | None:
    """Program a slide title line names: short, no sentence end, starting with a program name."""
    s = LEAD_RE.sub("", text)
    if not s or len(s) > 60 or "。" in s or re.match(r"[A-Za-z][\w\-]*\s*:", s):
        return None
    found = _find(regex, known, s)
    return found[-1][1] if found and found[0][0] == 0 else None


def _sections(lines: list[str], is_md: bool, anchors: dict[int, str], known: dict[str, str]) -> list[Section]:
    """Which program each line belongs to: markdown heading stack, or slide titles ending at 担当 footers."""
    out: list[Section] = []
    stack: list[tuple[int, str | None, str, int]] = []  # (level, program, text, line)
    cur: str | None = None
    titled: set[str] = set()
    regex = _alias_regex(known)
    for i, line in enumerate(lines, 1):
        t = nfkc(line).strip()
        if i in anchors:
            k = next((n for n, e in enumerate(stack) if e[1]), None)
            stack = (stack[:k] if k is not None else []) + [(stack[k][0] if k is not None else 1, anchors[i], "", i)]
            cur = anchors[i]
        m = re.match(r"^(#{1,6})\s+(.*)", t) if is_md else None
        if m:
            while stack and stack[-1][0] >= len(m.group(1)):
                stack.pop()
            found = _find(regex, known, m.group(2))
            stack.append((len(m.group(1)), found[-1][1] if found else None, m.group(2), i))
        if is_md:
            pid = next((e[1] for e in reversed(stack) if e[1]), None)
            top = stack[-1] if stack else (0, None, "", 0)
            out.append((pid, top[3], top[2], top[1] is not None and not m))
            continue
        pid = _title(t, regex, known) if i not in anchors else None
        if pid and (pid not in titled or cur is None):  # a repeated title inside another slide is a caption
            cur = pid
            titled.add(pid)
        out.append((cur, 0, "", False))
        if re.match(r"^[(（]担当", t):
            cur = None
    return out


def _clean(text: str) -> str:
    return re.sub(r"^(?:[\s\-・•●◆✓▶]+|\(\d+\))+", "", text.replace("**", "")).strip()


def _extract(src: str, lines: list[str], secs: list[Section], data_file: Path) -> list[Item]:
    """Scheme rows, 目的 lines and row-implied directions of each program section."""
    out: list[Item] = []
    done: set[tuple[int, str]] = set()
    for i, (line, (pid, head, head_text, direct)) in enumerate(zip(lines, secs), 1):
        t = nfkc(line).strip()
        if not pid or not t:
            continue
        rows: list[tuple[str, str]] = []
        cells = [c.strip() for c in t.split("\t")]
        if len(cells) == 2 and cells[0] in ROW_KEYS:
            rows.append((cells[0], cells[1]))
        elif "\t" not in t:
            ms = list(COLON_RE.finditer(t))
            rows += [(m.group(1), t[m.end():ms[k + 1].start() if k + 1 < len(ms) else len(t)].strip(" ■●"))
                     for k, m in enumerate(ms)]
            rows += [(m.group(1), m.group(2)) for m in SPACE_RE.finditer(t)]
        bracket = BRACKET_RE.match(t)
        nxt = [(j, nfkc(lines[j - 1]).strip()) for j in range(i + 1, min(len(lines), i + 4) + 1)]
        nxt = [(j, x) for j, x in nxt if x]
        if bracket and nxt and len(nxt[0][1]) <= 40 and "。" not in nxt[0][1]:
            rows.append((bracket.group(1), nxt[0][1]))
        for key, value in rows:
            j = nxt[0][0] if bracket and key == bracket.group(1) else i
            fld = ROW_KEYS[key]
            if key == "事業期間" and "年度" in value:
                fld = "start"
            tags = tags_for(fld, value, data_file) if fld in TAGGED else ()
            valid = bool(tags) if fld in ("audience", "regions") else ("費" in value if fld == "expenses"
                                                                       else bool(re.search(r"\d", value)))
            if valid:
                out.append((pid, fld, Fact(value, src, j, j, tags)))
            if key in ROW_DIRECTION:
                out.append((pid, "direction", Fact(key, src, i, i, (ROW_DIRECTION[key],))))
        # purposes: first sentence directly under a program heading; lines under a 目的 heading/marker
        if direct and (pid, "a") not in done and t.endswith("。") and not re.match(r"^(令和|※|[(（\\]|前年度)", t):
            done.add((pid, "a"))
            out.append((pid, "purpose", Fact(_clean(line), src, i, i)))
        if PURPOSE_HEAD_RE.match(head_text) and not t.startswith("#") and sum(1 for d in done if d[0] == head) < 2:
            done.add((head, str(i)))
            out.append((pid, "purpose", Fact(_clean(line), src, i, i)))
        if not src.endswith(".md") and PURPOSE_HEAD_RE.match(t):
            for j, x in nxt:
                if len(x) >= 15:
                    out.append((pid, "purpose", Fact(_clean(lines[j - 1]), src, j, j)))
                    break
    return out


def _budgets(src: str, lines: list[str], secs: list[Section]) -> list[tuple[str, Budget]]:
    """Budget lines: 「令和5年度予算額（案）：1,073百万円（前年度予算額：1,160百万円）」 and split forms."""
    out: list[tuple[str, Budget]] = []
    last_year: dict[str, str] = {}
    for i, (line, sec) in enumerate(zip(lines, secs), 1):
        pid, t = sec[0], nfkc(line)
        if not pid or not LABEL_RE.search(t):
            continue
        if "合計" in t:
            amounts = AMOUNT_RE.findall(t.split("合計", 1)[1])
            if amounts:
                fy = "・".join(dict.fromkeys(re.findall(r"令和\d+年度", t)))
                out.append((pid, Budget(fy, "合計", amounts[0], t.strip(), Fact(amounts[0], src, i, i))))
            continue
        tokens = sorted([(m.start(), "L", m) for m in LABEL_RE.finditer(t)] +
                        [(m.start(), "A", m) for m in AMOUNT_RE.finditer(t)], key=lambda x: x[0])
        pairs, pending = [], []
        for _, kind, m in tokens:
            if kind == "L":
                pending.append(m)
            elif pending:
                pairs.append((pending.pop(0), m.group(), i))
        if pending:  # label without amount: the amounts follow on a later line (slide layout)
            for j in range(i + 1, min(len(lines), i + 6) + 1):
                x = nfkc(lines[j - 1]).strip()
                if not x or x.startswith("※"):
                    continue
                if not re.sub(r"[()\s新規]", "", AMOUNT_RE.sub("", x)):
                    pairs += [(lab, a, j) for lab, a in zip(pending, AMOUNT_RE.findall(x))]
                break
        for lab, amount, j in pairs:
            year = lab.group(1) or lab.group(5)
            if year:
                last_year[pid] = year
                kind = "補正予算額" if lab.group(3) else "要求・要望額" if lab.group(5) else (
                    "予算額（案）" if lab.group(4) else "予算額")
            else:
                m = re.match(r"令和(\d+)年度", last_year.get(pid, ""))
                year, kind = (f"令和{int(m.group(1)) - 1}年度" if m else ""), "前年度予算額"
            out.append((pid, Budget(year, kind, amount, lab.group(), Fact(amount, src, i, j))))
    return out


def _derived(items: list[Item], data_file: Path) -> list[Item]:
    """Direction, region and field tags named in a program's name, aliases and purposes."""
    out: list[Item] = []
    for pid, fld, fact in items:
        if fld not in ("name", "aliases", "purpose"):
            continue
        t = nfkc(fact.value)
        for kind in ("direction", "regions", "fields"):
            for pat, tags in load_vocabulary(data_file)[kind]:
                m = pat.search(t)
                if m:
                    out.append((pid, kind, Fact(m.group(), fact.source, fact.line_start, fact.line_end, tags)))
    return out


def _assemble(seeds: list[dict[str, Any]], items: list[Item], budgets: list[tuple[str, Budget]],
              problems: list[str], data_file: Path) -> tuple[Program, ...]:
    """One Program per seed whose name survived; facts sorted by place, duplicates dropped."""
    by: dict[str, dict[str, list[Fact]]] = {}
    for pid, fld, fact in sorted(items, key=lambda x: (x[2].source, x[2].line_start)):
        if fld in TAGGED and not fact.tags:
            fact = Fact(fact.value, fact.source, fact.line_start, fact.line_end, tags_for(fld, fact.value, data_file), fact.origin)
        bucket = by.setdefault(pid, {}).setdefault(fld, [])
        if fld == "anchor" or any(match_key(f.value) == match_key(fact.value) for f in bucket):
            continue
        bucket.append(fact)
    programs = []
    for s in seeds:
        d = by.get(s["id"], {})
        if not d.get("name"):
            problems.append(f"除外: {s['id']} は名称が資料に見つからないため目録から外しました")
            continue
        names = {match_key(d["name"][0].value)}
        seen: set[tuple[str, str, str]] = set()
        bs = []
        for pid, b in sorted(budgets, key=lambda x: (x[1].fact.source, x[1].fact.line_start)):
            if pid == s["id"] and (b.fiscal_year, b.kind, b.amount) not in seen:
                seen.add((b.fiscal_year, b.kind, b.amount))
                bs.append(b)
        lists = {f: tuple(d.get(f, [])) for f in LIST_FIELDS}
        lists["aliases"] = tuple(a for a in lists["aliases"] if match_key(a.value) not in names)
        programs.append(Program(s["id"], s["kind"], s["parent"], d["name"][0], budgets=tuple(bs), **lists))
    return tuple(programs)


def _build(corpus_dir: Path, data_file: Path) -> Catalog:
    problems: list[str] = []
    texts = _read_corpus(corpus_dir, problems)
    seeds, data = _load_data(data_file)
    names = {pid: f.value for pid, fld, f in data if fld == "name"}
    data = _verify(data, texts, names, problems)
    known = {mention_key(f.value): pid for pid, fld, f in data if fld in ("name", "aliases")}
    items = data + _alias_facts(texts, known)
    budgets: list[tuple[str, Budget]] = []
    code: list[Item] = []
    for src, lines in texts.items():
        anchors = {f.line_start: pid for pid, fld, f in data if fld == "anchor" and f.source == src}
        secs = _sections(lines, src.endswith(".md"), anchors, known)
        code += _extract(src, lines, secs, data_file)
        budgets += _budgets(src, lines, secs)
    items += code
    items += _derived(items, data_file)
    # code values are cut from the current text; checking them too guards the rules themselves
    checked = _verify([x for x in items if x[2].origin == "code"] + [(p, "budgets", b.fact) for p, b in budgets],
                      texts, names, problems)
    good = {x[2] for x in checked}
    items = [x for x in items if x[2].origin == "data" or x[2] in good]
    budgets = [(p, b) for p, b in budgets if b.fact in good]
    return Catalog(_assemble(seeds, items, budgets, problems, data_file), tuple(problems), str(corpus_dir))


_CACHE: dict[tuple[Any, ...], Catalog] = {}


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


def build_catalog(corpus_dir: Path, *, data_file: Path = DATA_FILE) -> Catalog:
    """The catalog for a corpus folder, cached by the corpus files' and data file's hashes."""
    corpus_dir = Path(corpus_dir)
    key = (str(corpus_dir.resolve()), str(data_file), _digest(data_file),
           tuple((p.name, _digest(p)) for p in sorted(corpus_dir.glob("*")) if p.is_file()))
    if key not in _CACHE:
        _CACHE[key] = _build(corpus_dir, data_file)
    return _CACHE[key]


def program_names(corpus_dir: Path) -> frozenset[str]:
    """Program names the catalog derives from the corpus, in the chunker's compact form (empty if the
    catalog cannot be built): the index build passes them to the chunker to sharpen slide titles."""
    try:
        catalog = build_catalog(corpus_dir)
    except Exception as exc:  # the catalog only sharpens slide titles; chunking goes on without it
        log.warning("program catalog unavailable for chunking: %s", exc)
        return frozenset()
    return frozenset(compact_name(p.name.value) for p in catalog.programs)
