"""End-to-end throughput on a loopback site: newsflow against a plain requests + trafilatura
loop over the same pages, in one run.

The site: real article pages (the article pages of the public evaluation sets in
../shared/eval; with --demo, pages generated from the demo site's templates), dealt out to
several sources, each an RSS feed with its pages on several hosts (127.0.0.1 ... 127.0.0.N),
all served by a separate process. Each contender runs as a fresh process (its start-up and
imports count), reads the feeds and fetches and extracts every page:

  (a) a loop of requests.get (one keep-alive session) + trafilatura.extract (with metadata);
  (b) the same loop in a pool of two processes;
  (c) `newsflow ingest`, with ingest_workers: 1 and with the default (one worker per core);
      rate_limit_per_host 100, the highest allowed, and each source's hosts are fetched in
      parallel, so politeness is not what is measured; people and organisations by the
      installed spaCy pipelines, the default (transforms/tagging/models.py);
  (d) the same with `entity_models: rules`: the rule-based entity tagger.

Prints pages per second for each and its ratio to (a), best of --rounds rounds (the order
alternating), the CPU time per page of that round (all the contender's processes), and
whether (c)'s two runs stored the same rows. newsflow's modules are compiled to bytecode
first, as an installed package's are. Not a test: figures vary with the machine and
its load; compare the ratios.

    .venv/bin/python benchmarks/end_to_end.py [--pages 400] [--sources 8] [--hosts-per-source 4]
        [--rounds 2] [--demo]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import multiprocessing
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# the contenders' processes import only what they run: the rest is imported where used
TEMPLATES = [
    "limited-times/news/2023-04-06-new-putin-lukashenko-plan-russia-apparently-moves-belarus-troops.html",
    "harbour-gazette/2023/04/night-ferry-delays.html",
    "harbour-gazette/2023/04/lifeboat-volunteers.html",
]
POOL = 2  # processes of contender (b)
VOLATILE = ("run_id", "fetched_at")  # columns that differ between two runs of the same pages


# ------------------------------------------------------------------------------- the site


def eval_pages(count: int) -> list[bytes]:
    """`count` article pages of the evaluation sets, spread evenly over both sets."""
    from benchmarks.extraction import load_corpus

    articles = [p for p in load_corpus() if p.is_article]
    step = max(1, len(articles) // count)
    return [gzip.decompress(p.path.read_bytes()) for p in articles[::step][:count]]


def demo_pages(count: int) -> list[bytes]:
    """`count` pages from the demo templates, each with its own words in three paragraphs."""
    from ingest.demo import DEMO_SITE

    templates = [(DEMO_SITE / t).read_text(encoding="utf-8") for t in TEMPLATES]
    pages = []
    for n in range(count):
        page = templates[n % len(templates)]
        page = re.sub(r'<link rel="canonical"[^>]*>|<meta property="og:url"[^>]*>', "", page)
        pages.append(
            page.replace("<p>", f"<p>Report {n}, paragraph note {n * 7 % 13}. ", 3).encode()
        )
    return pages


def write_pages(root: Path, pages: list[bytes]) -> None:
    (root / "a").mkdir(parents=True, exist_ok=True)
    for n, page in enumerate(pages):
        (root / "a" / f"{n}.html").write_bytes(page)


def write_feeds(root: Path, count: int, base_urls: list[str], sources: int) -> list[str]:
    """One RSS feed per source, on its first host: source s lists the pages n with
    n % sources == s, dealt out to its hosts s, s + sources, s + 2 * sources, ... Every host
    serves every file. Returns the URLs of the feeds and then of the pages."""
    per_source = len(base_urls) // sources
    links: list[list[str]] = [[] for _ in range(sources)]
    for n in range(count):
        host = n % sources + sources * (n // sources % per_source)
        links[n % sources].append(f"{base_urls[host]}/a/{n}.html")
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    (root / "feeds").mkdir(exist_ok=True)
    for s, urls in enumerate(links):
        items = "".join(
            f"<item><title>Story {i}</title><link>{url}</link>"
            f"<pubDate>{start + dt.timedelta(minutes=37 * i):%a, %d %b %Y %H:%M:%S GMT}</pubDate>"
            "</item>"
            for i, url in enumerate(urls)
        )
        (root / "feeds" / f"{s}.xml").write_text(
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Source {s}</title>'
            f"{items}</channel></rss>",
            encoding="utf-8",
        )
    return [feed_url(base_urls, s) for s in range(sources)] + [u for us in links for u in us]


def feed_url(base_urls: list[str], source: int) -> str:
    return f"{base_urls[source]}/feeds/{source}.xml"


def _serve(root: Path, hosts: int, conn: Any) -> None:
    from ingest.siteserver import serve_site

    with ExitStack() as stack:
        servers = [
            stack.enter_context(serve_site(root, host=f"127.0.0.{h + 1}")) for h in range(hosts)
        ]
        conn.send([s.base_url for s in servers])
        conn.recv()  # until told to stop


@contextmanager
def served(root: Path, hosts: int) -> Iterator[list[str]]:
    """The site's hosts served by a separate process (its work stays off the contenders'
    interpreters); yields their base URLs."""
    context = multiprocessing.get_context("spawn")
    mine, theirs = context.Pipe()
    server = context.Process(target=_serve, args=(root, hosts, theirs), daemon=True)
    server.start()
    try:
        if not mine.poll(60):
            raise SystemExit("the site server did not start")
        yield mine.recv()
    finally:
        mine.send("stop")
        server.join(10)
        server.terminate()


# ---------------------------------------------------------------------- the plain loop


_session: Any = None


def _fetch_and_extract(url: str) -> bool:
    import requests
    import trafilatura

    global _session
    _session = _session or requests.Session()
    response = _session.get(url, timeout=10)
    if "/feeds/" in url:  # the feeds are read, not extracted
        return False
    result = trafilatura.extract(response.text, url=url, with_metadata=True, output_format="json")
    return result is not None


def loop(urls: list[str], processes: int) -> int:
    """Fetch and extract every URL, in this process or a pool; returns the pages extracted."""
    if processes == 1:
        return sum(map(_fetch_and_extract, urls))
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        return sum(pool.imap_unordered(_fetch_and_extract, urls, chunksize=4))


# --------------------------------------------------------------------------- newsflow


def sources_file(
    path: Path, base_urls: list[str], sources: int, workers: int | None, rules: bool = False
) -> Path:
    setting = f"  ingest_workers: {workers}\n" if workers else ""
    setting += "  entity_models: rules\n" if rules else ""
    listed = "".join(
        f"  - id: source{s}\n    name: Source {s}\n    feeds: [{feed_url(base_urls, s)}]\n"
        for s in range(sources)
    )
    path.write_text(
        "settings:\n"
        '  user_agent: "newsflow-bench/0.1"\n'
        "  timeout_s: 10\n"
        '  allow_networks: ["127.0.0.0/8"]\n'
        "  rate_limit_per_host: 100\n"  # the highest allowed; a source's hosts in parallel
        f"{setting}sources:\n{listed}",
        encoding="utf-8",
    )
    return path


def stored_rows(data: Path) -> list[tuple[Any, ...]]:
    import pyarrow.dataset as ds

    table = ds.dataset(data / "articles", format="parquet", partitioning="hive").to_table()
    columns = [c for c in table.column_names if c not in VOLATILE]
    return sorted(tuple(map(repr, row.values())) for row in table.select(columns).to_pylist())


# ---------------------------------------------------------------------------- measuring


def compile_project() -> None:
    """Compile newsflow's modules to bytecode, as installing a package does (pip compiles
    trafilatura's and requests'): in an editable checkout with PYTHONDONTWRITEBYTECODE set,
    every newsflow process would compile its modules from source again, 0.1 s of CPU."""
    import compileall

    for package in ("ingest", "transforms"):
        compileall.compile_dir(ROOT / package, quiet=1)


def timed(command: list[str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (the command's processes, user and system) and output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return elapsed, cpu, done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=400)
    parser.add_argument("--sources", type=int, default=8, help="sources, one feed each")
    parser.add_argument(
        "--hosts-per-source", type=int, default=4, help="hosts a source's pages are on"
    )
    parser.add_argument("--rounds", type=int, default=2, help="rounds; the best of each is kept")
    parser.add_argument("--demo", action="store_true", help="pages from the demo templates")
    parser.add_argument("--loop", type=Path, help=argparse.SUPPRESS)  # a contender's process
    parser.add_argument("--processes", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.loop:
        print(loop(args.loop.read_text(encoding="utf-8").split(), args.processes))
        return 0
    from benchmarks.extraction import EVAL

    compile_project()
    hosts = args.sources * args.hosts_per_source
    demo = args.demo or not EVAL.is_dir()
    if demo and not args.demo:
        print(f"{EVAL}: no evaluation sets here (NEWSFLOW_EVAL_DIR); using the demo templates")
    newsflow = str(Path(sys.executable).with_name("newsflow"))
    contenders: dict[str, Any] = {
        "(a) requests + trafilatura, one process": [1],
        f"(b) requests + trafilatura, {POOL}-process pool": [POOL],
        "(c) newsflow ingest, ingest_workers: 1": 1,
        f"(c) newsflow ingest, default ({os.cpu_count()} workers)": None,
        f"(d) the same, entity_models: rules ({os.cpu_count()} workers)": "rules",
    }
    best: dict[str, float] = {}
    cpu: dict[str, float] = {}  # of the best round
    notes: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="newsflow-bench-") as tmp:
        work = Path(tmp)
        pages = demo_pages(args.pages) if demo else eval_pages(args.pages)
        write_pages(work / "site", pages)
        with served(work / "site", hosts) as base_urls:
            urls = work / "urls.txt"
            urls.write_text(
                "\n".join(write_feeds(work / "site", len(pages), base_urls, args.sources)),
                encoding="utf-8",
            )
            for round_no in range(args.rounds):
                order = list(contenders.items())
                for name, how in order if round_no % 2 == 0 else order[::-1]:
                    if isinstance(how, list):
                        command = [sys.executable, __file__, "--loop", str(urls)]
                        elapsed, seconds, out = timed([*command, "--processes", str(how[0])])
                        notes[name] = f"{out.strip()} pages extracted"
                    else:
                        data = work / f"data-{how or 0}-{round_no}"
                        workers = how if isinstance(how, int) else None
                        config = sources_file(
                            work / f"sources-{how}.yaml",
                            base_urls,
                            args.sources,
                            workers,
                            rules=how == "rules",
                        )
                        elapsed, seconds, out = timed(
                            [newsflow, "ingest", "--config", str(config), "--data", str(data)]
                        )
                        notes[name] = out.strip().splitlines()[-1]
                    if elapsed < best.get(name, float("inf")):
                        best[name], cpu[name] = elapsed, seconds
                    print(
                        f"round {round_no + 1}: {name}: {elapsed:.2f}s, CPU {seconds:.2f}s",
                        flush=True,
                    )
        same = stored_rows(work / "data-1-0") == stored_rows(work / "data-0-0")
    kind = "generated from the demo templates" if demo else "evaluation-set articles"
    print(
        f"\n{len(pages)} pages ({kind}), {args.sources} sources on {hosts} hosts "
        f"(127.0.0.1-{hosts}) served by a separate process; {os.cpu_count()} cores; each "
        f"contender a fresh process; best of {args.rounds} rounds"
    )
    base = len(pages) / best[next(iter(best))]
    print(f"{'':<48}{'pages/s':>9}{'ratio':>8}{'CPU ms/page':>13}")
    for name, seconds in best.items():
        rate = len(pages) / seconds
        per_page = 1000 * cpu[name] / len(pages)
        print(f"{name:<48}{rate:>9.1f}{rate / base:>8.2f}{per_page:>13.1f}   {notes[name]}")
    print(f"newsflow with 1 and with the default workers stored the same rows: {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
