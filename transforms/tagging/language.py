"""Language of an article: detected from its text with py3langid (its model ships inside
the package: no download), with the page's declared language as a hint.

The model ships as an LZMA-compressed archive that takes 0.65 s to unpack and read, paid by
every process that tags (the workers' server of `newsflow ingest` while the workers wait for
it, each Airflow task). It is unpacked once per machine into the cache folder
(transforms/cachedir.py) as plain arrays, mapped in 0.02 s; the arrays are the
package's own, so the model answers the same. A cache that cannot be written or read is
passed over: the package's loader runs as before."""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

MAX_CHARS = 2000  # the start of a text decides; more adds time, not accuracy
HINT_WITHIN = 0.5  # the declared language wins if its probability is at least this share of the top
UNSURE = 0.9  # below this probability of its first choice the detector is guessing (tables,
# results, lists of names): the declared language wins, whatever its rank


# the arrays of py3langid's model archive (py3langid.modelio.load_model reads the same)
_ARRAYS = ("ptc", "pc", "classes", "nextmove", "nextmove_row", "out_feat")

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    model = MODEL_DIR / MODEL_FILE
    try:
        folder = _unpacked(model)
        try:
            return _from_arrays(folder)
        except (OSError, ValueError, KeyError):  # damaged (a disk filled up): unpacked again
            shutil.rmtree(folder, ignore_errors=True)
            return _from_arrays(_unpacked(model))
    except (OSError, ValueError, KeyError) as exc:  # no cache folder to write
        log.debug("language model: reading the package's archive (%s)", exc)
        return LanguageIdentifier.from_modelpath(model, norm_probs=True)


def _unpacked(model: Path) -> Path:
    """The cache folder holding the arrays of the model archive `model`, written first when
    missing (whole or not at all: written aside, then renamed). Named by the archive's
    path, size and time, so an upgraded package gets its own."""
    import numpy as np

    from transforms.cachedir import cache_base

    stat = model.stat()
    key = hashlib.sha256(f"{model.resolve()} {stat.st_size} {stat.st_mtime_ns}".encode())
    folder = cache_base() / "models" / f"py3langid-{key.hexdigest()[:16]}"
    if folder.is_dir():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    aside = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=folder.parent))
    try:
        import lzma

        with lzma.open(model) as packed, (aside / "model.npz").open("wb") as plain:
            shutil.copyfileobj(packed, plain, length=1 << 20)
        with np.load(aside / "model.npz", allow_pickle=False) as data:
            for name in _ARRAYS:
                np.save(aside / f"{name}.npy", data[name], allow_pickle=False)
        (aside / "model.npz").unlink()
        try:
            aside.rename(folder)
        except OSError:
            if not folder.is_dir():  # (another process renamed its copy first: that one)
                raise
    finally:
        shutil.rmtree(aside, ignore_errors=True)
    return folder


def _from_arrays(folder: Path) -> Any:
    """The identifier from unpacked arrays, built as py3langid builds it from its archive,
    its large arrays mapped from the files: no copy to make (new memory is slow to touch on
    some machines: 0.6 s for the 68 MB), and every process that tags shares them. The
    automaton's tables are read through memoryviews of the maps, which index as py3langid's
    own arrays do. (The files are only ever replaced by a rename, never rewritten in place,
    so a map stays valid.)"""
    import numpy as np
    from py3langid.langid import LanguageIdentifier

    data = {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in _ARRAYS}
    return LanguageIdentifier(
        data["ptc"],
        np.array(data["pc"]),
        data["classes"].tolist(),
        _table(data["nextmove"]),
        data["out_feat"].tolist(),
        norm_probs=True,
        tk_row=_table(data["nextmove_row"]),
    )


def _table(values: Any) -> memoryview:
    """An unsigned integer array as a memoryview of its items (py3langid.modelio's
    _to_array gives the same items as a copy)."""
    code = {2: "H", 4: "I", 8: "Q"}.get(values.dtype.itemsize)  # (Q: 8 bytes everywhere)
    if values.dtype.kind != "u" or code is None:
        raise ValueError(f"an automaton table of {values.dtype}")
    items: memoryview = memoryview(values).cast("B").cast(code)  # type: ignore[call-overload]
    return items


def detect(text: str, declared: str | None = None) -> tuple[str | None, float | None]:
    """(ISO 639-1 code, probability) of the text's language. The declared language (a page's
    <html lang>, or the source's `language`) is taken when the detector ranks it close to its
    first choice — pages rarely declare a wrong language, detectors often confuse neighbours
    on short texts (Ukrainian/Russian, Norwegian/Danish) — or whenever the detector is unsure
    of its first choice (UNSURE): a table of results or a list of place names reads as
    Dutch or Javanese to it. No text: the declared language."""
    sample = " ".join(text[:MAX_CHARS].split())
    hint = (declared or "").split("-")[0].split("_")[0].lower() or None
    if not sample:
        return hint, None
    ranked: list[tuple[str, float]] = _identifier().rank(sample)
    best, best_p = ranked[0]
    if hint and hint != best:
        for lang, p in ranked:
            if lang == hint and (p >= HINT_WITHIN * best_p or best_p < UNSURE):
                return hint, round(float(p), 4)
    return best, round(float(best_p), 4)
