"""The embedded default: the bundled demo site, served on 127.0.0.1, ingested and queried."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ingest.config import DEFAULT_SOURCES, PROJECT_ROOT, load_sources
from ingest.siteserver import SiteServer, serve_site

DEMO_SITE = PROJECT_ROOT / "demo" / "site"
DEMO_URL_ENV = "NEWSFLOW_DEMO_URL"
DEMO_PORT = 8765  # the port sources.yaml falls back to
SAMPLE_QUERIES = (
    (
        "Articles by publication date",
        "SELECT published_date, source_id, title, published_at, date_source, duplicate_of "
        "FROM articles ORDER BY published_at",
    ),
    (
        "Stories and tags",
        "SELECT source_id, left(title, 40) AS title, story_id, language, places, topics "
        "FROM articles ORDER BY story_id, published_at",
    ),
    (
        "Quarantined items",
        "SELECT source_id, stage, reason, url FROM quarantine ORDER BY source_id, url",
    ),
)


def run_demo(data: Path) -> int:
    """Serve the demo site on a free port, ingest every demo source into `data`, query it."""
    from ingest.run.runner import ingest_sources, print_summary
    from transforms.query import format_table, run_query

    with _demo_server() as server:
        previous = os.environ.get(DEMO_URL_ENV)
        os.environ[DEMO_URL_ENV] = server.base_url
        try:
            config = load_sources(DEFAULT_SOURCES)
        finally:
            if previous is None:
                os.environ.pop(DEMO_URL_ENV, None)
            else:
                os.environ[DEMO_URL_ENV] = previous
        print(f"Serving the demo site at {server.base_url}; ingesting into {data}")
        results = ingest_sources(config, list(config.sources), data)
    print_summary(results)
    for title, sql in SAMPLE_QUERIES:
        print(f'\n{title}:  newsflow query --data {data} "{sql}"')
        print(format_table(*run_query(data, sql)))
    return 1 if any(r.error for r in results) else 0


@contextmanager
def _demo_server() -> Iterator[SiteServer]:
    """The demo site on its usual port when free (so article URLs, and ids, stay the same from
    one demo run to the next), else on any free port."""
    try:
        server = SiteServer(DEMO_SITE, port=DEMO_PORT).start()
    except OSError:
        server = SiteServer(DEMO_SITE).start()
    try:
        yield server
    finally:
        server.stop()


def serve_demo(port: int) -> int:
    """Serve the demo site until interrupted (for `airflow dags test` against the demo)."""
    with serve_site(DEMO_SITE, port=port) as server:
        print(f"Serving the demo site at {server.base_url} (Ctrl-C to stop)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0
