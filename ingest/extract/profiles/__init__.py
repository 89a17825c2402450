"""Site profiles: small, declarative extraction rules for publishers the project ingests.

One module per publisher; each defines dated versions (a redesign adds a version, older
pages keep parsing with the version that was current when they were published). A profile
returns None when its selectors do not find the page's parts, and the generic layers take
over.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingest.extract.metadata import PageMetadata
    from ingest.extract.profiles.base import Profile


def find_profile(meta: PageMetadata, url: str) -> Profile | None:
    from ingest.extract.profiles.limited_times import LIMITED_TIMES

    for profile in (LIMITED_TIMES,):
        if profile.matches(meta, url):
            return profile
    return None
