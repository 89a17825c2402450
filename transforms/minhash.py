"""MinHash signatures of article texts, their LSH band hashes, and copy tests between them.

- Shingles: SHINGLE_WORDS consecutive comparable words of the text (boilerplate lines,
  case, punctuation and white space folded by transforms.normalise.comparable_tokens). In
  the scripts written without spaces between words (Chinese, Japanese kana, Thai, Lao,
  Khmer, Myanmar: CHARACTER_WORD_RANGES) every character is a word, so a shingle is five
  characters there: a run of such text is not one "word" a single changed character breaks.
- Signature: rensa's RMinHash (pinned exactly in pyproject.toml), NUM_PERM values of 32 bits
  with seed SEED. SCHEME names all of this; it is written into the dataset's metadata, and
  a change of any part of it needs `newsflow dedup --rebuild`.
- Bands: BANDS bands of ROWS signature values, each hashed to one signed 64-bit integer that
  also encodes the band's number, so one flat set of integers can be probed with one
  vectorised membership test (a value can only equal the same band of another article).
  Two texts share a band with probability 1 - (1 - J^ROWS)^BANDS: 0.99 at Jaccard 0.5,
  0.93 at 0.4, 0.29 at 0.2 — candidates are found well below the copy threshold and then
  verified.
- Verification: the estimated Jaccard J (share of equal signature values) and, from J and
  the two shingle-set sizes, the estimated containment of the smaller text in the larger:
  |A ∩ B| = J (|A| + |B|) / (1 + J). A syndicated copy wrapped in another site's
  boilerplate, or with one added paragraph, has Jaccard near 0.6 but containment near 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from transforms.normalise import THAI_RANGES, UNSPACED_RANGES, comparable_text

SHINGLE_WORDS = 5
NUM_PERM = 120
BANDS = 40
ROWS = 3
SEED = 20231104
SCHEME = (
    f"rensa-rminhash-v2/{NUM_PERM}/{BANDS}x{ROWS}/w{SHINGLE_WORDS}-poly64-splitmix"
    f"-charwords/seed{SEED}"
)
# the schemes before: texts of the scripts above were fingerprinted by their \w+ runs
OLDER_SCHEMES = (
    f"rensa-rminhash-v2/{NUM_PERM}/{BANDS}x{ROWS}/w{SHINGLE_WORDS}-poly64-splitmix/seed{SEED}",
)
CHARACTER_WORD_RANGES = (
    *UNSPACED_RANGES,
    *THAI_RANGES,
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
)

# A pair is a copy when the smaller text is mostly inside the larger one and the two are not
# a brief and a long article that merely quotes it.
CONTAINMENT_MIN = 0.8
JACCARD_MIN = 0.3

CHUNK_CHARS = 200_000  # characters fingerprinted in one vectorised pass (cache-sized)
Signatures = npt.NDArray[np.uint32]  # (n, NUM_PERM)
BandHashes = npt.NDArray[np.int64]  # (n, BANDS)

_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_BAND_SALT = (np.arange(BANDS, dtype=np.uint64) + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class Fingerprints:
    """Signatures (n x NUM_PERM), shingle-set sizes (n) and band hashes (n x BANDS) of n texts.
    A text with no shingle has size 0 and never matches by signature."""

    signatures: Signatures
    sizes: npt.NDArray[np.int32]
    bands: BandHashes


def fingerprint(texts: list[str]) -> Fingerprints:
    """Fingerprints of many texts at once, vectorised over chunks of the batch small enough
    to stay in the CPU cache: words (the \\w+ runs of transforms.normalise.comparable_text)
    are hashed from their code points with numpy, shingle hashes are combined from word
    hashes, and rensa computes the chunk's signatures in one call. Everything is a pure
    function of the text: no per-process hash seeds."""
    if not texts:
        empty = np.empty((0, NUM_PERM), dtype=np.uint32)
        return Fingerprints(empty, np.empty(0, dtype=np.int32), band_hashes(empty))
    comparable = [comparable_text(text) for text in texts]
    parts, chunk, chars = [], [], 0
    for text in comparable:
        chunk.append(text)
        chars += len(text)
        if chars >= CHUNK_CHARS:
            parts.append(_signatures(chunk))
            chunk, chars = [], 0
    if chunk:
        parts.append(_signatures(chunk))
    signatures = np.concatenate([p[0] for p in parts])
    sizes = np.concatenate([p[1] for p in parts])
    return Fingerprints(signatures, sizes, band_hashes(signatures))


def _signatures(texts: list[str]) -> tuple[Signatures, npt.NDArray[np.int32]]:
    """Signatures and shingle-set sizes of a chunk of comparable texts."""
    from rensa import RMinHash

    n, k = len(texts), SHINGLE_WORDS
    hashes, lengths = word_hashes(texts)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    # a shingle starts at every word with k - 1 words after it in the same text: roll the
    # combination over the whole flat array (contiguous slices), then keep those starts
    padded = np.concatenate([hashes, np.zeros(k - 1, dtype=np.uint64)])
    rolled = padded[: hashes.size].copy()
    for j in range(1, k):
        rolled = _mix(rolled) ^ padded[j : j + hashes.size]
    rolled = _mix(rolled)
    position = np.arange(hashes.size, dtype=np.int64) - np.repeat(starts, lengths)
    valid = position <= np.repeat(lengths - k, lengths)
    shingles, counts = rolled[valid], np.maximum(lengths - k + 1, 0)
    short = np.flatnonzero((lengths > 0) & (lengths < k))
    if short.size:  # texts of fewer than k words: the words together are one shingle
        extra = []
        for i in short.tolist():
            value = hashes[starts[i]]
            for h in hashes[starts[i] + 1 : starts[i] + lengths[i]]:
                value = _mix(np.asarray([value]))[0] ^ h
            extra.append(_mix(np.asarray([value]))[0])
        owner = np.repeat(np.arange(n), counts)
        owner = np.concatenate([owner, short])
        shingles = np.concatenate([shingles, np.asarray(extra, dtype=np.uint64)])
        order = np.argsort(owner, kind="stable")
        shingles, counts = shingles[order], counts.copy()
        counts[short] = 1
    doc = np.repeat(np.arange(n, dtype=np.uint64), counts)
    keys = np.sort((doc << np.uint64(44)) | (shingles >> np.uint64(20)))
    distinct = np.ones(keys.size, dtype=bool)
    distinct[1:] = keys[1:] != keys[:-1]
    sizes = np.bincount((keys[distinct] >> np.uint64(44)).astype(np.int64), minlength=n)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.uint64)
    matrix = RMinHash.digest_matrix_from_flat_token_hashes(shingles, offsets, NUM_PERM, SEED)
    signatures = np.asarray(matrix.to_rows(), dtype=np.uint32).reshape(n, NUM_PERM)
    return signatures, sizes.astype(np.int32)


def word_hashes(texts: list[str]) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
    """A 64-bit hash of every word of every text, in order, and the number of words of each
    text. A word is a run of characters matching the regular expression \\w (letters, digits
    of any script and '_'), except that each character of CHARACTER_WORD_RANGES is a word of
    its own; a word's hash is a polynomial over its code points, mixed."""
    joined = "\x00".join(texts)  # NUL is not a word character: words never cross texts
    points = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    table = _word_table()
    in_word = table[points] > 0
    alone = table[points] == _ALONE  # a word by itself, and the end of the word before it
    begins = in_word.copy()
    begins[1:] &= ~in_word[:-1]
    begins |= alone
    begins[1:] |= in_word[1:] & alone[:-1]
    chars = np.flatnonzero(in_word)
    first = np.flatnonzero(begins)
    if not first.size:
        return np.empty(0, dtype=np.uint64), np.zeros(len(texts), dtype=np.int64)
    word_of = np.cumsum(begins[chars]) - 1
    position = chars - first[word_of]
    terms = (points[chars].astype(np.uint64) + np.uint64(1)) * _POWERS[np.minimum(position, 63)]
    sums = np.add.reduceat(terms, np.flatnonzero(position == 0))
    lengths_chars = np.bincount(word_of).astype(np.uint64)
    hashes = _mix(sums ^ (lengths_chars * np.uint64(0xD6E8FEB86659FD93)))
    separators = np.flatnonzero(points == 0)
    text_of = np.searchsorted(separators, first)
    return hashes, np.bincount(text_of, minlength=len(texts)).astype(np.int64)


