"""MinHash signatures of article texts, their LSH band hashes, and copy tests between them.

- Shingles: SHINGLE_WORDS consecutive comparable words of the text (boilerplate lines,
  case, punctuation and white space folded by transforms.normalise.comparable_tokens).
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

from transforms.normalise import comparable_tokens

SHINGLE_WORDS = 5
NUM_PERM = 120
BANDS = 40
ROWS = 3
SEED = 20231104
SCHEME = f"rensa-rminhash-v2/{NUM_PERM}/{BANDS}x{ROWS}/w{SHINGLE_WORDS}/seed{SEED}"

# A pair is a copy when the smaller text is mostly inside the larger one and the two are not
# a brief and a long article that merely quotes it.
CONTAINMENT_MIN = 0.8
JACCARD_MIN = 0.3

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


def shingles(text: str) -> list[str]:
    words = comparable_tokens(text)
    if len(words) < SHINGLE_WORDS:
        return [" ".join(words)] if words else []
    return [" ".join(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)]


def fingerprint(texts: list[str]) -> Fingerprints:
    """Fingerprints of many texts at once (rensa computes the signatures in one call)."""
    from rensa import RMinHash

    sets = [set(shingles(text)) for text in texts]
    sizes = np.array([len(s) for s in sets], dtype=np.int32)
    if not texts:
        signatures = np.empty((0, NUM_PERM), dtype=np.uint32)
    else:
        matrix = RMinHash.digest_matrix_from_token_sets([sorted(s) for s in sets], NUM_PERM, SEED)
        signatures = np.asarray(matrix.to_rows(), dtype=np.uint32).reshape(len(texts), NUM_PERM)
    return Fingerprints(signatures, sizes, band_hashes(signatures))


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
    h ^= h >> np.uint64(30)
    h *= _MIX1
    h ^= h >> np.uint64(27)
    h *= _MIX2
    h ^= h >> np.uint64(31)
    return h.view(np.int64)


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
        self._rows: npt.NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self.size = 0

    @property
    def nbytes(self) -> int:
        return int(self._keys.nbytes + self._rows.nbytes)

    def add(self, bands: BandHashes) -> npt.NDArray[np.int64]:
        """Insert a batch; returns the rows given to it (consecutive, from the current size)."""
        rows = np.arange(self.size, self.size + bands.shape[0], dtype=np.int64)
        flat, owners = bands.reshape(-1), np.repeat(rows, bands.shape[1])
        order = np.argsort(flat, kind="stable")
        flat, owners = flat[order], owners[order]
        at = np.searchsorted(self._keys, flat, side="right")
        self._keys = np.insert(self._keys, at, flat)
        self._rows = np.insert(self._rows, at, owners)
        self.size += bands.shape[0]
        return rows

    def query(self, bands: BandHashes) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Candidate pairs (query row, indexed row) sharing at least one band, each pair once."""
        flat = bands.reshape(-1)
        left = np.searchsorted(self._keys, flat, side="left")
        right = np.searchsorted(self._keys, flat, side="right")
        counts = right - left
        hit = np.nonzero(counts)[0]
        if not hit.size:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty
        counts = counts[hit]
        starts = np.repeat(left[hit] - np.cumsum(counts) + counts, counts)
        positions = starts + np.arange(counts.sum())
        queries = np.repeat(hit // bands.shape[1], counts)
        pairs = np.unique(np.stack([queries, self._rows[positions]], axis=1), axis=0)
        return pairs[:, 0], pairs[:, 1]
