"""What every site profile returns and provides (kept apart from the registry in
__init__, which imports the profiles)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from lxml import html as lxml_html

    from ingest.extract.metadata import PageMetadata


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
