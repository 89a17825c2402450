"""The per-host rate limit under load: N hosts (127.0.0.1 … 127.0.0.N, one server each), the
real fetch stage (robots.txt, limiter, WARC capture), a limit of R requests/s per host.

Prints, per N: total requests per second, and per host the most requests seen by the server
in any one-second window and the smallest gap between two requests. The limiter holds when
no host exceeds R in any window; throughput should grow with N.

    .venv/bin/python benchmarks/rate_limit.py [--rate 5] [--per-host 20] [--hosts 1 2 4 8]
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest.config import Settings, Source  # noqa: E402
from ingest.run.model import Run  # noqa: E402
from ingest.run.stages import fetch  # noqa: E402
from ingest.run.workfiles import write_jsonl  # noqa: E402
from ingest.siteserver import Reply, SiteServer, serve_site  # noqa: E402

PAGE = Reply(
    200, {"Content-Type": "text/html"}, b"<html><body><p>" + b"word " * 200 + b"</p></body></html>"
)


def max_in_window(times: list[float], window: float = 1.0) -> int:
    return max(
        (bisect.bisect_left(times, t + window - 1e-9) - i for i, t in enumerate(times)), default=0
    )


def measure(hosts: int, per_host: int, rate: float) -> tuple[float, float, float, int, float]:
    with tempfile.TemporaryDirectory(prefix="newsflow-ratelimit-") as tmp, ExitStack() as stack:
        servers: list[SiteServer] = [
            stack.enter_context(
                serve_site(
                    None, {f"/p/{i}": PAGE for i in range(per_host)}, host=f"127.0.0.{h + 1}"
                )
            )
            for h in range(hosts)
        ]
        root = Path(tmp)
        source = Source(id="bench", name="Bench", feeds=("http://127.0.0.1/unused",))
        settings = Settings(
            user_agent="newsflow-bench/0.1",
            allow_networks=("127.0.0.0/8",),
            rate_limit_per_host=rate,
            fetch_workers=hosts,
        )
        run = Run.adhoc()
        items = [
            {"url": f"{s.base_url}/p/{i}", "feed_url": None}
            for i in range(per_host)
            for s in servers
        ]
        discovered = write_jsonl(root / "work" / "bench" / run.key / "discovered.jsonl", items)
        started = time.monotonic()
        ref = fetch(source, settings, root, run, str(discovered))
        elapsed = time.monotonic() - started
        assert ref["count"] == hosts * per_host, ref
        total = sum(len(s.request_times) for s in servers)
        windows, gaps, rates = [], [], []
        for server in servers:
            times = sorted(t for t, _ in server.request_times)
            windows.append(max_in_window(times))
            gaps += [b - a for a, b in itertools.pairwise(times)]
            rates.append((len(times) - 1) / (times[-1] - times[0]))
        return total / elapsed, elapsed, max(rates), max(windows), min(gaps)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=5.0, help="requests per second per host")
    parser.add_argument("--per-host", type=int, default=20, help="pages per host")
    parser.add_argument("--hosts", type=int, nargs="+", default=[1, 2, 4, 8])
    args = parser.parse_args()
    print(f"limit {args.rate:g} requests/s per host, {args.per_host} pages + robots.txt per host")
    print("per host: the busiest host's average rate, the most requests it saw in any 1 s window")
    print("(slots are 1/R apart, so a window may hold R + 1), and the smallest gap the server saw")
    print(
        f"{'hosts':>5} {'seconds':>8} {'total req/s':>12} {'host req/s':>11} {'max in 1 s':>11} {'min gap ms':>11}"
    )
    for hosts in args.hosts:
        rps, elapsed, host_rate, window, gap = measure(hosts, args.per_host, args.rate)
        print(
            f"{hosts:>5} {elapsed:>8.2f} {rps:>12.1f} {host_rate:>11.2f} {window:>11} {gap * 1000:>11.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
