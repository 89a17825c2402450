"""A local data root against an object store for the same runs: what the mirror costs.

Serves real article pages (the public evaluation sets' article pages; pages made from the
demo templates without them) as several sources on loopback hosts, from a separate process,
and starts an S3-compatible server (SeaweedFS, as the tests do). Each contender is a fresh
`newsflow ingest` process (its start-up counts), in one round after another, alternating:

  (a) a local data root;
  (b) `--data s3://…` with a fresh mirror (NEWSFLOW_CACHE_DIR): the commits are synced from
      and published to the store, work files and WARC uploaded.

For each: the first run (every page new) and a second run of the same sources (every page
already seen: the per-run overhead with nothing to write); for (b) also what a new machine
pays once: a fresh process with an empty mirror that syncs the whole dataset (the first
commit lock it takes). Prints seconds, best of --rounds, and (b)'s ratio to (a). Not a
test.

    .venv/bin/python benchmarks/object_store.py [--pages 160] [--sources 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.end_to_end import (  # noqa: E402
    demo_pages,
    eval_pages,
    served,
    sources_file,
    write_feeds,
    write_pages,
)
from tests.integration.harness import S3Server, find_weed  # noqa: E402

HOSTS_PER_SOURCE = 2


def ingest(config: Path, data: str, env: dict[str, str]) -> float:
    newsflow = str(Path(sys.executable).with_name("newsflow"))
    started = time.perf_counter()
    done = subprocess.run(
        [newsflow, "ingest", "--config", str(config), "--data", data],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"newsflow ingest --data {data} failed:\n{done.stderr[-2000:]}")
    return elapsed


SYNC = (
    "import sys; from ingest.config import data_root; from transforms.commit import commit_lock\n"
    "with commit_lock(data_root(sys.argv[1], remote=True)): pass"
)


def sync_cold(data: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", SYNC, data], env=env, check=True, cwd=ROOT)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=160)
    parser.add_argument("--sources", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from benchmarks.extraction import EVAL

    weed = find_weed()
    if weed is None:
        raise SystemExit("SeaweedFS's weed binary not found: run make test-deps first")
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="newsflow-objbench-") as tmp:
        work = Path(tmp)
        pages = eval_pages(args.pages) if EVAL.is_dir() else demo_pages(args.pages)
        write_pages(work / "site", pages)
        server = S3Server.start(weed)
        try:
            base_env = {**os.environ, **server.env()}
            with served(work / "site", args.sources * HOSTS_PER_SOURCE) as base_urls:
                write_feeds(work / "site", len(pages), base_urls, args.sources)
                config = sources_file(work / "sources.yaml", base_urls, args.sources, None)
                for round_no in range(args.rounds):
                    tag = uuid.uuid4().hex[:8]
                    local = str(work / f"local-{tag}")
                    remote = f"s3://{server.bucket}/bench-{tag}"
                    env = {**base_env, "NEWSFLOW_CACHE_DIR": str(work / f"cache-{tag}")}
                    order = [("local", local, base_env), ("s3", remote, env)]
                    figures: dict[str, float] = {}
                    for name, data, environ in order if round_no % 2 == 0 else order[::-1]:
                        figures[f"{name} first run"] = ingest(config, data, environ)
                        figures[f"{name} second run"] = ingest(config, data, environ)
                    new_machine = {**base_env, "NEWSFLOW_CACHE_DIR": str(work / f"new-{tag}")}
                    figures["s3 sync, new machine"] = sync_cold(remote, new_machine)
                    for name, seconds in figures.items():
                        best[name] = min(best.get(name, float("inf")), seconds)
                    print(
                        f"round {round_no + 1}: "
                        + ", ".join(f"{k} {v:.2f}s" for k, v in figures.items()),
                        flush=True,
                    )
        finally:
            server.stop()
    print(
        f"\n{len(pages)} pages, {args.sources} sources on {args.sources * HOSTS_PER_SOURCE} "
        f"loopback hosts; SeaweedFS on 127.0.0.1; best of {args.rounds} rounds"
    )
    print(f"{'':<36}{'local':>9}{'s3':>9}{'ratio':>8}")
    for run in ("first run", "second run"):
        a, b = best[f"local {run}"], best[f"s3 {run}"]
        print(f"{run:<36}{a:>8.2f}s{b:>8.2f}s{b / a:>8.2f}")
    print(f"{'a new machine syncs the dataset':<36}{'':>9}{best['s3 sync, new machine']:>8.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
