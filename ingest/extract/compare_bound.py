"""trafilatura's comparison with readability and jusText, skipped where it cannot change the
result: the same text in less time.

After its own extraction, trafilatura runs readability on the raw page (and jusText when its
text is short or keeps sanitised tags), and takes readability's text only when it is more than
twice as long as its own, or when its own text is empty or has no paragraph text (or more
tables than paragraphs). Readability's text is made of the page's own text nodes, in order,
less what it drops (scripts, style sheets, unlikely blocks, links...), plus the word "VIDEO"
for each video frame it keeps. So its length, with whitespace collapsed as trafilatura
collapses it, is at most the page's visible text length (`readable_bound`). When trafilatura's
own text is healthy and at least half that bound, the comparison would return the text it
was given; it is skipped. On news pages it is skipped on about seven pages in ten, and it
costs readability's whole run (a quarter of a precision pass) where it runs.

The replacement is installed only over the versions of trafilatura's functions it was
written for (their source's sha256 below); a trafilatura upgrade that changes them keeps
its own comparison everywhere, slower and never different. `tests/ingest/extract/
test_compare_bound.py` checks the bound and the skipped comparisons on real pages.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from copy import copy
from typing import Any

from lxml import etree

# sha256 (first 16 hex digits) of the source of each function the skip reasons about: the
# comparison, readability, the pruning of its input, the parse of its output and the
# whitespace collapsing its length is measured after
WRITTEN_FOR = {
    "trafilatura.core._extract_and_compare": "f7d056c2118222e8",
    "trafilatura.external.compare_extraction": "2d3d1ffea3ba469f",
    "trafilatura.external._prefer_readability": "f6ee688e9ae60074",
    "trafilatura.external.try_readability": "538e3c8e5ab7e4d4",
    "trafilatura.readability_lxml": "d308e782a00344fd",
    "trafilatura.htmlprocessing.prune_unwanted_nodes": "4731f8e24ef86449",
    "trafilatura.utils.trim": "b82ffd884c0dc230",
    "trafilatura.utils.fromstring_bytes": "c5ee8713366ea137",
}
VIDEO_MARK = len(" VIDEO")  # what readability may write into a video frame, with a space
# the text readability can keep: all but that of the scripts and style sheets it drops first
# (the text of a fenced frame, which it drops too, is counted: a bound may be loose)
_VISIBLE = etree.XPath(
    "descendant-or-self::text()[not(parent::script or parent::style)]", smart_strings=False
)
_FRAMES = etree.XPath("count(descendant-or-self::iframe)")
_PARAGRAPH_TEXT = etree.XPath(".//p//text()")


def digest(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def _sources() -> dict[str, str]:
    import importlib

    found = {}
    for name in WRITTEN_FOR:
        module_name, _, attribute = name.rpartition(".")
        try:
            module = importlib.import_module(name)
        except ImportError:
            module = getattr(importlib.import_module(module_name), attribute)
        found[name] = inspect.getsource(module)
    return found


def visible_length(tree: Any) -> int:
    """The length of the tree's text outside scripts and style sheets, with whitespace
    collapsed as trafilatura collapses it."""
    words = "".join(_VISIBLE(tree)).split()
    return sum(map(len, words)) + len(words) - 1 if words else 0


def _frame_marks(tree: Any) -> int:
    return VIDEO_MARK * int(_FRAMES(tree))


def readable_bound(tree: Any) -> int:
    """An upper bound of the length of any text readability can make of `tree` (whitespace
    collapsed): its text less the scripts and style sheets, plus a mark per frame."""
    return visible_length(tree) + _frame_marks(tree)


def _within(limit: int, tree: Any) -> bool:
    """readable_bound(tree) <= limit (the frames are counted only when the text is within)."""
    visible = visible_length(tree)
    return visible <= limit and visible + _frame_marks(tree) <= limit


@functools.cache
def _sanitized() -> Any:
    """trafilatura's test for tags that send a text to jusText, compiled once."""
    from trafilatura.external import SANITIZED_XPATH

    return etree.XPath(SANITIZED_XPATH)


def comparison_unneeded(body: Any, text: str, tree: Any, options: Any) -> bool:
    """Whether trafilatura's compare_extraction, given its own extraction (`body`, `text`)
    of `tree`, would return them unchanged (see the module docstring)."""
    length = len(text)
    return bool(
        options.focus != "recall"  # (recall mode has readability clauses of its own)
        and length > 0
        and length >= options.min_extracted_size  # else jusText is tried
        and not _sanitized()(body)  # else jusText is tried
        and _PARAGRAPH_TEXT(body)
        and len(body.findall(".//table")) <= len(body.findall(".//p"))
        and _within(2 * length, tree)
    )


def _extract_and_compare(
    cleaned_tree: Any, cleaned_tree_backup: Any, tree: Any, options: Any
) -> tuple[Any, str]:
    """trafilatura.core._extract_and_compare, without the comparison where it is unneeded."""
    from trafilatura import core

    # (looked up in trafilatura.core at each call, as its own function does)
    module: Any = core
    postbody, temp_text = module.extract_content(cleaned_tree, options)
    if not options.fast and not comparison_unneeded(postbody, temp_text, tree, options):
        postbody, temp_text = module.compare_extraction(
            cleaned_tree_backup, copy(tree), postbody, temp_text, options
        )
    return postbody, temp_text


ORIGINAL: dict[str, Any] = {}  # the function install() replaced


def written_for(sources: dict[str, str]) -> bool:
    """Whether trafilatura's functions (their source by name) are those the skip was written
    for."""
    return sources.keys() == WRITTEN_FOR.keys() and all(
        digest(source) == WRITTEN_FOR[name] for name, source in sources.items()
    )


@functools.cache
def install() -> bool:
    """Put the skipping comparison in trafilatura, when its functions are the ones it was
    written for; whether it is installed (once per process)."""
    from trafilatura import core

    try:
        sources = _sources()
    except (OSError, TypeError):  # no source to read (an install without .py files)
        return False
    if not written_for(sources):
        return False
    ORIGINAL.setdefault("_extract_and_compare", core._extract_and_compare)
    core._extract_and_compare = _extract_and_compare
    return True


@contextmanager
def suspended() -> Iterator[None]:
    """trafilatura's own comparison while in the block: a benchmark measuring trafilatura
    beside newsflow in one process measures trafilatura as it ships."""
    from trafilatura import core

    if "_extract_and_compare" not in ORIGINAL:
        yield
        return
    core._extract_and_compare = ORIGINAL["_extract_and_compare"]
    try:
        yield
    finally:
        core._extract_and_compare = _extract_and_compare
