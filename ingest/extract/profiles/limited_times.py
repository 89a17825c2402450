"""The Limited Times: an aggregator republishing other outlets' news in English.

Its article pages carry the site chrome, the headline, an ISO timestamp, the lead as an
excerpt and again as the first paragraphs, the body with inline outlet names (in links),
the author's initials in brackets, a "Source: <outlet>" line, then "You may like",
"Trends 24h" and "Latest" widgets and a footer. The profile reads the layout only: the
body's blocks and the excerpt; the initials, the "Source:" line and the repeated lead are
handled for every page by ingest.extract.attribution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from lxml import etree

from ingest.extract.profiles.base import ProfileResult, fetch_day

if TYPE_CHECKING:
    import datetime as dt

    from lxml import html as lxml_html

    from ingest.extract.metadata import PageMetadata

SITE_NAME = "The Limited Times"
HOSTS = ("thelimitedtimes.com", "www.thelimitedtimes.com")


def _has_class(name: str) -> str:
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


@dataclass(frozen=True)
class Version:
    """One layout, compiled once: the selectors as lxml XPath objects."""

    valid_from: str  # first day (UTC) pages were served in this layout
    body: etree.XPath  # the body container
    blocks: etree.XPath  # relative to the body: its paragraphs and subheadings
    excerpt: etree.XPath  # the lead shown above the body


VERSIONS = (
    Version(
        valid_from="2019-01-01",
        body=etree.XPath(f"//div[{_has_class('post-content')}]"),
        blocks=etree.XPath("./p | ./h2 | ./h3 | ./h4 | ./blockquote | ./ul/li | ./ol/li"),
        excerpt=etree.XPath(f"//*[{_has_class('post-excerpt')}]"),
    ),
)


def version_for(fetched_at: dt.datetime | None) -> Version:
    """The layout served on the day the page was fetched (the newest when unknown)."""
    day = fetch_day(fetched_at)
    chosen = VERSIONS[0]
    for version in VERSIONS:
        if day is None or version.valid_from <= day:
            chosen = version
    return chosen


def body_lines(tree: lxml_html.HtmlElement, version: Version) -> list[str]:
    """The body's blocks as lines of text, in order; [] when the layout is not found."""
    containers = version.body(tree)
    if not containers:
        return []
    lines = (" ".join(node.text_content().split()) for node in version.blocks(containers[0]))
    return [line for line in lines if line]


def excerpt(tree: lxml_html.HtmlElement, version: Version) -> str | None:
    """The lead printed above the body, or None."""
    found = version.excerpt(tree)
    return (" ".join(found[0].text_content().split()) or None) if found else None


class LimitedTimes:
    name = "limited-times"

    def matches(self, meta: PageMetadata, url: str) -> bool:
        return meta.site_name == SITE_NAME or (urlsplit(url).hostname or "") in HOSTS

    def extract(
        self,
        tree: lxml_html.HtmlElement,
        meta: PageMetadata,
        fetched_at: dt.datetime | None = None,
    ) -> ProfileResult | None:
        version = version_for(fetched_at)
        lines = body_lines(tree, version)
        if not lines:
            return None
        return ProfileResult(
            profile=f"{self.name}@{version.valid_from}",
            text="\n".join(lines),
            description=excerpt(tree, version),
        )


LIMITED_TIMES = LimitedTimes()
