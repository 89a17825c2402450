"""Fingerprints, band hashes and the band index."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from transforms import minhash
from transforms.normalise import comparable_text

ROOT = Path(__file__).resolve().parents[2]
TEXTS = [
    "Port authority signs crane contract worth 40 million, officials said on Tuesday.",
    "Stra\u00dfe und \u00c4rger: die B\u00fcrger*innen_stimmen z\u00e4hlen 2024 neu.",
    "\u041f\u0443\u0442\u0438\u043d \u0438 \u041b\u0443\u043a\u0430\u0448\u0435\u043d\u043a\u043e \u0432\u0441\u0442\u0440\u0435\u0442\u0438\u043b\u0438\u0441\u044c.",
    "\u4e2d\u6587 \u5b57 \u2014 \u201cquoted\u201d word's end",
    "",
    "one two",
]


ALONE = "".join(f"{chr(a)}-{chr(b)}" for a, b in minhash.CHARACTER_WORD_RANGES)
# a word character of those scripts alone (Thai vowel and tone marks are no word characters)
WORDS = re.compile(rf"(?=\w)[{ALONE}]|(?:(?![{ALONE}])\w)+")


def test_words_are_the_regular_expression_word_runs() -> None:
    more = ["国务院总理 iPhone手机 ab", "นายกรัฐมนตรีกล่าว ok", "日本語のテキスト123"]
    texts = [comparable_text(t) for t in [*TEXTS, *more]]
    hashes, lengths = minhash.word_hashes(texts)
    expected = [WORDS.findall(t) for t in texts]
    assert expected[-3] == ["国", "务", "院", "总", "理", "iphone", "手", "机", "ab"]
    assert lengths.tolist() == [len(e) for e in expected]
    # equal words hash equally wherever they stand; different words differently
    flat = [w for e in expected for w in e]
    by_word: dict[str, int] = {}
    for word, value in zip(flat, hashes.tolist(), strict=True):
        assert by_word.setdefault(word, value) == value
    assert len(set(by_word.values())) == len(by_word)


def test_the_word_table_is_the_regular_expression_character_by_character() -> None:
    word = re.compile(r"\w")
    expected = np.zeros(0x110000, dtype=np.uint8)
    expected[[cp for cp in range(0x110000) if word.match(chr(cp))]] = 1
    for first, last in minhash.CHARACTER_WORD_RANGES:
        block = expected[first : last + 1]
        block[block > 0] = 2
    table = minhash._word_table()
    assert np.array_equal(table, expected)
    assert table[ord("_")] == 1 and table[0xD800] == 0 and table[ord("国")] == 2


def test_set_sizes_and_short_texts() -> None:
    prints = minhash.fingerprint(
        ["a b c d e f g", "a b c d e f g a b c d e f g", "one two", "", "!!!"]
    )
    # 7 words: 3 shingles; the same text twice adds the shingles across the seam only
    assert prints.sizes.tolist() == [3, 7, 1, 0, 0]
    assert (prints.signatures[0] == minhash.fingerprint(["a b c d e f g"]).signatures[0]).all()


def test_fingerprints_do_not_depend_on_the_process_or_the_batch() -> None:
    here = minhash.fingerprint(TEXTS)
    alone = np.stack([minhash.fingerprint([t]).signatures[0] for t in TEXTS])
    assert (here.signatures == alone).all()
    code = (
        "import json, sys; from transforms import minhash; "
        f"print(json.dumps(minhash.fingerprint({TEXTS!r}).signatures.tolist()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    ).stdout
    assert json.loads(out) == here.signatures.tolist()


def test_similarity_estimates_jaccard_and_containment() -> None:
    words = [f"w{i}" for i in range(400)]
    base = " ".join(words[:200])
    wrapped = " ".join(words[:300])  # base plus 100 more words: Jaccard ~0.66, containment ~1
    other = " ".join(words[200:])
    prints = minhash.fingerprint([base, wrapped, other])
    sig, size = prints.signatures, prints.sizes
    jaccard, containment = minhash.similarity(sig[[0, 0]], size[[0, 0]], sig[[1, 2]], size[[1, 2]])
    assert abs(jaccard[0] - 196 / 296) < 0.12 and containment[0] > 0.85
    assert jaccard[1] < 0.05 and containment[1] < 0.1
    assert minhash.is_copy(jaccard, containment).tolist() == [True, False]


# a Chinese report written for the project, and a copy of it by another site: two
# characters changed, a sentence of its own added
REPORT = (
    "市政府周二宣布\uff0c港口新建的两台起重机将于下月投入使用。"
    "港务局表示\uff0c这项合同价值四千万元\uff0c由本地企业承建。"
    "工程人员在过去三个月里完成了基础设施的改造。"
    "官员说\uff0c新设备将使码头的装卸效率提高百分之三十。"
    "部分居民担心夜间作业会带来噪音\uff0c市政府承诺将限制作业时间。"
    "港务局计划在明年春天再招标一台起重机。"
)
EDITED = REPORT.replace("周二", "周三").replace("三十", "二十") + "本网记者将继续关注此事。"
OTHER = (
    "气象部门预计本周末将有大雨\uff0c沿海地区可能出现强风。"
    "学校提醒家长注意孩子的出行安全\uff0c部分航班或将延误。"
    "农业专家建议农民提前做好排水准备\uff0c以减少损失。"
)


def test_copies_in_a_script_without_spaces_are_found_despite_an_edit() -> None:
    """Every Chinese character is a word: a changed character changes five shingles, not the
    whole sentence it stands in (each sentence was one "word" before)."""
    prints = minhash.fingerprint([REPORT, EDITED, OTHER])
    assert prints.sizes[0] > 100  # character shingles, not a handful of sentence "words"
    sig, size = prints.signatures, prints.sizes
    jaccard, containment = minhash.similarity(sig[[0, 0]], size[[0, 0]], sig[[1, 2]], size[[1, 2]])
    assert minhash.is_copy(jaccard, containment).tolist() == [True, False]
    assert containment[0] > 0.85 and jaccard[1] < 0.05


def test_texts_without_such_scripts_keep_their_fingerprints() -> None:
    """The change of words for those scripts leaves every other text's fingerprint as the
    older scheme made it: the hashes of the older word rule (\\w+ runs), computed here."""
    texts = [comparable_text(t) for t in TEXTS if not re.search(f"[{ALONE}]", t)]
    hashes, _ = minhash.word_hashes(texts)
    mask = np.uint64(2**64 - 1)
    expected = []
    for word in (w for t in texts for w in re.findall(r"\w+", t)):
        value = 0
        power = 1
        for n, ch in enumerate(word):
            value = (value + (ord(ch) + 1) * power) & int(mask)
            power = power * 0x100000001B3 & int(mask) if n < 63 else power
        value ^= len(word) * 0xD6E8FEB86659FD93 & int(mask)
        expected.append(int(minhash._mix(np.asarray([value], dtype=np.uint64))[0]))
    assert hashes.tolist() == expected


def test_band_index_finds_every_pair_sharing_a_band_once() -> None:
    rng = np.random.default_rng(1)
    bands = rng.integers(-(2**63), 2**63 - 1, (50, minhash.BANDS), dtype=np.int64)
    bands[7, 3] = bands[30, 3]
    bands[7, 9] = bands[30, 9]  # two shared bands: still one pair
    bands[12, 0] = bands[40, 0]
    index = minhash.BandIndex()
    index.add(bands[:25])
    index.add(bands[25:])
    assert index.size == 50 and index.nbytes == 50 * minhash.BANDS * 12
    q, c = index.query(bands[[7, 12, 20]])
    pairs = {(int(a), int(b)) for a, b in zip(q, c, strict=True)}
    assert pairs == {(0, 7), (0, 30), (1, 12), (1, 40), (2, 20)}


def test_band_hashes_differ_by_band_number() -> None:
    same = np.zeros((1, minhash.NUM_PERM), dtype=np.uint32)
    assert len(set(minhash.band_hashes(same)[0].tolist())) == minhash.BANDS


def test_the_scheme_is_recorded_in_written_files(tmp_path: Path) -> None:
    from transforms.dataset import write_atomic
    from transforms.schema import ARTICLE_SCHEMA

    write_atomic(ARTICLE_SCHEMA.empty_table(), tmp_path / "a.parquet")
    metadata = pq.read_schema(tmp_path / "a.parquet").metadata
    assert metadata[b"newsflow.minhash_scheme"].decode() == minhash.SCHEME


@pytest.mark.parametrize("splits", [[], [10], [1, 2, 30], [0, 49]])
def test_a_band_index_is_the_same_however_its_rows_are_added(splits: list[int]) -> None:
    rng = np.random.default_rng(2)
    bands = rng.integers(-50, 50, (50, minhash.BANDS), dtype=np.int64)  # many shared values
    whole = minhash.BandIndex()
    assert whole.add(bands).tolist() == list(range(50))
    parts = minhash.BandIndex()
    for first, stop in itertools.pairwise([0, *splits, 50]):
        assert parts.add(bands[first:stop]).tolist() == list(range(first, stop))
    assert parts.size == whole.size == 50 and parts.nbytes == whole.nbytes
    for limit in (None, 2):
        for got, expected in zip(parts.query(bands, limit), whole.query(bands, limit), strict=True):
            assert got.tolist() == expected.tolist()
