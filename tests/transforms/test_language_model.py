"""The language model unpacked into the cache folder answers as the package's archive does."""

from __future__ import annotations

from pathlib import Path

import pytest
from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

from transforms.cachedir import CACHE_ENV
from transforms.tagging import language

TEXTS = [
    "Der Bundeskanzler hat am Montag in Berlin gesagt, dass die Regierung neue Pläne vorlegt.",
    "Le gouvernement a annoncé mardi une réforme des retraites, a indiqué le ministre.",
    "The ferry from the harbour was delayed overnight by high winds, the operator said.",
    "El presidente anunció el lunes nuevas medidas económicas para las familias.",
    "Правительство объявило о новых мерах поддержки экономики в понедельник.",  # noqa: RUF001
    "3-1 (2-0) 45' 67' 89'",
]


def _fresh(monkeypatch: pytest.MonkeyPatch, cache: Path) -> object:
    monkeypatch.setenv(CACHE_ENV, str(cache))
    language._identifier.cache_clear()
    return language._identifier()


@pytest.fixture(autouse=True)
def _forget() -> object:
    yield
    language._identifier.cache_clear()  # the next user gets the process's usual model


def test_the_unpacked_model_ranks_every_language_as_the_packages_archive(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    packaged = LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)
    first = _fresh(monkeypatch, tmp_path)  # unpacks
    (folder,) = (tmp_path / "models").iterdir()
    written = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert sorted(written) == sorted(f"{n}.npy" for n in language._ARRAYS)
    again = _fresh(monkeypatch, tmp_path)  # reads what was unpacked, writes nothing
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == written
    for text in TEXTS:
        expected = packaged.rank(text)
        assert first.rank(text) == expected  # type: ignore[attr-defined]
        assert again.rank(text) == expected  # type: ignore[attr-defined]
    assert not [p for p in (tmp_path / "models").iterdir() if p.name.startswith(".")]


def test_a_damaged_cache_is_unpacked_again_and_an_unwritable_one_passed_over(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _fresh(monkeypatch, tmp_path)
    (folder,) = (tmp_path / "models").iterdir()
    damaged = folder / "nextmove.npy"
    damaged.write_bytes(damaged.read_bytes()[:1000])  # cut short
    model = _fresh(monkeypatch, tmp_path)
    assert damaged.stat().st_size > 1000  # written whole again
    assert model.rank(TEXTS[1])[0][0] == "fr"  # type: ignore[attr-defined]

    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    model = _fresh(monkeypatch, blocked)  # the cache folder cannot be made: the archive
    assert model.rank(TEXTS[0])[0][0] == "de"  # type: ignore[attr-defined]
