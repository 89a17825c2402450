"""End-to-end throughput: the demo site scaled up to a few hundred generated pages, served on
127.0.0.1, ingested by the whole pipeline, and the same pages through trafilatura alone
(requests + trafilatura.extract with metadata), in one run. Prints articles per second for
both and their ratio. Not a test: figures vary with the machine; compare the ratio.

    .venv/bin/python benchmarks/end_to_end.py [--pages 300] [--rounds 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest.config import Settings, Source  # noqa: E402
from ingest.demo import DEMO_SITE  # noqa: E402
from ingest.run.model import Run  # noqa: E402
from ingest.run.stages import run_source  # noqa: E402
from ingest.siteserver import SiteServer, serve_site  # noqa: E402

TEMPLATES = [
    DEMO_SITE
    / "limited-times"
    / "news"
    / "2023-04-06-new-putin-lukashenko-plan-russia-apparently-moves-belarus-troops.html",
    DEMO_SITE / "harbour-gazette" / "2023" / "04" / "night-ferry-delays.html",
    DEMO_SITE / "harbour-gazette" / "2023" / "04" / "lifeboat-volunteers.html",
]


def generate_site(root: Path, pages: int) -> list[str]:
    """Write `pages` article pages (distinct texts) and an RSS feed listing them."""
    templates = [
        (t.read_text(encoding="utf-8"), "/" + str(t.relative_to(DEMO_SITE))) for t in TEMPLATES
    ]
    paths = []
    items = []
    start = dt.datetime(2023, 4, 1, tzinfo=dt.UTC)
    for n in range(pages):
        page, own = templates[n % len(templates)]
        path = f"/bench/{n:05d}.html"
        page = page.replace("{{BASE_URL}}" + own, "{{BASE_URL}}" + path)  # canonical and og:url
        page = page.replace("<p>", f"<p>Report {n}, paragraph note {n * 7 % 13}. ", 3)
        (root / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (root / path.lstrip("/")).write_text(page, encoding="utf-8")
        published = (start + dt.timedelta(minutes=37 * n)).strftime("%a, %d %b %Y %H:%M:%S GMT")
        items.append(
            f"<item><title>Story {n}</title><link>{{{{BASE_URL}}}}{path}</link><pubDate>{published}</pubDate></item>"
        )
        paths.append(path)
    feed = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Bench</title>{"".join(items)}</channel></rss>'
    (root / "bench" / "feed.xml").write_text(feed, encoding="utf-8")
    return paths


def run_pipeline(server: SiteServer, data: Path) -> tuple[float, int]:
    # the rate limit is lifted: this measures the pipeline's own cost, not its politeness
    settings = Settings(
        user_agent="newsflow-bench/0.1",
        timeout_s=10,
        allow_networks=("127.0.0.0/8",),
        rate_limit_per_host=100_000,
    )
    source = Source(id="bench", name="Bench", feeds=(f"{server.base_url}/bench/feed.xml",))
    started = time.perf_counter()
    ref = run_source(source, settings, data, Run.adhoc())
    return time.perf_counter() - started, ref["new"] + ref["duplicate"]


def run_trafilatura(server: SiteServer, paths: list[str]) -> tuple[float, int]:
    import requests
    import trafilatura

    started = time.perf_counter()
    done = 0
    with requests.Session() as session:
        session.get(f"{server.base_url}/bench/feed.xml", timeout=10)
        for path in paths:
            response = session.get(server.base_url + path, timeout=10)
            result = trafilatura.extract(
                response.text, url=server.base_url + path, with_metadata=True, output_format="json"
            )
            done += result is not None
    return time.perf_counter() - started, done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument(
        "--rounds", type=int, default=2, help="alternating rounds; the best of each is kept"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="newsflow-bench-") as tmp:
        site = Path(tmp) / "site"
        paths = generate_site(site, args.pages)
        best_pipe = best_traf = float("inf")
        with serve_site(site) as server:
            for round_no in range(args.rounds):
                t_pipe, n_pipe = run_pipeline(server, Path(tmp) / f"data-{round_no}")
                t_traf, n_traf = run_trafilatura(server, paths)
                best_pipe, best_traf = min(best_pipe, t_pipe), min(best_traf, t_traf)
                print(
                    f"round {round_no + 1}: newsflow {n_pipe} articles in {t_pipe:.2f}s; trafilatura alone {n_traf} pages in {t_traf:.2f}s"
                )
    pipe_rate, traf_rate = args.pages / best_pipe, args.pages / best_traf
    print(f"pages: {args.pages} (served on 127.0.0.1, one process, sequential fetches)")
    print(
        f"newsflow end to end (discover, fetch, extract, transform, dedup, Parquet write): {pipe_rate:.1f} articles/s"
    )
    print(
        f"trafilatura alone (fetch + extract with metadata, nothing written):           {traf_rate:.1f} pages/s"
    )
    print(f"ratio newsflow / trafilatura: {pipe_rate / traf_rate:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
