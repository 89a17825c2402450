"""Site profiles: small, declarative extraction rules for publishers the project ingests.

One module per publisher; each defines dated versions of its layout (a redesign adds a
version, chosen by the day the page was fetched: a redesign changes how old pages are
served too). A source may name its profile in the sources file (`profile:`); otherwise a
profile is chosen by the page's own site name or host. A profile returns None when its
selectors do not find the page's parts, and the generic layers take over.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingest.extract.metadata import PageMetadata
    from ingest.extract.profiles.base import Profile


def profiles() -> dict[str, Profile]:
    """Every profile by its name (the names a sources file's `profile:` may give)."""
    from ingest.extract.profiles.limited_times import LIMITED_TIMES

    return {profile.name: profile for profile in (LIMITED_TIMES,)}


def find_profile(meta: PageMetadata, url: str, named: str | None = None) -> Profile | None:
    """The profile `named` (by the page's source), else the first whose site name or host
    matches the page; None when there is none. An unknown name (from an archive written
    before a profile was renamed) falls back to matching."""
    known = profiles()
    if named is not None and named in known:
        return known[named]
    return next((p for p in known.values() if p.matches(meta, url)), None)
