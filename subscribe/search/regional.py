"""Taiwan's vocabulary read as the mainland's: the second reading of traditional text.

Character folding (OpenCC t2s, analysis.fold) makes 空氣品質 空气品质, but the mainland
writes 空气质量: the words differ, not only the characters (資料/数据, 軟體/软件,
計程車/出租车, 腳踏車/自行车, 網路/网络, 程式/程序). A text that holds traditional
characters is therefore also read with OpenCC's phrase-level Taiwan → mainland
conversion (`tw2sp`), then with the project's own supplement below for words OpenCC
leaves alone, and the words of that reading are indexed after the text's own, in
order, so a quoted phrase meets them too (analysis.term_positions), weighing
READING_WEIGHT (below) where the text's own words do not hold them. A query holding traditional characters is met by its own
words or by its reading's (query.Clause.regional), so either region's words find the
other's titles; titles are shown as written.

Only text with traditional characters gets a reading. Simplified text is the mainland's
own usage, where 资料 means materials (学习资料, 档案资料), not data, and 影片 a film,
not a video: converting it as if it were Taiwan's would put data where none was meant.
"""

from __future__ import annotations

from functools import lru_cache

import opencc

# What a word of the phrase reading weighs beside the text's own words (an occurrence in
# the index, analysis.counted; a query's reading words, engine._reading). The
# character-level reading (t2s: the same words in the other script) is what the text
# says and weighs in full; the phrase reading is OpenCC's guess at the mainland's word,
# right for most catalog words (資料 数据, 軟體 软件) but made from a programmer's
# vocabulary that rewrites everyday ones: 檔案 (a catalog's archives, 檔案管理局) read
# 文件, 物件 (a property listing) 对象, 介面 接口. So a reading meets its words, for
# recall, and ranks below what holds the words as typed.
READING_WEIGHT = 0.5

# Whole words of the tw2sp reading (as jieba cuts it, simplified) that OpenCC keeps
# although the mainland says them otherwise. Each is Taiwan's everyday word in public
# data titles, with the mainland's word catalogs use for the same thing.
SUPPLEMENT = {
    # 品質 is Taiwan's "quality" (空氣品質 air quality, 水品質, 服務品質); the mainland
    # says 质量 (空气质量). OpenCC has no rule, as 品质 is also mainland Chinese (a
    # person's character, goods' grade), so only Taiwan-written text is read this way.
    "品质": "质量",
    # 捷運 is Taiwan's metro (臺北捷運, 捷運站); the mainland's catalogs say 地铁.
    "捷运": "地铁",
    # 機車 is Taiwan's motor scooter (機車停車格, 機車登記數); the mainland's 机车 is a
    # railway locomotive and its catalogs say 摩托车.
    "机车": "摩托车",
    # 指標 is Taiwan's indicator (空氣品質指標, 經濟指標, 績效指標), as 指标 is the
    # mainland's; tw2sp reads it as the programmer's pointer (指针), so the reading of
    # 空氣品質指標 lacked the mainland's 空气质量指标. Catalog titles mean indicators.
    "指针": "指标",
}


def reading(normal: str, folded: str) -> str:
    """The mainland reading of a text that t2s changed (one holding traditional
    characters), or "" when it reads the same. `normal` is the text NFKC-folded and
    lower-cased, `folded` its analysis.fold (t2s of `normal`): see
    analysis.fold_and_reading, which calls this only when the two differ."""
    converted = _converted_short(normal) if len(normal) <= 64 else _converted(normal)
    return "" if converted == folded else converted


@lru_cache(maxsize=20_000)
def _converted_short(text: str) -> str:
    """_converted, cached for short texts: titles, publishers and keywords of a Taiwan
    catalog repeat (bodies, up to 4,000 characters, mostly do not)."""
    return _converted(text)


@lru_cache(maxsize=1)
def _tw2sp() -> opencc.OpenCC:
    """OpenCC's tw2sp, made on first use: ~1.4 MB that processes meeting no traditional
    text (a mainland catalog's web workers, `flask bundles build`) need not hold."""
    return opencc.OpenCC("tw2sp")


def _converted(text: str) -> str:
    """tw2sp, then the supplement's whole words."""
    import rjieba  # imported on first use, as analysis does (its dictionary is ~33 MB)

    converted = _tw2sp().convert(text)
    if any(word in converted for word in SUPPLEMENT):
        words = rjieba.cut(converted, hmm=False)
        converted = "".join(SUPPLEMENT.get(word, word) for word in words)
    return converted
