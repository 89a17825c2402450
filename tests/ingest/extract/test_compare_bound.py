"""trafilatura's comparison with readability, skipped where it cannot change the text
(ingest.extract.compare_bound): the bound holds and every skipped comparison would have
returned what it was given, on real pages and on pages written for the bound's corners."""

from __future__ import annotations

import collections
import contextlib
import gzip
from collections.abc import Iterator
from copy import copy
from typing import Any

import pytest
from lxml import etree
from lxml import html as lxml_html
from trafilatura import core, external
from trafilatura.utils import trim

from benchmarks.dates import load_pages
from benchmarks.extraction import held_back, load_corpus
from ingest.extract import compare_bound
from ingest.extract.article_body import _trafilatura
from ingest.extract.page import ExtractError, extract_page


def readability_length(tree: Any, focus: str) -> int:
    """The length of the text readability makes of `tree` inside compare_extraction."""
    raw = copy(tree)
    if focus == "precision":
        raw = external.prune_unwanted_nodes(raw, external.OVERALL_DISCARD_XPATH)
    made = external.try_readability(raw)
    return len(trim(etree.tostring(made, method="text", encoding="utf-8").decode("utf-8")))


@pytest.fixture
def checked() -> Iterator[collections.Counter[str]]:
    """Every comparison trafilatura meets runs in full, and is checked against the bound
    and the skip's decision; yields the count of comparisons and of skips."""
    _trafilatura()
    assert compare_bound.install()
    counts: collections.Counter[str] = collections.Counter()

    def both(cleaned_tree: Any, backup: Any, tree: Any, options: Any) -> tuple[Any, str]:
        body, text = core.extract_content(cleaned_tree, options)
        if options.fast:
            return body, text
        made = readability_length(tree, options.focus)
        bound = compare_bound.readable_bound(tree)
        assert made <= bound, f"readability made {made} characters, the bound is {bound}"
        skip = compare_bound.comparison_unneeded(body, text, tree, options)
        compared = core.compare_extraction(copy(backup), copy(tree), body, text, options)
        counts["compared"] += 1
        if skip:
            counts["skipped"] += 1
            assert compared[1] == text and compared[0] is body
        return compared

    core._extract_and_compare = both
    try:
        yield counts
    finally:
        core._extract_and_compare = compare_bound._extract_and_compare


def test_the_pinned_trafilatura_gets_the_skip() -> None:
    """A trafilatura upgrade that changes a function the skip reasons about leaves the
    comparison as it ships; this fails then, to have the reasoning checked again."""
    _trafilatura()
    assert compare_bound.install()
    assert core._extract_and_compare is compare_bound._extract_and_compare


def test_a_changed_function_keeps_trafilaturas_comparison() -> None:
    sources = {name: "def f(): pass" for name in compare_bound.WRITTEN_FOR}
    assert not compare_bound.written_for(sources)
    real = {
        name: source
        for name, source in compare_bound._sources().items()
        if name != "trafilatura.core._extract_and_compare"  # (replaced by now)
    }
    real["trafilatura.core._extract_and_compare"] = _inspect_original()
    assert compare_bound.written_for(real)
    real["trafilatura.external._prefer_readability"] += "\n# changed\n"
    assert not compare_bound.written_for(real)


def _inspect_original() -> str:
    import inspect

    _trafilatura()
    return inspect.getsource(compare_bound.ORIGINAL["_extract_and_compare"])


def test_real_pages_skip_only_comparisons_that_change_nothing(
    checked: collections.Counter[str],
) -> None:
    """Every 12th page of the extraction sets' development part and every 20th of the
    dates set's, through the extractor."""
    pages = [(p.path, p.url) for p in load_corpus() if not held_back(p)][::12]
    pages += [(p.path, p.url) for p in load_pages() if p.part == "dev"][::20]
    assert len(pages) > 100
    for path, url in pages:
        with contextlib.suppress(ExtractError):
            extract_page(gzip.decompress(path.read_bytes()), url)
    assert checked["compared"] >= len(pages)
    assert checked["compared"] > checked["skipped"] > checked["compared"] / 4


ARTICLE = "".join(
    f"<p>Paragraph {n} of the report, which says what happened and where, at length.</p>"
    for n in range(12)
)


def test_the_bound_leaves_out_scripts_and_counts_video_frames() -> None:
    tree = lxml_html.document_fromstring(
        "<html><head><style>p { color: red }</style><script>var long = 'text';</script>"
        "</head><body><p>Two  words</p>\n<p>and\tthree more</p></body></html>"
    )
    assert compare_bound.visible_length(tree) == len("Two words and three more")
    framed = lxml_html.document_fromstring(
        f"<html><body><div class='story'>{ARTICLE}"
        "<iframe src='https://www.youtube.com/embed/x'></iframe>"
        "<iframe src='https://vimeo.com/1'></iframe></div></body></html>"
    )
    made = readability_length(framed, "precision")
    assert compare_bound.readable_bound(framed) >= made
    assert made > compare_bound.visible_length(framed)  # readability wrote "VIDEO" twice


def test_a_page_where_readability_could_win_is_compared(
    checked: collections.Counter[str],
) -> None:
    """Most of the page's text lies outside the block trafilatura keeps: the comparison runs."""
    teasers = "".join(
        f"<div class='teaser'>Teaser {n}: another story entirely, with a long summary of "
        "what it says, what it means and who is in it, told in two sentences.</div>"
        for n in range(40)
    )
    page = (
        "<html><head><title>A report</title></head><body><article><h1>A report</h1>"
        f"{ARTICLE}</article>{teasers}</body></html>"
    )
    with contextlib.suppress(ExtractError):
        extract_page(page.encode(), "https://example.org/2026/01/02/report.html")
    assert checked["compared"] >= 1
    assert checked["skipped"] == 0


def test_trafilatura_as_shipped_has_its_own_comparison_and_expressions() -> None:
    from trafilatura import xpaths

    from ingest.extract import fast_xpath
    from ingest.extract.article_body import trafilatura_as_shipped

    _trafilatura()
    with trafilatura_as_shipped():
        assert core._extract_and_compare is compare_bound.ORIGINAL["_extract_and_compare"]
        assert isinstance(xpaths.OVERALL_DISCARD_XPATH[0], etree.XPath)
    assert core._extract_and_compare is compare_bound._extract_and_compare
    assert isinstance(xpaths.OVERALL_DISCARD_XPATH[0], fast_xpath.FastXPath)


def test_without_trafilaturas_source_the_comparison_stays(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An install whose source files cannot be read (compiled files only) keeps trafilatura's
    own comparison instead of failing every extraction."""

    def unreadable() -> dict[str, str]:
        raise OSError("could not get source code")

    monkeypatch.setattr(compare_bound, "_sources", unreadable)
    assert compare_bound.install.__wrapped__() is False
