"""What every worker of `newsflow ingest` needs, loaded once in the server process the
workers fork from (ingest.run.runner): the modules of the stages, and the language model,
gazetteers and word table that every article meets. A worker then starts with them loaded,
sharing their memory with its siblings until it writes to it, instead of importing and
loading them again (about 2 seconds of CPU per worker, measured with two workers and 400
pages: a twentieth of the run's CPU).

Nothing here depends on the sources file: a spaCy pipeline, or the taxonomy a setting names,
still loads in the worker that first needs it. A part that fails to load here is left to
the worker, which loads it as before (and reports it as before if it fails there too).

What is loaded is then frozen for the garbage collector (`settle`): a worker's full
collections no longer walk the hundred thousand objects of the modules and data (their
share of the collector's time falls from 0.6-0.7 s to 0.2 s per 400 pages), nor write to them,
which copied their memory pages into each worker. The young generation is collected every
YOUNG_OBJECTS new objects instead of 700: a page's extraction makes tens of thousands.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import sys
import threading
from collections.abc import Callable

import ingest.run  # noqa: F401 - first: it chooses Arrow's allocator before pyarrow loads

log = logging.getLogger(__name__)
MODULES = ("ingest.run.runner", "ingest.extract.page")  # the worker's entry point, its stages
YOUNG_OBJECTS = 10_000  # new objects between two collections of the youngest generation


def warm() -> None:
    """Import the stages and load the per-process data every article uses. The language
    model loads in a thread meanwhile: most of its load is decompressing it, which leaves
    the interpreter to the rest (the server forks no worker before all is loaded)."""
    from transforms.tagging.language import _identifier

    language = threading.Thread(target=_load, args=(_identifier,), name="newsflow-warm")
    language.start()
    try:
        _load_the_rest()
    finally:
        language.join()


def _load_the_rest() -> None:
    import importlib

    from transforms import minhash

    for module in MODULES:
        importlib.import_module(module)
    from ingest.extract.date_guard import _known_words, month_words
    from transforms.tagging.entities import gazetteer as entity_names
    from transforms.tagging.places import gazetteer as place_names

    for load in (
        _arrow_without_pandas,
        place_names,
        entity_names,
        minhash._word_table,
        _known_words,
        month_words,
        _extract_once,
    ):
        _load(load)


def _arrow_without_pandas() -> None:
    """Make pyarrow's first conversion of Python values here, with pandas out of reach.

    On that conversion pyarrow imports pandas, if it can, only to recognise pandas' own
    objects (Series, NA, NaT) among the values: 0.17 s of CPU, paid by each worker at its
    first transform. The workers convert rows of plain Python values and never pandas
    objects, so here the import is made to fail once: pyarrow notes that pandas is absent
    and converts without it. A later explicit use (`to_pandas`) still imports pandas, and
    then works as usual."""
    if "pandas" in sys.modules:  # (imported already: nothing to save)
        return
    import pyarrow as pa

    sys.meta_path.insert(0, _NoPandas)
    try:
        pa.array([0], type=pa.int64())
    finally:
        sys.meta_path.remove(_NoPandas)


class _NoPandas:
    """An import finder refusing pandas (see _arrow_without_pandas)."""

    @staticmethod
    def find_spec(name: str, path: object = None, target: object = None) -> None:
        if name.partition(".")[0] == "pandas":
            raise ModuleNotFoundError(f"{name} is not imported here", name=name)


def _load(load: Callable[[], object]) -> None:
    with contextlib.suppress(Exception):  # (the worker loads it, and says why it fails)
        load()


def _extract_once() -> None:
    """Extract a small page: trafilatura, htmldate and the rest import what they use on
    their first page, and build their expressions."""
    from ingest.extract.page import extract_page

    paragraphs = "".join(
        f"<p>Paragraph {n} of a short report, with a few words.</p>" for n in range(6)
    )
    extract_page(
        b"<html><head><title>A report</title><meta property='article:published_time' "
        b"content='2026-01-02T03:04:05Z'></head><body><article><h1>A report</h1>"
        + paragraphs.encode()
        + b"</article></body></html>",
        "https://newsflow.invalid/2026/01/02/a-report.html",
    )


def settle() -> None:
    """Freeze what is loaded for the garbage collector, and collect the young less often
    (see the module's docstring); forked workers inherit both."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_OBJECTS, middle, old)


try:
    warm()
except Exception as exc:  # an import failing here fails the same way in the worker, visibly
    log.warning("preloading the workers' modules failed: %r", exc)
settle()
