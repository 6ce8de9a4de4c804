"""Checks the evaluation question set (eval/questions.jsonl) against the corpus.

Every expectation must be answerable from the cited document(s): after the same normalisation the
scorer uses (NFKC, commas and all whitespace removed, on both sides) each ``expect`` group needs at
least one alternative that occurs in the source text. ``yen`` values are cross-checked with a small
self-contained parser of 百万円/億円/万円/円 spellings, so a typo in an amount cannot slip through.
"""
from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ROOT / "eval" / "questions.jsonl"
HELDOUT = ROOT / "eval" / "heldout.jsonl"
CORPUS = ROOT / "corpus"

TYPES = {"budget", "count", "date", "period", "amount", "abbrev", "finder", "followup",
         "negative", "abstain", "fact"}
KEYS = {"id", "question", "history", "expect", "yen", "source", "type", "abstain"}
REQUIRED_KEYS = KEYS - {"yen"}


def norm(text: str) -> str:
    """The scorer's normalisation: NFKC, then drop commas and every kind of whitespace."""
    text = unicodedata.normalize("NFKC", text)
    return re.sub(r"[,\s]", "", text)


# --------------------------------------------------------------------------- yen parser
_UNITS = {"兆": Decimal(10) ** 12, "億": Decimal(10) ** 8, "千万": Decimal(10) ** 7,
          "百万": Decimal(10) ** 6, "万": Decimal(10) ** 4, "": Decimal(1)}
_MONEY = re.compile(r"約?((?:\d+(?:\.\d+)?(?:兆|億|千万|百万|万)?)+)円(?:程度)?")
_PART = re.compile(r"(\d+(?:\.\d+)?)(兆|億|千万|百万|万)?")


def parse_yen(text: str) -> int | None:
    """The yen amount a short money string spells, e.g. '10億7,300万円' -> 1073000000.

    Returns None for anything that is not (only) one yen amount. Units must decrease from left to
    right ('10億7300万円' is fine, '7300万10億円' is not).
    """
    s = norm(text)
    m = _MONEY.fullmatch(s)
    if not m:
        return None
    total = Decimal(0)
    last_unit = None
    pos = 0
    body = m.group(1)
    for part in _PART.finditer(body):
        if part.start() != pos:
            return None
        pos = part.end()
        unit = _UNITS[part.group(2) or ""]
        if last_unit is not None and unit >= last_unit:
            return None
        last_unit = unit
        total += Decimal(part.group(1)) * unit
    if pos != len(body) or total != total.to_integral_value():
        return None
    return int(total)


@pytest.mark.parametrize("text,value", [
    ("1,073百万円", 1_073_000_000),
    ("10.73億円", 1_073_000_000),
    ("10億7,300万円", 1_073_000_000),
    ("１０億７３００万円", 1_073_000_000),
    ("44,000百万円", 44_000_000_000),
    ("141億円", 14_100_000_000),
    ("0.9億円", 90_000_000),
    ("3,000万円", 30_000_000),
    ("約2,900万円", 29_000_000),
    ("1073000000円", 1_073_000_000),
    ("35百万円程度", 35_000_000),
])
def test_parse_yen(text, value):
    assert parse_yen(text) == value


@pytest.mark.parametrize("text", ["106件", "5億ユーロ", "7300万10億円", "百万円", "1,073百万", "0.00001万円"])
def test_parse_yen_rejects(text):
    assert parse_yen(text) is None


# --------------------------------------------------------------------------- data
def _load() -> list[dict]:
    """Both question sets: the suite and the held-out set (eval/heldout.jsonl, never tuned on)."""
    rows = []
    for path in (QUESTIONS, HELDOUT):
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    row = json.loads(line)
                    row["_line"] = n
                    rows.append(row)
    return rows


ROWS = _load()
DOCS = {p.stem: norm(p.read_text(encoding="utf-8"))
        for p in CORPUS.iterdir() if p.suffix in (".md", ".txt") and p.name != "README.md"}


def _ids(rows):
    return [r["id"] for r in rows]


ANSWERABLE = [r for r in ROWS if not r.get("abstain")]
ABSTAIN = [r for r in ROWS if r.get("abstain")]
WITH_YEN = [r for r in ROWS if "yen" in r]


def test_file_is_utf8_one_object_per_line():
    raw = "\n".join(p.read_bytes().decode("utf-8") for p in (QUESTIONS, HELDOUT))
    lines = [ln for ln in raw.splitlines() if ln.strip()]
    assert len(lines) == len(ROWS)
    # written with ensure_ascii=False: Japanese is stored as characters, not \\u escapes
    assert "\\u" not in raw


def test_corpus_documents_present():
    assert "mext_fy2023_budget_international" in DOCS
    assert "mext_international_strategy_2025-10-08" in DOCS


def test_enough_questions():
    assert len(ROWS) >= 150
    assert len(ABSTAIN) >= 15
    counts = Counter(r["type"] for r in ROWS)
    assert counts["followup"] >= 10
    assert counts["abstain"] >= 15


def test_every_type_present():
    assert {r["type"] for r in ROWS} == TYPES


def test_ids_unique_and_short():
    ids = _ids(ROWS)
    dupes = [i for i, c in Counter(ids).items() if c > 1]
    assert not dupes, dupes
    for i in ids:
        assert isinstance(i, str) and re.fullmatch(r"[a-z0-9][a-z0-9-]{2,40}", i), i


