"""Fetch: the one HTTP client of the project and its guards (addresses, robots.txt, body
limits, the XML entity guard), the crawl state, and raw capture as WARC. Imports nothing
from discover/, extract/ or run/."""
