"""trafilatura's XPath expressions replaced by Python predicates (ingest.extract.fast_xpath)
find exactly what the expressions find: on every tree extraction meets in real pages, and on
pages written to reach each expression's corner of XPath semantics."""

from __future__ import annotations

import collections
import contextlib
import gzip
import types
from collections.abc import Iterator
from typing import Any

import pytest
from lxml import etree
from lxml import html as lxml_html
from trafilatura import xpaths

from benchmarks.extraction import held_back, load_corpus
from ingest.extract import fast_xpath
from ingest.extract.page import ExtractError, extract_page

REGEXP_NS = {"re": "http://exslt.org/regular-expressions"}


def _xpath(expression: Any) -> Any:
    return etree.XPath(expression.path, namespaces=REGEXP_NS)


@pytest.fixture
def compared() -> Iterator[collections.Counter[str]]:
    """Every replaced expression also evaluated as XPath on the same tree, at every call;
    a difference fails the test. Yields the calls per expression."""
    assert fast_xpath.install() == len(fast_xpath.EXPRESSIONS)
    calls: collections.Counter[str] = collections.Counter()
    restore = []
    for expression in fast_xpath.EXPRESSIONS:
        listed = getattr(xpaths, expression.name)
        fast = listed[expression.position]
        assert isinstance(fast, fast_xpath.FastXPath)
        original = _xpath(fast)
        key = f"{expression.name}[{expression.position}]"

        def both(tree: Any, fast: Any = fast, original: Any = original, key: str = key) -> Any:
            found, wanted = fast(tree), original(tree)
            assert found == wanted, f"{key}: {len(found)} elements found, XPath finds {len(wanted)}"
            calls[key] += 1
            return found

        listed[expression.position] = _Callable(fast.path, both)
        restore.append((listed, expression.position, fast))
    try:
        yield calls
    finally:
        for listed, position, fast in restore:
            listed[position] = fast


class _Callable:
    def __init__(self, path: str, function: Any) -> None:
        self.path, self.function = path, function

    def __call__(self, tree: Any) -> Any:
        return self.function(tree)


def test_the_pinned_trafilatura_gets_every_fast_expression() -> None:
    """A trafilatura upgrade that changes an expression leaves that expression as XPath
    (slower, never different); this fails then, to have its predicate brought up to date."""
    assert fast_xpath.install() == len(fast_xpath.EXPRESSIONS)
    for expression in fast_xpath.EXPRESSIONS:
        replaced = getattr(xpaths, expression.name)[expression.position]
        assert isinstance(replaced, fast_xpath.FastXPath), expression.name


def test_an_expression_whose_text_changed_keeps_its_xpath() -> None:
    overall = xpaths.OVERALL_DISCARD_XPATH
    texts = [getattr(x, "path", "") for x in overall]
    module = types.SimpleNamespace(
        OVERALL_DISCARD_XPATH=[
            etree.XPath(texts[0].replace("cookie", "biscuit"), namespaces=REGEXP_NS),
            etree.XPath(texts[1], namespaces=REGEXP_NS),
        ]
    )
    replaced = fast_xpath.replace_in(module)
    assert list(replaced) == [("OVERALL_DISCARD_XPATH", 1)]
    assert isinstance(module.OVERALL_DISCARD_XPATH[0], etree.XPath)
    assert isinstance(module.OVERALL_DISCARD_XPATH[1], fast_xpath.FastXPath)


def test_suspended_gives_trafilatura_its_own_expressions_back() -> None:
    fast_xpath.install()
    with fast_xpath.suspended():
        assert isinstance(xpaths.OVERALL_DISCARD_XPATH[0], etree.XPath)
    assert isinstance(xpaths.OVERALL_DISCARD_XPATH[0], fast_xpath.FastXPath)


def test_real_pages_meet_the_same_elements(compared: collections.Counter[str]) -> None:
    """Every 25th page of the evaluation sets' development part, through the extractor."""
    pages = [p for p in load_corpus() if not held_back(p)][::25]
    assert len(pages) > 30
    for page in pages:
        with contextlib.suppress(ExtractError):  # a page not an article is met all the same
            extract_page(gzip.decompress(page.path.read_bytes()), page.url)
    assert set(compared) == {f"{e.name}[{e.position}]" for e in fast_xpath.EXPRESSIONS}


CORNERS = """<html><body>
<div class="a" id="cookie-box">class first: @id|@class reads the class</div>
<div id="x" class="cookie-notice">id first: @id|@class reads the id</div>
<span class="cookie">only a class</span>
<p role="Navigation">role, N as n</p>
<section data-lp-replacement-content="">replacement content</section>
<div id="reply-3" class="comment">starts-with on the first of @id|@class</div>
<div class="x" id="reply-4">the class comes first</div>
<div style="color: red" id="hidden-thing">the style comes first</div>
<div id="hidden-thing" style="color: red">the id comes first</div>
<b aria-hidden="true">aria</b><i style="display: none">hidden</i>
<ul class="comments-list"><li>a comment list</li></ul>
<ol id="commentary"><li>a commentary, not comments</li></ol>
<div id="comments-area">comments</div>
<div class="infinite-scroll"><h1>a follow-up article with its own headline</h1></div>
<div class="infinite-scroll"><p>appended teasers</p></div>
<aside id="mvp-post-add-box"><h1>named a post-add box</h1></aside>
<main><div class="post">first per parent</div><div class="post">second</div>
<article><section class="article-body">nested: first in its parent</section></article></main>
<div class="FullText">fulltext, case-insensitive</div>
<div class="link">a link block</div><div id="page bottom">bottom</div>
<span class="quote">quote</span><a class="date">date</a>
<span><rel>me</rel>a rel child</span><author>an author element</author>
<p class="author-name">name</p><h4 id="zuozhe">byline</h4>
<em class="Byline">any element</em><em data-component="BylineBlock">component</em>
</body></html>"""


def test_written_corners_meet_the_same_elements() -> None:
    """Each expression on a page written for the corners of XPath: the first of two
    attributes as written, a missing attribute, [1] per parent and in the document, a
    descendant test, case-insensitive flags, an element child compared to a string."""
    fast_xpath.install()
    tree = lxml_html.document_fromstring(CORNERS)
    for expression in fast_xpath.EXPRESSIONS:
        fast = getattr(xpaths, expression.name)[expression.position]
        wanted = _xpath(fast)(tree)
        assert wanted, f"{expression.name}[{expression.position}] finds nothing here"
        assert fast(tree) == wanted, f"{expression.name}[{expression.position}]"
        body = tree.find("body")
        assert fast(body) == _xpath(fast)(body)  # from an element below the root too


def test_a_document_search_covers_what_follows_the_html_element() -> None:
    """Content after </html> becomes a second top-level element, which `//*` searches too."""
    fast_xpath.install()
    tree = lxml_html.document_fromstring(
        '<html><body><p class="author">x</p></body></html><div class="author">Jane Doe</div>'
    )
    for expression in fast_xpath.EXPRESSIONS:
        if expression.scope == "/":
            fast = getattr(xpaths, expression.name)[expression.position]
            wanted = _xpath(fast)(tree)
            assert len(wanted) == 2
            assert fast(tree) == wanted
            assert fast(tree.find("body")) == wanted


def test_installing_twice_keeps_trafilaturas_own_expressions_aside() -> None:
    fast_xpath.install()
    assert fast_xpath.replace_in(xpaths) == {}  # nothing left to replace
    with fast_xpath.suspended():
        assert all(
            isinstance(getattr(xpaths, e.name)[e.position], etree.XPath)
            for e in fast_xpath.EXPRESSIONS
        )
