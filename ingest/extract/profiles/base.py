"""What every site profile returns and provides (kept apart from the registry in
__init__, which imports the profiles)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from lxml import html as lxml_html

    from ingest.extract.metadata import PageMetadata


@dataclass(frozen=True)
class ProfileResult:
    """A page read by a profile's selectors: its layout only. Attribution lines, initials
    and a repeated lead are handled for every body by ingest.extract.attribution."""

    profile: str  # "<name>@<version>"
    text: str
    authors: tuple[str, ...] = ()
    original_source: str | None = None
    description: str | None = None  # the lead printed above the body (the standfirst)
    extra: dict[str, str] = field(default_factory=dict)


class Profile(Protocol):
    name: str

    def matches(self, meta: PageMetadata, url: str) -> bool: ...

    def extract(
        self, tree: lxml_html.HtmlElement, meta: PageMetadata, fetched_at: dt.datetime | None
    ) -> ProfileResult | None: ...


def fetch_day(fetched_at: dt.datetime | None) -> str | None:
    """The UTC day (YYYY-MM-DD) a page was fetched on, which picks a profile's layout version
    (a redesign changes how every page is served, old ones included); None when unknown."""
    if fetched_at is None:
        return None
    if fetched_at.tzinfo is None:
        return fetched_at.date().isoformat()
    return fetched_at.astimezone(dt.UTC).date().isoformat()
