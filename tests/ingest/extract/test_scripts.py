# ruff: noqa: RUF001 - Chinese text is punctuated with full-width commas
"""Scripts written without spaces between words: a Chinese or Japanese article counts its
words by character and a Thai one by a dictionary tokenizer, so a real article is not
quarantined as "only 7 words". Pages written for the project."""

from __future__ import annotations

import pytest

from ingest.extract.page import ExtractError, extract_page
from transforms.normalise import _MAYBE_UNSPACED, _THAI, _UNSPACED, word_count

JAPANESE = [
    "港町の市議会は日曜日の夜、新しい防波堤の建設計画を賛成多数で可決した。",
    "計画では、老朽化した北側の岸壁を三年かけて補強し、漁船の係留場所も広げる。",
    "市長は記者会見で「台風の被害を減らすために欠かせない事業だ」と述べた。",
    "一方、一部の住民からは費用の負担について説明が足りないとの声も上がっている。",
]
CHINESE = [
    "海港市议会周日晚间以多数票通过了新建防波堤的计划。",
    "根据计划，北侧老化的码头将在三年内完成加固，渔船停泊区也将扩大。",
    "市长在记者会上表示，这项工程对减少台风造成的损失必不可少。",
    "不过，一些居民认为有关费用分担的说明还不够充分。",
]

THAI = [
    "สภาเมืองท่าเรือลงมติเห็นชอบแผนสร้างเขื่อนกันคลื่นใหม่เมื่อคืนวันอาทิตย์",
    "ตามแผนนี้ ท่าเทียบเรือทางทิศเหนือที่ทรุดโทรมจะได้รับการซ่อมแซมภายในสามปี และพื้นที่จอดเรือประมงจะขยายกว้างขึ้น",
    "นายกเทศมนตรีกล่าวในการแถลงข่าวว่าโครงการนี้จำเป็นต่อการลดความเสียหายจากพายุไต้ฝุ่น",
    "อย่างไรก็ตาม ชาวบ้านบางส่วนเห็นว่าคำอธิบายเรื่องการแบ่งค่าใช้จ่ายยังไม่เพียงพอ",
]


def page(lang: str, title: str, paragraphs: list[str]) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>'
        f"</head><body><article><h1>{title}</h1>{body}</article></body></html>"
    ).encode()


def test_words_are_counted_per_character_in_chinese_and_japanese() -> None:
    assert word_count("港町の市議会") == 6
    assert word_count("海港市议会通过了计划。") == 10  # the full stop is no word
    assert word_count("The 港町 council met") == 5  # a mixed line: 3 words and 2 characters
    assert word_count("항구 도시 의회가 계획을 통과시켰다") == 5  # Hangul is written with spaces
    assert word_count("a plain English line") == 4


@pytest.mark.parametrize(
    ("lang", "title", "paragraphs"),
    [
        ("ja", "防波堤計画を可決", JAPANESE),
        ("zh", "市议会通过防波堤计划", CHINESE),
        ("th", "สภาเห็นชอบแผนเขื่อนกันคลื่น", THAI),
    ],
    ids=["japanese", "chinese", "thai"],
)
def test_a_chinese_or_japanese_article_is_stored_not_quarantined(
    lang: str, title: str, paragraphs: list[str]
) -> None:
    extracted = extract_page(page(lang, title, paragraphs), f"https://port.example/{lang}/1")
    assert extracted.language == lang
    assert word_count(extracted.text) > (80 if lang != "th" else 40)
    for paragraph in paragraphs:
        assert paragraph in extracted.text


def test_thai_is_split_into_words_by_a_tokenizer() -> None:
    # "the prime minister / said that / the government / will / invest"
    assert word_count("นายกรัฐมนตรีกล่าวว่ารัฐบาลจะลงทุน") == 5
    assert word_count("The นายกรัฐมนตรีกล่าวว่ารัฐบาลจะลงทุน plan") == 7  # a mixed line
    assert word_count(" ".join(THAI)) > 40  # by spaces, four sentences were 6 "words"


def test_the_shortcut_for_other_texts_lets_no_thai_or_unspaced_character_by() -> None:
    # word_count splits on spaces alone when _MAYBE_UNSPACED finds nothing: every character
    # it lets by must be one the Thai and unspaced rules would not count either
    let_by = _MAYBE_UNSPACED.sub("", "".join(map(chr, range(0x110000))))
    assert len(let_by) > 10_000  # (Latin, Greek, Cyrillic, Arabic, punctuation, ...)
    assert _THAI.search(let_by) is None
    assert _UNSPACED.search(let_by) is None
    assert word_count("A line “quoted” — with €5 and cafés") == 8


def test_a_brief_in_these_scripts_still_has_a_minimum() -> None:
    with pytest.raises(ExtractError) as caught:
        extract_page(page("ja", "短報", ["短い。"]), "https://port.example/ja/2")
    assert caught.value.reason == "no_text"
