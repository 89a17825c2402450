"""Where a field's value came from: the one vocabulary of the `date_source`, `title_source`
and `authors_source` columns (and of the extract stage's `published_from`, which becomes
`date_source`).

Each value names the layer that gave the field. The extract stage (ingest.extract) reads
the page's layers; the transform stage adds the feed, the HTTP header and the fetch time.
Kept in transforms, the lowest package, so both stages spell the layers from one place.
"""

from __future__ import annotations

from typing import Final

# structured data the page states about itself
JSONLD: Final = "jsonld"  # a JSON-LD node (headline, author, datePublished)
META: Final = "meta"  # a <meta> element (og:title, author, article:published_time ...)
TIME_ELEMENT: Final = "time_element"  # a <time datetime> element
TITLE_ELEMENT: Final = "title_element"  # the <title> element
# what the page prints
HEADING: Final = "heading"  # the article's <h1>
BYLINE: Final = "byline"  # the byline printed by the headline: its names, or its date
URL: Final = "url"  # a whole date in the URL path
# the other extractors
PROFILE: Final = "profile"  # a site profile (ingest.extract.profiles)
TRAFILATURA: Final = "trafilatura"  # trafilatura's own metadata search
HTMLDATE: Final = "htmldate"  # htmldate's day of publication
# outside the page (the transform stage)
FEED: Final = "feed"  # the feed entry that listed the page
HTTP_HEADER: Final = "http_header"  # the response's Last-Modified header
FETCH_TIME: Final = "fetch_time"  # when the page was fetched: no date was found

LAYERS: Final = frozenset(
    {
        JSONLD,
        META,
        TIME_ELEMENT,
        TITLE_ELEMENT,
        HEADING,
        BYLINE,
        URL,
        PROFILE,
        TRAFILATURA,
        HTMLDATE,
        FEED,
        HTTP_HEADER,
        FETCH_TIME,
    }
)
# the layers of a publication date that give a calendar day only (no time of day): the
# feed's timestamp is preferred to them
DAY_LAYERS: Final = frozenset({URL, BYLINE, HTMLDATE})

# how the offset of a date's time of day was known when the value did not state it, added
# to the layer: "meta+source_timezone"
PAGE_OFFSET: Final = "+page_offset"  # another timestamp of the same page states one
SOURCE_TIMEZONE: Final = "+source_timezone"  # the source's configured `timezone`
UTC_ASSUMED: Final = "+utc_assumed"  # neither: read as UTC
