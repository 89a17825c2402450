"""Small fixture sites written into a test's temporary folder and served by SiteServer."""

from __future__ import annotations

from pathlib import Path

from ingest.config import load_sources

WORDS = [
    "harbour",
    "council",
    "ferry",
    "budget",
    "school",
    "river",
    "bridge",
    "market",
    "festival",
    "station",
    "library",
    "museum",
    "hospital",
    "tram",
    "election",
    "stadium",
    "orchestra",
    "bakery",
    "lighthouse",
    "archive",
]


def article_html(n: int, title: str | None = None) -> str:
    title = title or f"Story number {n} from the fixture site"
    paragraphs = "".join(
        f"<p>Paragraph {p} of story {n}: the {WORDS[(n + p) % len(WORDS)]} and the "
        f"{WORDS[(n * 3 + p) % len(WORDS)]} were discussed at length by residents on Tuesday evening.</p>"
        for p in range(6)
    )
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f'<meta property="og:title" content="{title}">'
        f'<meta property="article:published_time" content="2026-11-2{n % 5}T0{n % 10}:15:00Z"></head>'
        f"<body><nav>Home News Sport</nav><article><h1>{title}</h1>{paragraphs}</article>"
        f"<footer>Fixture site footer</footer></body></html>"
    )


def rss(items: list[tuple[str, str | None]]) -> str:
    """RSS 2.0 with (path, updated date or None) items; links are absolute via {{BASE_URL}}."""
    body = "".join(
        f"<item><title>Item {path}</title><link>{{{{BASE_URL}}}}{path}</link>"
        + (
            f"<atom:updated xmlns:atom='http://www.w3.org/2005/Atom'>{updated}</atom:updated>"
            if updated
            else ""
        )
        + "</item>"
        for path, updated in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Fixture</title>{body}</channel></rss>'


def sitemap_index(paths: list[str]) -> str:
    """A sitemap index listing the site's sitemaps at `paths` (absolute via {{BASE_URL}})."""
    entries = "".join(f"<sitemap><loc>{{{{BASE_URL}}}}{path}</loc></sitemap>" for path in paths)
    return f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</sitemapindex>'


def write_site(root: Path, count: int) -> Path:
    """A feed of `count` articles at /a/<n>.html."""
    (root / "a").mkdir(parents=True, exist_ok=True)
    for n in range(count):
        (root / "a" / f"{n}.html").write_text(article_html(n), encoding="utf-8")
    (root / "feed.xml").write_text(
        rss([(f"/a/{n}.html", None) for n in range(count)]), encoding="utf-8"
    )
    return root


def sources_file(
    path: Path,
    base_url: str,
    *,
    feeds: list[str] | None = None,
    extra: str = "",
    settings: str = "",
) -> Path:
    feed_list = ", ".join(
        f'"{base_url}{f}"' for f in (feeds if feeds is not None else ["/feed.xml"])
    )
    path.write_text(
        f"""
settings:
  allow_networks: ["127.0.0.0/8"]
  rate_limit_per_host: 100
  backoff_base_s: 0.01
  timeout_s: 2
{settings}
sources:
  - id: fixture
    name: Fixture Daily
    feeds: [{feed_list}]
{extra}
""",
        encoding="utf-8",
    )
    load_sources(path)  # fail early on a broken fixture
    return path
