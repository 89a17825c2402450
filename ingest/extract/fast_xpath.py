"""trafilatura's costliest XPath expressions, evaluated by equivalent Python predicates.

trafilatura prunes and searches the page's tree with XPath expressions whose regular
expressions (EXSLT `re:test`) lxml evaluates by calling back into Python for every element
and every test: about a third of an extraction's time on news pages. The expressions below
give the same elements in the same order in about a third of the time, from one walk over
the tree with the same regular expressions (read from the expression's own text, and their
results remembered per attribute value).

An expression is replaced only when its text is exactly the one each predicate was written
for (its sha256 below); an expression a trafilatura upgrade changes keeps its XPath, so an
upgrade can make extraction slower here, never different. `tests/ingest/extract/
test_fast_xpath.py` runs both on every tree extraction meets in its pages and compares.

XPath semantics kept: `re:test(@id|@class, ...)` tests the attribute written first on the
element; a missing attribute is the empty string (`contains`, `starts-with`, `re:test` all
see ""); `//*` searches every top-level element of the document (content after `</html>`
makes a second one), `.//*` the element's descendants;
`.//*[...][1]` is the first match among each element's children, `(.//*[...])[1]` the first
in the document.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from lxml import etree

# a match: the element and its attributes (in the order written); the list of the
# expression's re:test patterns is bound when it is made
Predicate = Callable[[Any, dict[str, str]], bool]
# the regular expressions of an expression's re:test calls, in the order of its text, each
# as a test of a string (whether the expression finds a match in it)
Patterns = list[Callable[[str], bool]]

_RE_TEST = re.compile(r"re:test\((@[\w|@-]+), '([^']*)'(?:, '(\w*)')?\)")
_ELEMENTS = etree.Element  # given to `iter`, it yields elements only (no comments)


CACHED = 4096  # strings whose result a test remembers (class and id values repeat)


def _tester(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    """`pattern.search(value) is not None`, remembered: pages repeat their class names,
    and the long alternations of trafilatura's expressions cost a microsecond or more each.
    (Shared by a process's threads: a lost update only costs a search again.)"""
    seen: dict[str, bool] = {}

    def test(value: str) -> bool:
        hit = seen.get(value)
        if hit is None:
            if len(seen) >= CACHED:
                seen.clear()
            hit = seen[value] = pattern.search(value) is not None
        return hit

    return test


def _first(a: dict[str, str], one: str, other: str) -> str:
    """The string XPath gives `@one|@other`: the one of the two written first, else ""."""
    for key, value in a.items():
        if key in (one, other):
            return value
    return ""


def _overall_discard(p: Patterns) -> Predicate:
    cookie, ids, classes = p
    return lambda el, a: bool(
        "data-lp-replacement-content" in a
        or "nav" in a.get("role", "").replace("N", "n")
        or "MostPopularStories" in a.get("data-component", "")
        or cookie(_first(a, "id", "class"))
        or ids(a.get("id", ""))
        or classes(a.get("class", ""))
    )


def _overall_hidden(p: Patterns) -> Predicate:
    hidden, ids, classes = p

    def match(el: Any, a: dict[str, str]) -> bool:
        style = a.get("style", "")
        return bool(
            a.get("class") == "comments-title"
            or _first(a, "id", "class").startswith("reply-")
            or hidden(_first(a, "id", "style"))
            or "display:none" in style
            or "display: none" in style
            or ids(a.get("id", ""))
            or classes(a.get("class", ""))
            or a.get("aria-hidden") == "true"
        )

    return match


def _narrowed(exempt: Callable[[Any], bool]) -> Callable[[Patterns], Predicate]:
    """`[re:test(@id, A) or re:test(@class, B)][exempt or re:test(@id, C) or
    re:test(@class, D)]`: a match of the first two, kept when `exempt(element)` holds or the
    narrower last two match too."""

    def factory(p: Patterns) -> Predicate:
        ids, classes, narrow_ids, narrow_classes = p

        def match(el: Any, a: dict[str, str]) -> bool:
            i, c = a.get("id", ""), a.get("class", "")
            return (ids(i) or classes(c)) and (exempt(el) or narrow_ids(i) or narrow_classes(c))

        return match

    return factory


# comments containers; a list (ol, ul) only when the narrower comment names match it
_comments_and_lists = _narrowed(lambda el: el.tag not in ("ol", "ul"))
# infinite-scroll containers without a headline of their own, and post-add boxes
_raw_tree_prune = _narrowed(lambda el: next(el.iterdescendants("h1"), None) is None)


def _body(p: Patterns) -> Predicate:
    ids, classes = p
    return lambda el, a: bool(
        a.get("class") in ("post", "entry")
        or a.get("itemprop") == "articleBody"
        or a.get("id") == "articleContent"
        or ids(a.get("id", ""))
        or classes(a.get("class", ""))
    )


def _remove_comments(p: Patterns) -> Predicate:
    ids, classes = p
    return lambda el, a: bool(ids(a.get("id", "")) or classes(a.get("class", "")))


def _precision_discard(p: Patterns) -> Predicate:
    bottom, link = p

    def match(el: Any, a: dict[str, str]) -> bool:
        first = _first(a, "id", "class")
        return bool(bottom(first) or link(first) or "border" in a.get("style", ""))

    return match


def _author_discard(p: Patterns) -> Predicate:
    ids, classes = p
    return lambda el, a: bool(
        a.get("id") == "comments"
        or a.get("class") in ("comments", "title", "date")
        or ids(a.get("id", ""))
        or classes(a.get("class", ""))
        or "Figure" in a.get("data-component", "")
    )


def _author_specific(p: Patterns) -> Predicate:
    (classes,) = p

    def match(el: Any, a: dict[str, str]) -> bool:
        return bool(
            el.tag == "author"  # |//author
            or a.get("rel") == "author"
            or a.get("id") == "author"
            or a.get("class") == "author"
            or a.get("itemprop") == "author name"
            # rel='me' without its @: a child element <rel> whose text is "me"
            or any(child.xpath("string()") == "me" for child in el.iterchildren("rel"))
            or a.get("data-testid") in ("AuthorCard", "AuthorURL")
            or classes(a.get("class", ""))
        )

    return match


def _author_generic(p: Patterns) -> Predicate:
    ids, classes = p
    return lambda el, a: bool(
        a.get("class") in ("byline", "username", "byl", "BBL")
        or "author" in a.get("itemprop", "")
        or ids(a.get("id", ""))
        or classes(a.get("class", ""))
    )


def _author_any(p: Patterns) -> Predicate:
    ids, classes = p
    return lambda el, a: bool(
        "Byline" in a.get("data-component", "")
        or "author" in a.get("itemprop", "")
        or ids(a.get("id", ""))
        or classes(a.get("class", ""))
    )


def _story(p: Patterns) -> Predicate:
    ids, fulltext, classes = p
    return lambda el, a: bool(
        a.get("role") == "article"
        or a.get("id") in ("article", "story")
        or a.get("class") in ("postarea", "art-postcontent", "text", "cell", "story")
        or ids(a.get("id", ""))
        or fulltext(a.get("class", ""))
        or classes(a.get("class", ""))
    )


class Expression(NamedTuple):
    """An expression of trafilatura.xpaths and the predicate that replaces it."""

    name: str  # the list in trafilatura.xpaths
    position: int  # in that list
    digest: str  # sha256 of the expression's text (its first 16 hex digits)
    scope: str  # ".": the element's descendants (.//*); "/": the whole document (//*)
    tags: tuple[str, ...] | None  # self::div or self::p ...; None: any element
    which: str  # "all"; "first" in the document; "per parent": the first among siblings
    factory: Callable[[Patterns], Predicate]
    bare: bool = False  # an element without attributes can match


_PRUNE = ("div", "item", "list", "p", "section", "span")
_BODY = ("article", "div", "main", "section")
_COMMENTS = ("div", "list", "section", "details")

EXPRESSIONS = (
    Expression(
        "OVERALL_DISCARD_XPATH", 0, "a837e58a1b1ea116", ".", _PRUNE, "all", _overall_discard
    ),
    Expression("OVERALL_DISCARD_XPATH", 1, "c1d5b70b8cd03783", ".", None, "all", _overall_hidden),
    Expression(
        "REMOVE_COMMENTS_AND_LISTS_XPATH",
        0,
        "9cc18d34e6e2d258",
        ".",
        (*_COMMENTS, "ol", "ul"),
        "all",
        _comments_and_lists,
    ),
    Expression(
        "RAW_TREE_PRUNE_XPATH",
        0,
        "01e7c660fd6406f2",
        ".",
        ("div", "section", "aside"),
        "all",
        _raw_tree_prune,
    ),
    Expression("BODY_XPATH", 0, "caaa561ceca17064", ".", _BODY, "per parent", _body),
    Expression("BODY_XPATH", 2, "6c9b5e1fdc092943", ".", _BODY, "first", _story),
    Expression(
        "REMOVE_COMMENTS_XPATH", 0, "5d97216ca15d0558", ".", _COMMENTS, "all", _remove_comments
    ),
    Expression(
        "PRECISION_DISCARD_XPATH", 1, "53d31ea1df47920a", ".", _PRUNE, "all", _precision_discard
    ),
    Expression(
        "AUTHOR_DISCARD_XPATHS",
        0,
        "82f43e48c571d06b",
        ".",
        ("a", "div", "section", "span"),
        "all",
        _author_discard,
    ),
    Expression(
        "AUTHOR_XPATHS",
        0,
        "4d49fee6aa1c77f4",
        "/",
        ("a", "address", "div", "link", "p", "span", "strong", "author"),
        "all",
        _author_specific,
        True,
    ),
    Expression(
        "AUTHOR_XPATHS",
        1,
        "6120fddc3d75e8ea",
        "/",
        ("a", "div", "h3", "h4", "p", "span"),
        "all",
        _author_generic,
    ),
    Expression("AUTHOR_XPATHS", 2, "4ff2ef32ff7c0e5f", "/", None, "all", _author_any),
)


def fingerprint(path: str) -> str:
    return hashlib.sha256(path.encode()).hexdigest()[:16]


def patterns(path: str) -> Patterns:
    """The regular expressions of an expression's re:test calls, compiled as lxml compiles
    them (a third argument containing "i": case-insensitive)."""
    return [
        _tester(re.compile(pattern, re.IGNORECASE if "i" in flags else 0))
        for _, pattern, flags in _RE_TEST.findall(path)
    ]


class FastXPath:
    """Called like the lxml XPath it replaces (`expression(tree)`), with its `path`."""

    __slots__ = ("expression", "match", "names", "path", "skip_bare")

    def __init__(self, path: str, expression: Expression) -> None:
        found = patterns(path)
        self.path, self.expression = path, expression
        # the attributes the expression reads: an element's others are never looked up (lxml
        # finds each attribute's value by a search of the element's list, so taking them all
        # costs the square of their number: minutes for one element with 100,000)
        self.names = frozenset(re.findall(r"@([\w-]+)", path))
        self.match = expression.factory(found)
        # an element without attributes is passed over when no test can see it
        self.skip_bare = not expression.bare and not any(p("") for p in found)

    def _found(self, tree: Any) -> Iterator[Any]:
        scope, tags = self.expression.scope, self.expression.tags or (_ELEMENTS,)
        if scope == "/":  # every top-level element: content after </html> makes a second one
            root = tree.getroottree().getroot()
            tops = [*root.itersiblings(_ELEMENTS, preceding=True)][::-1]
            tops += [root, *root.itersiblings(_ELEMENTS)]
            elements = itertools.chain.from_iterable(top.iter(*tags) for top in tops)
        else:
            elements = tree.iterdescendants(*tags)
        match, skip_bare, names = self.match, self.skip_bare, self.names
        for el in elements:
            keys = el.keys()
            if (keys or not skip_bare) and match(el, {k: el.get(k) for k in keys if k in names}):
                yield el

    def __call__(self, tree: Any) -> list[Any]:
        which = self.expression.which
        if which == "first":
            found = next(self._found(tree), None)
            return [] if found is None else [found]
        if which == "per parent":
            parents: set[Any] = set()
            out = []
            for el in self._found(tree):
                parent = el.getparent()
                if parent not in parents:
                    parents.add(parent)
                    out.append(el)
            return out
        return list(self._found(tree))


_REPLACED: dict[tuple[str, int], Any] = {}  # the XPath objects install() replaced


@functools.cache
def install() -> int:
    """Replace, in trafilatura's expression lists, each expression whose text is the one
    its predicate was written for; returns how many were replaced (once per process)."""
    from trafilatura import xpaths

    _REPLACED.update(replace_in(xpaths))
    return len(_REPLACED)


def replace_in(module: Any) -> dict[tuple[str, int], Any]:
    """install() on a module holding lists of XPath expressions (trafilatura.xpaths);
    returns the expressions replaced, by list name and position."""
    replaced = {}
    for expression in EXPRESSIONS:
        listed = getattr(module, expression.name, None)
        if not isinstance(listed, list) or expression.position >= len(listed):
            continue
        current = listed[expression.position]
        if isinstance(current, FastXPath):
            continue  # replaced already (install() is cached, but not locked)
        path = getattr(current, "path", None)
        if isinstance(path, str) and fingerprint(path) == expression.digest:
            replaced[expression.name, expression.position] = current
            listed[expression.position] = FastXPath(path, expression)
    return replaced


@contextmanager
def suspended() -> Iterator[None]:
    """trafilatura's own XPath expressions while in the block: a benchmark measuring
    trafilatura beside newsflow in one process measures trafilatura as it ships."""
    from trafilatura import xpaths

    fast = {}
    for (name, position), original in _REPLACED.items():
        listed = getattr(xpaths, name)
        fast[name, position], listed[position] = listed[position], original
    try:
        yield
    finally:
        for (name, position), expression in fast.items():
            getattr(xpaths, name)[position] = expression