_POWERS = np.concatenate(  # 1, P, P^2, ... (mod 2^64) with FNV's 64-bit prime P
    [np.ones(1, dtype=np.uint64), np.cumprod(np.full(63, 0x100000001B3, dtype=np.uint64))]
)
_WORD_TABLE: list[npt.NDArray[np.uint8]] = []
_ALONE = 2  # (_word_table) a word character that is a word by itself


def _word_table() -> npt.NDArray[np.uint8]:
    """For every Unicode code point: 0 when the regular expression \\w does not match it, else
    1, or _ALONE for the characters of CHARACTER_WORD_RANGES."""
    if not _WORD_TABLE:
        import re

        # every code point in one string (surrogates too), its \w runs found by one search
        every = np.arange(0x110000, dtype=np.uint32).tobytes().decode("utf-32-le", "surrogatepass")
        table = np.zeros(0x110000, dtype=np.uint8)
        for run in re.finditer(r"\w+", every):
            table[run.start() : run.end()] = 1
        for first, last in CHARACTER_WORD_RANGES:
            block = table[first : last + 1]
            block[block > 0] = _ALONE
        _WORD_TABLE.append(table)
    return _WORD_TABLE[0]


def _mix(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64's finaliser: spreads every input bit over the 64-bit result."""
    values = values ^ (values >> np.uint64(30))
    values = values * _MIX1
    values = values ^ (values >> np.uint64(27))
    values = values * _MIX2
    return values ^ (values >> np.uint64(31))


def band_hashes(signatures: Signatures) -> BandHashes:
    """One 64-bit hash per band (splitmix64 finaliser over the band's values and number)."""
    n = signatures.shape[0]
    values = signatures[:, : BANDS * ROWS].astype(np.uint64).reshape(n, BANDS, ROWS)
    h = np.broadcast_to(_BAND_SALT, (n, BANDS)).copy()
    for r in range(ROWS):
        h ^= (
            values[:, :, r]
            + np.uint64(0x9E3779B97F4A7C15)
            + (h << np.uint64(6))
            + (h >> np.uint64(2))
        )
    return _mix(h).view(np.int64)


def similarity(
    sig_a: Signatures,
    size_a: npt.NDArray[np.int32],
    sig_b: Signatures,
    size_b: npt.NDArray[np.int32],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Estimated Jaccard and containment for pairs of rows (a[i], b[i]); vectorised."""
    jaccard = (sig_a == sig_b).mean(axis=1)
    a, b = size_a.astype(np.float64), size_b.astype(np.float64)
    smaller = np.minimum(a, b)
    common = jaccard * (a + b) / (1.0 + jaccard)
    with np.errstate(divide="ignore", invalid="ignore"):
        containment = np.where(smaller > 0, np.minimum(common / smaller, 1.0), 0.0)
    jaccard = np.where(smaller > 0, jaccard, 0.0)
    return jaccard, containment


def is_copy(
    jaccard: npt.NDArray[np.float64], containment: npt.NDArray[np.float64]
) -> npt.NDArray[np.bool_]:
    return (containment >= CONTAINMENT_MIN) & (jaccard >= JACCARD_MIN)


class BandIndex:
    """Band hashes of many articles held as one sorted int64 array with the row of each value:
    about BANDS x 12 bytes per article (a million articles in under 0.5 GiB), with batch
    inserts merged in and batch queries answered by binary search, all in numpy."""

    def __init__(self) -> None:
        self._keys: npt.NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self._rows: npt.NDArray[np.int32] = np.empty(0, dtype=np.int32)
        self.size = 0

    @property
    def nbytes(self) -> int:
        return int(self._keys.nbytes + self._rows.nbytes)

    def add(self, bands: BandHashes) -> npt.NDArray[np.int64]:
        """Insert a batch; returns the rows given to it (consecutive, from the current size)."""
        first = self.size
        flat = bands.reshape(-1)
        order = np.argsort(flat, kind="stable")
        flat = flat[order]
        owners = (order // bands.shape[1]).astype(np.int32) + np.int32(first)
        del order
        if self.size:
            at = np.searchsorted(self._keys, flat, side="right")
            self._keys = np.insert(self._keys, at, flat)
            self._rows = np.insert(self._rows, at, owners)
        else:  # (the first batch is the index: nothing to merge it with)
            self._keys, self._rows = flat, owners
        self.size += bands.shape[0]
        return np.arange(first, self.size, dtype=np.int64)

    def query(
        self, bands: BandHashes, limit: int | None = None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Candidate pairs (query row, indexed row) sharing at least one band, each pair once.
        `limit`: of the rows sharing one band value, only the first `limit` (in insertion
        order) are candidates, so that n near-identical rows give O(n) pairs, not O(n^2);
        they still all meet the same first rows of each shared band."""
        flat = bands.reshape(-1)
        left = np.searchsorted(self._keys, flat, side="left")
        right = np.searchsorted(self._keys, flat, side="right")
        counts = right - left
        if limit is not None:
            counts = np.minimum(counts, limit)
        hit = np.nonzero(counts)[0]
        if not hit.size:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty
        counts = counts[hit]
        starts = np.repeat(left[hit] - np.cumsum(counts) + counts, counts)
        positions = starts + np.arange(counts.sum())
        queries = np.repeat(hit // bands.shape[1], counts)
        pairs = np.unique(
            np.stack([queries, self._rows[positions].astype(np.int64)], axis=1), axis=0
        )
        return pairs[:, 0], pairs[:, 1]
