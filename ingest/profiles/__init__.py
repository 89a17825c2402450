"""Site profiles: small, declarative extraction rules for publishers the project ingests.

One module per publisher; each defines dated versions (a redesign adds a version, older
pages keep parsing with the version that was current when they were published). A profile
returns None when its selectors do not find the page's parts, and the generic layers take
over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from lxml import html as lxml_html

    from ingest.metadata import PageMetadata


@dataclass(frozen=True)
class ProfileResult:
    profile: str  # "<name>@<version>"
    text: str
    authors: tuple[str, ...] = ()
    original_source: str | None = None
    description: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


class Profile(Protocol):
    name: str

    def matches(self, meta: PageMetadata, url: str) -> bool: ...

    def extract(self, tree: lxml_html.HtmlElement, meta: PageMetadata) -> ProfileResult | None: ...


def find_profile(meta: PageMetadata, url: str) -> Profile | None:
    from ingest.profiles.limited_times import LIMITED_TIMES

    for profile in (LIMITED_TIMES,):
        if profile.matches(meta, url):
            return profile
    return None
