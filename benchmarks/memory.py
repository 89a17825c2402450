"""Peak memory of one source run as its number of items grows.

Serves a loopback site of N article pages (about 600 words each) listed in one feed, and
runs one source's whole pipeline (`newsflow ingest`: discover, fetch, extract, transform,
write; the pages extracted in parts by its workers) in a fresh child process for each size,
reading the peak resident memory of the largest of its processes. Target: a run of 5,000 items within 1.2x the peak of 500.

    .venv/bin/python benchmarks/memory.py [--sizes 500,5000]

Prints figures; asserts nothing (not a test).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest.siteserver import serve_site  # noqa: E402


def page(n: int) -> str:
    """A distinct article: its words drawn from a 5,000-word vocabulary, seeded by n (pages
    made from one pattern would all be copies of each other, which no news site serves)."""
    rng = random.Random(n)
    paragraphs = "".join(
        "<p>" + " ".join(f"w{rng.randrange(5000)}" for _ in range(60)) + ".</p>" for _ in range(10)
    )
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Story {n}</title>'
        f'<meta property="article:published_time" content="2026-11-{1 + n % 28:02d}T08:00:00Z">'
        f"</head><body><article><h1>Story {n} of the memory benchmark</h1>{paragraphs}"
        "</article></body></html>"
    )


def write_site(folder: Path, count: int) -> None:
    (folder / "a").mkdir(parents=True)
    for n in range(count):
        (folder / "a" / f"{n}.html").write_text(page(n), encoding="utf-8")
    items = "".join(
        f"<item><title>Story {n}</title><link>{{{{BASE_URL}}}}/a/{n}.html</link></item>"
        for n in range(count)
    )
    (folder / "feed.xml").write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>M</title>{items}</channel></rss>',
        encoding="utf-8",
    )


def run_once(base_url: str, scratch: Path) -> tuple[float, float]:
    """(peak resident MiB, seconds) of one source run in a fresh child process."""
    sources = scratch / "sources.yaml"
    sources.write_text(
        f"""
settings:
  allow_networks: ["127.0.0.0/8"]
  rate_limit_per_host: 100
  items_per_run: 100000  # every item in the one run measured
sources:
  - id: memory
    name: Memory
    feeds: ["{base_url}/feed.xml"]
""",
        encoding="utf-8",
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "newsflow"),
            "ingest",
            "--config",
            str(sources),
            "--data",
            str(scratch / "data"),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak <= before:
        raise SystemExit("run the sizes from small to large: the children's peak only grows")
    return peak / 1024, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,5000")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    figures = []
    for size in sizes:
        scratch = Path(tempfile.mkdtemp(prefix="newsflow-memory-"))
        try:
            write_site(scratch / "site", size)
            with serve_site(scratch / "site") as server:
                peak, seconds = run_once(server.base_url, scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        figures.append((size, peak, seconds))
        print(f"{size:>6} items: peak {peak:,.0f} MiB, {seconds:.0f} s")
    (small, small_peak, _), (large, large_peak, _) = figures[0], figures[-1]
    print(
        f"{large} items against {small}: x{large_peak / small_peak:.2f} peak memory "
        f"(target within x1.2), {dt.datetime.now(dt.UTC):%Y-%m-%d}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