def test_questions_unique():
    keys = [(tuple(r["history"]), r["question"]) for r in ROWS]
    dupes = [k for k, c in Counter(keys).items() if c > 1]
    assert not dupes, dupes


@pytest.mark.parametrize("row", ROWS, ids=_ids(ROWS))
def test_row_shape(row):
    keys = set(row) - {"_line"}
    assert REQUIRED_KEYS <= keys <= KEYS, keys ^ KEYS
    assert row["type"] in TYPES
    assert isinstance(row["question"], str) and row["question"].strip()
    assert isinstance(row["history"], list)
    assert all(isinstance(h, str) and h.strip() for h in row["history"])
    # only follow-up questions carry a conversation history, and they always do
    assert bool(row["history"]) == (row["type"] == "followup")
    assert isinstance(row["abstain"], bool)
    assert row["abstain"] == (row["type"] == "abstain")
    assert isinstance(row["expect"], list)
    for group in row["expect"]:
        assert isinstance(group, list) and group, group
        assert all(isinstance(a, str) and norm(a) for a in group), group
    if "yen" in row:
        assert isinstance(row["yen"], int) and not isinstance(row["yen"], bool) and row["yen"] > 0
    assert isinstance(row["source"], str)


@pytest.mark.parametrize("row", ABSTAIN, ids=_ids(ABSTAIN))
def test_abstain_rows(row):
    assert row["expect"] == []
    assert "yen" not in row
    assert row["source"] == "" or all(s in DOCS for s in row["source"].split("|"))


@pytest.mark.parametrize("row", ANSWERABLE, ids=_ids(ANSWERABLE))
def test_expectations_occur_in_source(row):
    """Each group has an alternative in every cited document ('a|b': either one answers)."""
    assert row["expect"], "an answerable question needs at least one expect group"
    stems = row["source"].split("|")
    assert stems and all(s in DOCS for s in stems), f"unknown source {row['source']!r}"
    for stem in stems:
        text = DOCS[stem]
        for group in row["expect"]:
            assert any(norm(a) in text for a in group), f"{row['id']}: none of {group} in {stem}"


@pytest.mark.parametrize("row", WITH_YEN, ids=_ids(WITH_YEN))
def test_yen_matches_first_group(row):
    """yen is only for money: every money spelling in the first group must equal it."""
    first = row["expect"][0]
    parsed = [(a, parse_yen(a)) for a in first]
    money = [(a, v) for a, v in parsed if v is not None]
    assert money, f"{row['id']}: no yen amount among {first}"
    wrong = [(a, v) for a, v in money if v != row["yen"]]
    assert not wrong, f"{row['id']}: yen={row['yen']} but {wrong}"


def test_yen_amounts_appear_in_corpus():
    """The yen amount of each budget question is spelled, in some unit, somewhere in its source."""
    for row in WITH_YEN:
        stems = row["source"].split("|")
        found = False
        for stem in stems:
            for m in re.finditer(r"\d[\d.]*(?:兆|億|千万|百万|万)?(?:\d[\d.]*(?:千万|百万|万))?円", DOCS[stem]):
                if parse_yen(m.group(0)) == row["yen"]:
                    found = True
                    break
        assert found, f"{row['id']}: {row['yen']} yen not spelled in {stems}"


# Near misses: the term an abstain question asks about really is absent (or only present in a
# context that does not answer it) in the corpus.
ABSENT = {
    "abstain-moonshot": ["ムーンショット"],
    "en-abstain-moonshot": ["ムーンショット", "moonshot"],
    "abstain-souhatsu": ["創発"],
    "abstain-wpi-budget": ["世界トップレベル研究拠点", "WPIの予算", "WPI予算"],
    "abstain-chosen-deadline": ["締切", "締め切", "応募期限"],
    "abstain-sicorp-r3": ["令和3年度予算"],
    "abstain-sicorp-r6": ["令和6年度予算"],
    "abstain-satreps-r9": ["令和9"],
    "abstain-kaitoku-age": ["年齢"],
    "abstain-gaitoku-monthly": ["月額"],
    "abstain-jpeaks-name": ["J-PEAKS("],
    "abstain-horizon-contrib": ["拠出金額", "拠出額"],
    "abstain-kakenhi-total": ["科研費全体"],
}


@pytest.mark.parametrize("qid", sorted(ABSENT))
def test_abstain_near_misses_absent(qid):
    assert qid in {r["id"] for r in ABSTAIN}
    corpus = "".join(DOCS.values()).lower()
    for term in ABSENT[qid]:
        assert norm(term).lower() not in corpus, f"{qid}: {term!r} is in the corpus"


def test_satreps_and_lotus_counts_absent():
    """'採択件数'/'申請件数' occur only once, in ASPIRE's results: SATREPS/LOTUS have none."""
    corpus = "".join(DOCS.values())
    assert corpus.count("採択件数") == 1 and corpus.count("申請件数") == 1
    assert corpus.index("採択件数") > corpus.index("ASPIRE)の採択結果")


def _is_english(text: str) -> bool:
    chars = [c for c in text if not c.isspace()]
    return sum(c.isascii() and c.isalpha() for c in chars) > 0.6 * len(chars)


def test_english_questions():
    english = [r["id"] for r in ROWS if _is_english(r["question"])]
    assert len(english) >= 8, english
