"""The program-finder tab (「制度をさがす」): filters from the catalog's tags and a comparison table
whose every value links to the cited lines it comes from. Pure functions but for the catalog load."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any


from stiqa.config import Settings
from stiqa.web.render import esc, find_span, highlight, render_error

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- program finder tab (pure functions)

NOT_STATED = "資料に記載なし"
MAX_COLUMNS = 8  # more programs than this: the first ones in the table, the others named below it
#: the comparison rows, in reading order: (Program attribute, label shown to the reader)
PROGRAM_ROWS = (("purpose", "目的"), ("agency", "実施機関"), ("audience", "対象者"), ("direction", "方向"),
                ("regions", "相手国・地域"), ("fields", "分野"), ("amount", "支援額"), ("expenses", "支援経費"),
                ("period", "期間"), ("headcount", "採用人数・件数"), ("start", "開始"), ("budgets", "予算"))
#: the filters: Program attribute (its facts carry the catalog's tags) and label
FILTER_KINDS = (("audience", "立場"), ("direction", "行き先／受け入れ"), ("regions", "地域"), ("fields", "分野"))
#: friendlier wording for some catalog tags (the tag itself stays the filter value)
TAG_LABELS = {"送り出し": "送り出し（日本から海外へ）", "受け入れ": "受け入れ（海外から日本へ）",
              "共同研究": "国際共同研究", "交流": "交流（会議・シンポジウム等）",
              "全世界": "全世界（国・地域を問わない）", "全分野": "全分野（分野を問わない）"}
ANY_TAG = {"regions": "全世界", "fields": "全分野"}  # a program open to every region/field fits any choice


@dataclass(frozen=True)
class Cell:
    """One cited value of the comparison table: an optional lead (budget kind, direction) and the value."""

    value: str
    fact: Any  # stiqa.catalog.records.Fact
    lead: str = ""


@dataclass(frozen=True)
class Selection:
    """What the finder tab shows: programs (with the finder's reason when a situation was given) and notes."""

    programs: tuple[Any, ...]  # stiqa.catalog.records.Program
    reasons: dict[str, str]
    notes: tuple[str, ...] = ()
    empty_message: str = ""


def program_catalog(settings: Settings) -> Any:
    """The program catalog of the corpus (cached by the catalog on the files' hashes)."""
    from stiqa.catalog.build import build_catalog

    return build_catalog(settings.corpus_dir)


def abbreviation(program: Any) -> str:
    return next((a.value for a in program.aliases if re.fullmatch(r"[A-Za-z][A-Za-z0-9\-]*", a.value)), "")


def program_label(program: Any) -> str:
    abbr = abbreviation(program)
    return f"{program.name.value}（{abbr}）" if abbr else program.name.value


def filter_choices(catalog: Any) -> dict[str, list[tuple[str, str]]]:
    """(label, tag) choices per filter: the tags the catalog's programs carry, in the vocabulary's order."""
    from stiqa.catalog.records import load_vocabulary

    vocab = load_vocabulary()
    out: dict[str, list[tuple[str, str]]] = {}
    for kind, _ in FILTER_KINDS:
        present = {t for p in catalog.programs for t in p.tags(kind)}
        order = list(dict.fromkeys(t for _, tags in vocab.get(kind, []) for t in tags))
        tags = [t for t in order if t in present]
        for t in sorted(present - set(order)):  # tags given by rules outside the vocabulary (研究者)
            tags.insert(tags.index("若手研究者") + 1 if t == "研究者" and "若手研究者" in tags else len(tags), t)
        if ANY_TAG.get(kind) in tags:  # 「問わない」 last
            tags.remove(ANY_TAG[kind])
            tags.append(ANY_TAG[kind])
        out[kind] = [(TAG_LABELS.get(t, t), t) for t in tags]
    return out


def program_choices(catalog: Any) -> list[tuple[str, str]]:
    return [(program_label(p), p.id) for p in catalog.programs]


def _months_text(span: tuple[float, float]) -> str:
    """(3, 12) -> 「3か月〜12か月」, (0, 24) -> 「24か月まで」 (how the finder read a duration)."""
    def one(m: float) -> str:
        return f"{m * 4:g}週間" if m < 1 else f"{m:g}か月"
    lo, hi = (round(x, 2) for x in span)
    return f"{one(hi)}まで" if lo == 0 else one(lo) if lo == hi else f"{one(lo)}〜{one(hi)}"


def _period_fits(program: Any, want: tuple[float, float]) -> bool:
    from stiqa.catalog.finder import _months

    lo, hi = want
    for f in program.period:
        r = _months(f.value)
        if r and lo <= r[1] * 1.1 and hi >= r[0] * 0.9:
            return True
    return False


def select_programs(catalog: Any, audience: Any = (), direction: Any = (), regions: Any = (), fields: Any = (),
                    period: str = "", situation: str = "", chosen: Any = ()) -> Selection:
    """Programs meeting every condition (any of the tags chosen within one filter).

    ``situation`` (「博士課程 3か月 海外」) ranks the programs with the finder and keeps those it finds;
    ``period`` keeps programs whose stated period overlaps the wanted one; ``chosen`` (program ids)
    limits the table to those programs.
    """
    from stiqa.catalog.finder import NO_MATCH, find_programs, parse_situation

    wanted = {"audience": set(audience or ()), "direction": set(direction or ()), "regions": set(regions or ()),
              "fields": set(fields or ())}
    notes: list[str] = []
    programs = list(catalog.programs)
    reasons: dict[str, str] = {}
    situation = (situation or "").strip()
    if situation:
        matches = find_programs(catalog, situation, top=len(catalog.programs))
        s = parse_situation(situation, catalog)
        read = [f"{label}：{'・'.join(sorted(getattr(s, kind)))}" for kind, label in FILTER_KINDS if getattr(s, kind)]
        if s.duration:
            read.append(f"期間：{_months_text(s.duration)}")
        notes.append(f"「{situation}」から読み取った条件　" + ("　".join(read) if read else "（なし）"))
        if not matches:
            return Selection((), {}, tuple(notes), NO_MATCH)
        programs = [m.program for m in matches]
        reasons = {m.program.id: m.reason for m in matches}
    if chosen:
        ids = set(chosen)
        programs = [p for p in programs if p.id in ids]
    for kind, _ in FILTER_KINDS:
        if wanted[kind]:
            ok = wanted[kind] | ({ANY_TAG[kind]} if kind in ANY_TAG else set())
            programs = [p for p in programs if p.tags(kind) & ok]
    period = (period or "").strip()
    if period:
        want = parse_situation(period, catalog).duration
        if want is None:
            notes.append(f"期間「{period}」を読み取れなかったため、期間では絞り込んでいません（例：3か月、2年、1〜3週間）。")
        else:
            programs = [p for p in programs if _period_fits(p, want)]
            notes.append(f"期間「{period}」：資料に書かれた期間が重なる制度だけを表示しています（期間の記載がない制度は除外）。")
    empty = "" if programs else "選んだ条件をすべて満たす制度は資料に見当たりません。条件を減らしてください。"
    return Selection(tuple(programs), reasons, tuple(notes), empty)


def comparison_cells(program: Any, row: str) -> list[Cell]:
    """The cited values of one program for one comparison row (empty: not stated in the documents)."""
    if row == "budgets":
        return [Cell(b.amount, b.fact, f"{b.fiscal_year} {b.kind}".strip()) for b in program.budgets]
    facts = getattr(program, row)
    if row == "purpose":
        return [Cell(f.value, f) for f in facts[:1]]  # the first stated purpose; the rest is in the documents
    if row == "direction":  # one entry per direction, the document's wording as the cited value
        seen: dict[str, Cell] = {}
        for f in facts:
            for t in f.tags:
                seen.setdefault(t, Cell(f.value, f, TAG_LABELS.get(t, t)))
        return list(seen.values())
    return [Cell(f.value, f) for f in facts]


_LINES: dict[tuple[str, int, int], list[str]] = {}


def source_lines(corpus_dir: Any, source: str) -> list[str]:
    """A corpus file's lines as the catalog numbers them (read as the index reads; cached on mtime/size)."""
    from pathlib import Path

    from stiqa.ingest.files import load_document

    path = Path(corpus_dir) / source
    try:
        st = path.stat()
    except OSError:
        return []
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _LINES:
        try:
            _LINES[key] = load_document(path).lines
        except (OSError, ValueError):
            _LINES[key] = []
    return _LINES[key]


def cited_passage(corpus_dir: Any, fact: Any) -> str:
    """The text of the lines a fact cites (the fact's value when the file cannot be read)."""
    lines = source_lines(corpus_dir, fact.source)
    return "\n".join(lines[fact.line_start - 1:fact.line_end]) or fact.value


def _lines_label(fact: Any) -> str:
    return f"L{fact.line_start}" if fact.line_start == fact.line_end else f"L{fact.line_start}–{fact.line_end}"


class _Sources:
    """Numbered cited passages: one per (file, lines), in order of first use in the table."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, int, int], dict[str, Any]] = {}

    def ref(self, fact: Any, program: Any, row_label: str) -> int:
        key = (fact.source, fact.line_start, fact.line_end)
        item = self.items.setdefault(key, {"n": len(self.items) + 1, "fact": fact, "values": [], "uses": {}})
        item["values"].append(fact.value)
        rows = item["uses"].setdefault(program.name.value, [])
        if row_label not in rows:
            rows.append(row_label)
        return item["n"]


def _cite_link(n: int, fact: Any, text_html: str) -> str:
    return (f'<a class="stiqa-cite" href="#stiqa-src-{n}" title="{esc(fact.source)} {_lines_label(fact)}">'
            f'{text_html}<sup>[{n}]</sup></a>')


def _cell_html(cells: list[Cell], program: Any, row_label: str, sources: _Sources) -> str:
    if not cells:
        return f'<span class="stiqa-none">{NOT_STATED}</span>'
    parts = []
    for c in cells:
        n = sources.ref(c.fact, program, row_label)
        lead = f'<span class="stiqa-lead">{esc(c.lead)}</span> ' if c.lead else ""
        parts.append(f'<div class="stiqa-val">{lead}{_cite_link(n, c.fact, esc(c.value))}</div>')
    return "".join(parts)


def _sources_html(corpus_dir: Any, sources: _Sources) -> str:
    cards = []
    for (source, _, _), item in sources.items.items():
        fact = item["fact"]
        passage = cited_passage(corpus_dir, fact)
        span = max((v for v in item["values"] if find_span(passage, v)), key=len, default="")
        uses = "、".join(f"{name}（{'・'.join(rows)}）" for name, rows in item["uses"].items())
        cards.append(f'<div class="stiqa-card stiqa-src" id="stiqa-src-{item["n"]}">'
                     f'<div class="stiqa-cardhead"><span class="stiqa-num">[{item["n"]}]</span>'
                     f'<span class="stiqa-file">{esc(source)}</span><span class="stiqa-sep">·</span>'
                     f'{_lines_label(fact)}<span class="stiqa-sep">·</span><span class="stiqa-sec">{esc(uses)}</span>'
                     f'</div><div class="stiqa-passage">{highlight(passage, span)}</div></div>')
    return ('<div class="stiqa-srcpanel"><div class="stiqa-srchead">出典（表の値をクリックすると、その値が書かれた'
            '資料の行をここに示します）</div>' + "".join(cards) + "</div>")


def programs_table_html(catalog: Any, selection: Selection) -> str:
    """The comparison table (rows = fields, columns = programs), each value linked to its cited passage
    in the panel below; values the documents do not state read 「資料に記載なし」."""
    parts = ['<div class="stiqa-programs">']
    parts += [f'<div class="stiqa-note">{esc(n)}</div>' for n in selection.notes]
    if not selection.programs:
        msg = selection.empty_message or "条件に合う制度は資料に見当たりません。"
        parts.append(f'<div class="stiqa-abstain"><b>{esc(msg)}</b></div></div>')
        return "".join(parts)
    shown, rest = selection.programs[:MAX_COLUMNS], selection.programs[MAX_COLUMNS:]
    parts.append(f'<div class="stiqa-count">該当 {len(selection.programs)} 件'
                 + (f"（表には上位 {len(shown)} 件）" if rest else "") + "</div>")
    sources = _Sources()
    head = ['<th class="stiqa-rowhead">項目</th>']
    for p in shown:
        n = sources.ref(p.name, p, "名称")
        abbr = abbreviation(p)
        head.append(f'<th class="stiqa-prog">{_cite_link(n, p.name, esc(p.name.value))}'
                    + (f'<div class="stiqa-abbr">{esc(abbr)}</div>' if abbr else "") + "</th>")
    rows = ["<tr>" + "".join(head) + "</tr>"]
    if selection.reasons:
        rows.append('<tr><th class="stiqa-rowhead">合う理由<div class="stiqa-abbr">stiqaの判断</div></th>'
                    + "".join(f'<td class="stiqa-reason">{esc(selection.reasons.get(p.id, ""))}</td>' for p in shown)
                    + "</tr>")
    for row, label in PROGRAM_ROWS:
        cells = [comparison_cells(p, row) for p in shown]
        rows.append(f'<tr><th class="stiqa-rowhead">{esc(label)}</th>'
                    + "".join(f"<td>{_cell_html(c, p, label, sources)}</td>" for c, p in zip(cells, shown)) + "</tr>")
    parts.append('<div class="stiqa-cmpwrap"><table class="stiqa-cmp">' + "".join(rows) + "</table></div>")
    if rest:
        parts.append('<div class="stiqa-note">ほかに該当する制度：' + "、".join(esc(program_label(p)) for p in rest)
                     + "（条件を追加するか「比較する制度」で選ぶと表に出ます）</div>")
    parts.append(_sources_html(catalog.corpus_dir, sources))
    if catalog.problems:
        parts.append(f'<div class="stiqa-notice">※ 資料との照合で {len(catalog.problems)} 件の注意があります'
                     "（値の行が移動・消失）。<code>stiqa programs</code> で確認できます。</div>")
    parts.append("</div>")
    return "".join(parts)


def programs_view(settings: Settings, audience: Any = (), direction: Any = (), regions: Any = (), fields: Any = (),
                  period: str = "", situation: str = "", chosen: Any = ()) -> str:
    """The finder tab's HTML for the given filters; a message, never a traceback."""
    if len(situation or "") > settings.max_question_chars or len(period or "") > 200:
        return render_error("入力が長すぎます。短くしてください。")
    try:
        catalog = program_catalog(settings)
    except FileNotFoundError as exc:
        return render_error(f"コーパスが見つかりません: {exc}")
    except Exception:  # noqa: BLE001
        log.exception("catalog failed")
        return render_error("制度の目録を作れませんでした（詳細はサーバーのログ）。")
    try:
        sel = select_programs(catalog, audience, direction, regions, fields, period, situation, chosen)
        return programs_table_html(catalog, sel)
    except Exception:  # noqa: BLE001
        log.exception("program finder failed")
        return render_error("制度の検索中にエラーが発生しました（詳細はサーバーのログ）。")


def _finder_choices(settings: Settings) -> tuple[dict[str, list[tuple[str, str]]], list[tuple[str, str]]]:
    """Filter and program choices for the tab; empty (the tab then shows the error) if no catalog."""
    try:
        catalog = program_catalog(settings)
    except Exception:  # noqa: BLE001
        log.exception("catalog failed")
        return {}, []
    return filter_choices(catalog), program_choices(catalog)
