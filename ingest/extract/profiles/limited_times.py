"""The Limited Times: an aggregator republishing other outlets' news in English.

Its article pages carry the site chrome, the headline, an ISO timestamp, the lead as an
excerpt and again as the first paragraphs, the body with inline outlet names (in links),
the author's initials in brackets, a "Source: <outlet>" line, then "You may like",
"Trends 24h" and "Latest" widgets and a footer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ingest.extract.profiles.base import ProfileResult

if TYPE_CHECKING:
    from lxml import html as lxml_html

    from ingest.extract.metadata import PageMetadata

SITE_NAME = "The Limited Times"
HOSTS = ("thelimitedtimes.com", "www.thelimitedtimes.com")
INITIALS = re.compile(r"^\(([a-z]{1,4}(?:/[a-z]{1,4})*)\)$")
SOURCE = re.compile(r"^Source:\s*(\S.{0,80})$", re.IGNORECASE)


@dataclass(frozen=True)
class Version:
    valid_from: str  # first publication day this layout applies to
    body: str  # XPath of the body container
    blocks: str  # XPath, relative to the body, of its paragraphs and subheadings
    excerpt: str  # XPath of the lead shown above the body


VERSIONS = (
    Version(
        valid_from="2019-01-01",
        body="//div[contains(concat(' ', normalize-space(@class), ' '), ' post-content ')]",
        blocks="./p | ./h2 | ./h3 | ./h4 | ./blockquote | ./ul/li | ./ol/li",
        excerpt="//*[contains(concat(' ', normalize-space(@class), ' '), ' post-excerpt ')]",
    ),
)


class LimitedTimes:
    name = "limited-times"

    def matches(self, meta: PageMetadata, url: str) -> bool:
        return meta.site_name == SITE_NAME or (urlsplit(url).hostname or "") in HOSTS

    def version_for(self, published: str | None) -> Version:
        day = (published or "")[:10]
        chosen = VERSIONS[0]
        for version in VERSIONS:
            if not day or version.valid_from <= day:
                chosen = version
        return chosen

    def extract(self, tree: lxml_html.HtmlElement, meta: PageMetadata) -> ProfileResult | None:
        version = self.version_for(meta.published)
        containers = tree.xpath(version.body)
        if not containers:
            return None
        lines = [
            " ".join(node.text_content().split()) for node in containers[0].xpath(version.blocks)
        ]
        lines = [line for line in lines if line]
        authors: list[str] = []
        source = None
        while lines:  # attribution lines close the article: pull them out of the body
            if match := INITIALS.match(lines[-1]):
                authors = match.group(1).split("/")
            elif match := SOURCE.match(lines[-1]):
                source = match.group(1).strip()
            else:
                break
            lines.pop()
        excerpts = tree.xpath(version.excerpt)
        lead = " ".join(excerpts[0].text_content().split()) if excerpts else None
        if not lines:
            return None
        return ProfileResult(
            profile=f"{self.name}@{version.valid_from}",
            text="\n".join(lines),
            authors=tuple(authors),
            original_source=source,
            description=lead,
        )


LIMITED_TIMES = LimitedTimes()
