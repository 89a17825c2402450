"""py3langid's language model, loaded from a copy kept ready in this machine's cache folder.

The model ships LZMA-compressed inside the package: decompressing it takes about 0.4 s of
CPU, paid by every process that tags (each worker of `newsflow ingest`, each Airflow task
that normalises a run), out of about 0.6 s for the whole load. The first load here writes
the decompressed arrays to `<cache folder>/py3langid/<digest>.npz.zst` (zstd, about 7 MB),
which later loads read in a twentieth of the time. The digest is of the packaged file's
bytes, so an upgraded package gets a copy of its own. A copy that cannot be read is made
again; a cache folder that cannot be written only means the slower load.

The arrays are read as py3langid's own loader reads them (`py3langid.modelio.load_model`)
and given to the same constructor `LanguageIdentifier.from_model_file` calls; a test checks
that both give the same identifier.
"""

from __future__ import annotations

import hashlib
import io
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FOLDER = "py3langid"
_SIZE_BYTES = 8  # the copy starts with the decompressed size (little-endian)


def load_identifier(*, norm_probs: bool = True) -> Any:
    """py3langid's `LanguageIdentifier` for its packaged model."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    model = Path(MODEL_DIR) / MODEL_FILE
    packaged = model.read_bytes()
    copy = _copy_path(packaged)
    arrays = _read_copy(copy)
    if arrays is None:
        raw = _decompressed(packaged)
        arrays = _arrays(raw)
        _write_copy(copy, raw)
    ptc, pc, classes, nextmove, row, output = arrays
    return LanguageIdentifier(ptc, pc, classes, nextmove, output, norm_probs=norm_probs, tk_row=row)


def _copy_path(packaged: bytes) -> Path:
    from transforms.files import cache_folder

    digest = hashlib.sha256(packaged).hexdigest()[:16]
    return cache_folder() / FOLDER / f"{digest}.npz.zst"


def _decompressed(packaged: bytes) -> bytes:
    import lzma

    return lzma.decompress(packaged)


def _arrays(raw: bytes) -> tuple[Any, ...]:
    """(ptc, pc, classes, nextmove, row, output) from the model's npz bytes, as
    `py3langid.modelio.load_model` reads them and `from_model_file` passes them on."""
    import numpy as np
    from py3langid.modelio import _to_array

    with np.load(io.BytesIO(raw), allow_pickle=False) as data:
        return (
            np.asarray(data["ptc"]),
            np.asarray(data["pc"]),
            data["classes"].tolist(),
            _to_array(data["nextmove"]),
            _to_array(data["nextmove_row"]),
            data["out_feat"].tolist(),
        )


def _read_copy(path: Path) -> tuple[Any, ...] | None:
    """The model's arrays (see `_arrays`) from its copy; None when there is none or it is
    damaged."""
    import pyarrow as pa

    try:
        stored = path.read_bytes()
    except OSError:
        return None
    try:
        size = int.from_bytes(stored[:_SIZE_BYTES], "little")
        raw = pa.Codec("zstd").decompress(
            stored[_SIZE_BYTES:], decompressed_size=size, asbytes=True
        )
        return _arrays(raw)
    except Exception as exc:  # damaged: made again from the packaged file
        log.warning("%s: unreadable copy of the language model (%s); making it again", path, exc)
        return None


def _write_copy(path: Path, raw: bytes) -> None:
    import pyarrow as pa

    from transforms.files import replace_whole

    packed = len(raw).to_bytes(_SIZE_BYTES, "little") + pa.Codec(
        "zstd", compression_level=3
    ).compress(raw, asbytes=True)
    try:
        replace_whole(path, lambda handle: handle.write(packed))
    except OSError as exc:  # a read-only or full cache folder: the next process decompresses
        log.debug("%s: not written (%s)", path, exc)
