"""py3langid's model loaded from the copy in the cache folder: the same identifier as the
package's own loader gives, made again when damaged, and loaded without one when the cache
folder cannot be written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from transforms.files import CACHE_ENV
from transforms.tagging import langid_model
from transforms.tagging.langid_model import load_identifier

TEXTS = [
    "The council approved the budget after a long debate on Tuesday night.",
    "Der Stadtrat hat den Haushalt nach langer Debatte am Dienstag beschlossen.",
    "Le conseil municipal a adopté le budget mardi soir après un long débat.",
    "El ayuntamiento aprobó el presupuesto el martes tras un largo debate.",
    "Городской совет утвердил бюджет во вторник после долгих дебатов.",
    "市议会周二晚上经过长时间辩论后批准了预算。",
    "12 - 3",
]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache" / langid_model.FOLDER


def _equal(a: object, b: object) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(map(_equal, a, b))
    return type(a) is type(b) and bool(a == b)


def _same(one: object, other: object) -> None:
    slots = [s for c in type(one).__mro__ for s in getattr(c, "__slots__", ())]
    assert slots
    for key in slots:
        assert _equal(getattr(one, key), getattr(other, key)), key
    for text in TEXTS:
        assert one.rank(text) == other.rank(text)  # type: ignore[attr-defined]
        assert one.classify(text) == other.classify(text)  # type: ignore[attr-defined]


def test_the_copy_gives_the_packages_identifier(cache: Path) -> None:
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    packaged = LanguageIdentifier.from_modelpath(Path(MODEL_DIR) / MODEL_FILE, norm_probs=True)
    first = load_identifier()  # decompresses the packaged file and writes the copy
    (copy,) = cache.iterdir()
    assert copy.name.endswith(".npz.zst")
    written = copy.stat().st_mtime_ns
    second = load_identifier()  # from the copy
    assert copy.stat().st_mtime_ns == written
    _same(first, packaged)
    _same(second, packaged)


def test_a_damaged_copy_is_made_again(cache: Path) -> None:
    load_identifier()
    (copy,) = cache.iterdir()
    good = copy.read_bytes()
    for damage in (good[: len(good) // 2], b"", good[:8] + b"\0" * 100):
        copy.write_bytes(damage)
        identifier = load_identifier()
        assert identifier.classify(TEXTS[1])[0] == "de"
        assert copy.read_bytes() == good


def test_a_cache_path_that_is_a_file_only_costs_time(cache: Path) -> None:
    # (a read-only folder would do, but not for root: a file where the folder should be
    # fails for everyone)
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"not a folder")
    assert load_identifier().classify(TEXTS[3])[0] == "es"
    assert cache.read_bytes() == b"not a folder"
