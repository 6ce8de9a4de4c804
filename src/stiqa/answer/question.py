"""Read a question: what kind of fact it wants, which fiscal year and budget kind, which terms
must be in a passage for it to be about the same thing. Pure functions, no index needed."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from stiqa.catalog.figures import FIGURE
from stiqa.text.japanese import fiscal_years, normalize, proper_nouns, tokens

# Order matters: the first type whose cue matches wins (an amount per person is not a budget).
_CUES: list[tuple[str, re.Pattern[str]]] = [
    ("finder", re.compile(r"どの(事業|制度|プログラム|支援)|合う(事業|制度|プログラム|もの)|向いて|使える(事業|制度|プログラム)?[？?]|"
                          r"制度(は|って)?ある|プログラム(は|って)?ある|事業(は|って)?ある|応募できる|おすすめ|"
                          r"(できる|使える|合う|向いている|利用できる|参加できる)(制度|事業|プログラム|支援)|"
                          r"(使える|利用できる)(制度|支援|支援策)は[？?]?$|^(制度|支援策)は[？?]?$|(し|行き|受け入れ|呼び|参加し|招き)たい[。.！!]?\s*$|"
                          r"which program|what program|suit|is there a program|any program", re.I)),
    ("abbrev", re.compile(r"正式(名称|名|には)|正式な(事業名|名称|名前|名)|何の略|略称|の略|フルネーム|略語|何という(事業|制度|名前|機関|組織)|"
                          r"日本語で|何と(書|言|呼)|stand for|full name|abbreviat", re.I)),
    ("period", re.compile(r"期間|何年間|何か月|何ヶ月|何カ月|どのくらいの間|どれくらいの間|how long|duration|何週間|"
                          r"何年まで|最大何年", re.I)),
    ("amount", re.compile(r"支援額|単価|unit cost|\bper\b|支援規模|(?<!地球)規模|1課題|一課題|課題あたり|1人|一人|人あたり|あたり|当たり|上限|"
                          r"研究費はいくら|滞在費", re.I)),
    ("budget", re.compile(r"予算|いくら|幾ら|金額|(合計|総)額|要求|要望|補正|付いて|ついてる|budget|how much|funding|円", re.I)),
    ("count", re.compile(r"何件|件数|何人|人数|何名|何か国|何カ国|何ヵ国|何校|何大学|大学数|機関数|課題数|国数|いくつ|何課題|"
                         r"how many|number of|数は", re.I)),
    ("date", re.compile(r"いつ|何年度から|開始|始ま|時期|日付|何月|when|締切|発表|公表|開設|設立|what year|since", re.I)),
]
_YESNO = re.compile(r"(ました|ます|です|でした|ている|てる|た)か[？?。]?\s*$|っけ[？?。]?\s*$|よね[？?。]?\s*$|"
                    r"(れた|った|した|てた|てる|ている)[？?]\s*$|"
                    r"されてる[？?]|入って(る|いる)|含まれ|"
                    r"^(is|are|was|were|did|does|do)\b", re.I)

#: a question word asking for a thing or a place, and one asking for a sum of money
_WHAT = re.compile(r"何を|何が|何と|誰|どこ|\bwho\b|\bwhere\b", re.I)
_HOW_MUCH = re.compile(r"いくら|幾ら|額|円|how much", re.I)

#: a who-question (「…は誰？」); group 1 is the role asked about when one is named
WHO = re.compile(r"(?:([一-龯ァ-ヴー]{1,12})(?:は|が|って))?(?:誰|だれ|どなた)|\bwho\b", re.I)

#: a comparison between two figures (前年度と比べて増えた？)
COMPARE = re.compile(r"比べ|比較(?!的)|増え|減っ|増額|減額|増加|減少|差|compared|increase|decrease", re.I)

#: budget kinds as they are labelled in the documents
KINDS = {
    "合計": re.compile(r"合計|総額|合わせ|全体|total", re.I),
    "補正": re.compile(r"補正"),
    "前年度": re.compile(r"前年度|前年|昨年度|prior year|previous year|last year", re.I),
    "要求": re.compile(r"要求|要望|概算|request", re.I),
}

_KATAKANA = re.compile(r"[ァ-ヴー]{3,}")
_ACRONYM = re.compile(r"(?<![A-Za-z0-9])[A-Z][A-Za-z0-9\-]*[A-Z][A-Za-z0-9\-]*(?![A-Za-z0-9])")
# words too common in these documents (or in English questions) to decide what a question is about
_COMMON = {"ポスドク", "プログラム", "イノベーション", "シンポジウム", "ネットワーク", "トップ", "スキーム",
           "テーマ", "メリット", "サイエンス", "ファンド", "ミーティング", "センター", "タイプ", "キャリア",
           "グローバル", "レベル", "ステップアップ", "インバウンド", "アウトバウンド", "アジア", "ユーロ",
           "プロジェクト", "イニシアティブ", "データ", "オンライン", "チーム", "マッチング", "ポスト", "リーダー",
           "FY", "AI", "TOP", "JST", "AMED", "EU", "USA", "THE", "WHAT", "HOW", "WHICH", "WHEN", "PHD", "SDGS",
           "FA", "OK", "MEXT", "JSPS", "CSTI", "NISTEP", "MOF", "JICA", "NEDO", "RIKEN"}


@dataclass(frozen=True)
class Query:
    text: str  # normalised question
    qtype: str  # finder, abbrev, amount, budget, count, period, date, negative, fact
    years: tuple[int, ...] = ()
    kind: str = ""  # 補正, 前年度, 要求, 合計 or "" (the main figure)
    yesno: bool = False
    salient: tuple[str, ...] = ()  # names that a passage must contain to be about this question
    content: tuple[str, ...] = field(default_factory=tuple)  # content tokens for overlap scoring
    english: bool = False
    proper: tuple[str, ...] = ()  # proper nouns (中国, 東北大学): a passage must name them to answer


def analyze(question: str, mask: list[str] | tuple[str, ...] = ()) -> Query:
    """Classify a (resolved) question. General rules over Japanese cue words, no question list.

    ``mask`` holds program names to ignore when reading the question type: 「地球規模課題…」 is a
    name, not a question about 規模.
    """
    text = normalize(question).strip()
    cue_text = text
    for name in sorted(mask, key=len, reverse=True):
        cue_text = cue_text.replace(normalize(name), " ")
    qtype = next((name for name, rx in _CUES if rx.search(cue_text)), "fact")
    if qtype in ("amount", "budget") and _WHAT.search(cue_text) and not _HOW_MUCH.search(cue_text):
        qtype = "fact"  # 「単価を柔軟に設定するために何を造成する？」 asks for a thing, not a sum
    yesno = bool(_YESNO.search(cue_text)) and qtype not in ("finder",)
    if yesno and qtype in ("fact", "date", "count"):
        if not re.search(r"何|いつ|どの|どこ|いくら|誰", cue_text):
            qtype = "negative"
    kind = next((k for k, rx in KINDS.items() if rx.search(cue_text)), "")
    years = tuple(y for y in fiscal_years(cue_text) if 1900 < y < 2100)
    proper = tuple(dict.fromkeys(w for w in proper_nouns(text) if not re.fullmatch(r"[A-Za-z0-9\-]+", w)))
    salient = tuple(dict.fromkeys(
        [w for w in _KATAKANA.findall(text) if w not in _COMMON]
        + [w for w in _ACRONYM.findall(text) if re.sub(r"\d+$", "", w.upper()) not in _COMMON
           and not re.fullmatch(r"(FY|R|H)\d+", w)]))
    english = not re.search(r"[ぁ-んァ-ヴ一-龯]", cue_text)  # a Japanese program name in English
    # 「何年何月何日」 asks for a date; its 年, 月, 日 say nothing about the topic
    asked = re.sub(r"何\s*(年|月|日)(?![度間])", " ", text)
    content = tuple(dict.fromkeys(t for t in tokens(asked) if t not in _STOP and not t.isdigit()))
    return Query(text, qtype, years, kind, yesno, salient, content, english, proper)


#: How staff ask vs how the slides write it (Sudachi normalised forms): general paraphrases of
#: this register, not answers. A question word counts as present when any of these is.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "始まる": ("開始", "開設", "設立", "から"), "始める": ("開始",), "スタート": ("開始",),
    "開始": ("開始", "から", "より"), "いつ": ("開始", "月", "日", "年度"),
    "行く": ("渡航", "派遣", "海外"), "行ける": ("渡航", "派遣"), "留学": ("派遣", "渡航", "海外"),
    "招く": ("招へい", "招聘", "受入", "受け入れ"), "呼ぶ": ("招へい", "招聘", "受入", "受け入れ", "呼び込む"),
    "受け入れる": ("受入", "受け入れ", "招へい"), "滞在": ("期間", "滞在", "受入期間"),
    "通る": ("採択",), "選ぶ": ("採択",), "選ばれる": ("採択",), "受かる": ("採択",),
    "新しい": ("新規",), "新た": ("新規",), "お金": ("経費", "支援額", "予算"), "締め切り": ("締切",),
    "組む": ("共同", "相手国"), "相手": ("相手国",), "対象": ("対象者", "支援対象者", "対象"),
    "人数": ("人数", "人"), "規模": ("規模", "支援額", "単価"), "額": ("額", "円"),
    "いくら": ("円", "額"), "期間": ("期間", "年間", "か月"), "何年": ("年間", "年度"),
    "国": ("国", "か国", "カ国"), "件数": ("件数", "件"), "数": ("数", "件", "人"),
    "受ける": ("受入", "受け入れ", "受入れ"), "入れる": ("受入", "受け入れ", "受入れ"),
    "受け入れ": ("受入", "受入れ"), "込む": ("見込み",), "見込む": ("見込み",), "想定": ("想定", "見込み"),
    "派遣": ("派遣", "渡航"), "実施": ("実施", "期間", "開始"),
    "英国": ("イギリス", "英", "UK"), "米国": ("アメリカ", "米", "US", "United States"), "イギリス": ("英国",), "アメリカ": ("米国",),
    "仕組み": ("スキーム", "枠組み", "制度"), "日本": ("我が国", "日本"), "我が国": ("日本",), "独": ("ドイツ",), "仏": ("フランス",), "中国": ("中華人民共和国",),
}


def alternatives(token: str) -> tuple[str, ...]:
    return (token, *SYNONYMS.get(token, ()))


# question words that say nothing about the topic
_STOP = {"何", "いくら", "幾ら", "いつ", "どの", "どれ", "どこ", "誰", "教える", "知る", "くださる", "下さる",
         "ある", "いる", "する", "なる", "れる", "られる", "できる", "出来る", "思う", "くれる", "もらう", "貰う",
         "ほしい", "欲しい", "良い", "いい", "合う", "向く", "使う", "場合", "こと", "もの", "事", "物", "よう",
         "の", "ん", "ため", "為", "について", "どう", "どんな", "何か", "くらい", "ぐらい", "程", "方",
         "what", "is", "the", "of", "a", "an", "for", "in", "how", "which", "does", "do", "did", "was",
         "are", "to", "and", "when", "much", "many", "that", "this", "there", "it", "its", "by", "with",
         "年度", "令和", "平成", "昭和", "額", "予算", "予算額", "数", "略", "うち", "成る",
         "付く", "つく", "幾", "つ", "件", "人", "校", "名", "ね", "よ", "っけ", "頃", "ころ", "位",
         "教え", "知りたい", "ください", "下さい", "お願い", "資料", "文書", "記載", "書く", "とする", "される",
         "なっている", "どれくらい", "どのくらい", "最長", "最大", "入る", "含む", "含まれる", "やる", "遣る", "呉れる", "ある", "為る", "居る", "有る", "出る", "来る", "行く", "言う", "見る", "聞く"}


#: what kind of figure a question asks for, by its cue words (the first that matches)
_ASKS: list[tuple[str, re.Pattern[str]]] = [
    ("rank", re.compile(r"何番目|何位|順位|何番")),
    ("percent", re.compile(r"%|％|割合|比率|増減率|伸び率|何割|率は|share|percent|proportion|what rate", re.I)),
    ("count", re.compile(r"何人|何件|何回|何名|何校|何か国|何カ国|何万人|何機関|何課題|何拠点|how many", re.I)),
    ("money", re.compile(r"いくら|幾ら|金額|予算|額|何億|何百万|円|how much|funding|budget|研究費|経費|費用", re.I)),
    ("period", re.compile(r"期間|何年間|何か月|何ヶ月|何年先|いつからいつまで|how long|research period|duration", re.I)),
    ("count", re.compile(r"何人|何件|何回|何名|何校|何か国|何カ国|何万|何機関|何課題|何拠点|人数|件数|回数|"
                         r"how many|number of", re.I)),
]


def asked_kind(text: str) -> str:
    """'money', 'percent', 'rank', 'period', 'count' or '' (the question asks for no figure)."""
    if re.search(r"とは|何を指|どのような|どういう|^what (?:is|are) (?:a|an) |what does .* mean", text, re.I):
        return ""  # a definition, even of a budget term
    if re.search(r"(ます|ました|です|でした)か[。?？]?$", text) and not re.search(r"何|いくら|幾ら|どの|どれ|どこ|いつ|誰|how|when", text, re.I):
        return ""  # yes or no (「対象になりますか」), not a figure
    # a figure the question quotes (「30億円という記事は」) is not what it asks for
    t = FIGURE.sub(" ", normalize(text))
    return next((k for k, rx in _ASKS if rx.search(t)), "")
