"""Airflow with Celery workers: the same ingest runs with one worker and with two.

Starts, for each worker count, a fresh Airflow stack as the integration tests do (Redis as
the broker; PostgreSQL for Airflow's metadata and newsflow's crawl state; scheduler,
dag-processor, api-server and N Celery workers of `--concurrency` task slots each), with a
fresh local data root, then triggers every source's ingest DAG at once over the REST API and
times them from the trigger until every run succeeded. The site: real article pages of the
public evaluation sets (pages made from the demo templates without them), one RSS feed per
source, each source's pages on its own loopback hosts, served by a separate process.

    .venv/bin/python benchmarks/cluster.py [--pages 160] [--sources 8] [--concurrency 1]

Prints seconds and pages per second for each worker count and their ratio. Everything runs
on this one machine: Airflow's own services share its cores with the workers, so the ratio
says how tasks spread over workers, not what a second machine adds. Not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.end_to_end import demo_pages, eval_pages, served, write_feeds, write_pages  # noqa: E402
from tests.integration.harness import (  # noqa: E402
    AirflowStack,
    Postgres,
    find_pg_bindir,
    start_redis,
    stop_services,
)

DAG = "news_ingest__source{}"


def sources_yaml(path: Path, base_urls: list[str], sources: int) -> Path:
    listed = "".join(
        f"  - id: source{s}\n    name: Source {s}\n    feeds: [{base_urls[s]}/feeds/{s}.xml]\n"
        for s in range(sources)
    )
    path.write_text(
        "settings:\n"
        '  user_agent: "newsflow-bench/0.1"\n'
        '  allow_networks: ["127.0.0.0/8"]\n'
        "  rate_limit_per_host: 100\n"
        "  timeout_s: 10\n"
        f"sources:\n{listed}",
        encoding="utf-8",
    )
    return path


def one_round(
    postgres: Postgres, base_urls: list[str], work: Path, sources: int, workers: int, slots: int
) -> float:
    """Seconds from triggering every source's DAG to all of them succeeding."""
    folder = work / f"workers-{workers}"
    folder.mkdir()
    redis, port = start_redis(folder)
    metadata = postgres.new_database()
    airflow = AirflowStack.prepare(
        folder / "airflow-home",
        metadata.replace("postgresql://", "postgresql+psycopg2://"),
        {
            "NEWSFLOW_SOURCES": str(sources_yaml(folder / "sources.yaml", base_urls, sources)),
            "NEWSFLOW_DATA": str(folder / "data"),
            "NEWSFLOW_STATE_URL": postgres.new_database(),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__PARALLELISM": "16",
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{port}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+"
            + metadata.replace("postgresql://", "postgresql+psycopg2://"),
            "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
        },
    )
    try:
        airflow.start("dag-processor", "scheduler", "api-server")
        for n in range(workers):
            airflow.start_worker(f"worker-{n}", concurrency=slots)
        dags = [DAG.format(s) for s in range(sources)]
        for dag_id in dags:
            airflow.wait_for_dag(dag_id, timeout=300, scheduled=True)
        started = time.perf_counter()
        runs = {dag_id: airflow.trigger(dag_id) for dag_id in dags}
        for dag_id in dags:
            airflow.unpause(dag_id)
        for dag_id, run_id in runs.items():
            airflow.wait_for_dag_run(dag_id, run_id, timeout=1800)
        return time.perf_counter() - started
    finally:
        airflow.stop()
        stop_services([redis])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=160)
    parser.add_argument("--sources", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=1, help="task slots per worker")
    parser.add_argument("--demo", action="store_true", help="pages from the demo templates")
    args = parser.parse_args()
    bindir = find_pg_bindir()
    if bindir is None:
        raise SystemExit("PostgreSQL's server binaries are missing: make system-deps")
    work = Path(tempfile.mkdtemp(prefix="newsflow-cluster-"))
    postgres = Postgres.start(bindir)
    try:
        pages = demo_pages(args.pages) if args.demo else eval_pages(args.pages)
        write_pages(work / "site", pages)
        with served(work / "site", args.sources) as base_urls:
            write_feeds(work / "site", len(pages), base_urls, args.sources)
            seconds = {
                workers: one_round(
                    postgres, base_urls, work, args.sources, workers, args.concurrency
                )
                for workers in (1, 2)
            }
    finally:
        postgres.stop()
        shutil.rmtree(work, ignore_errors=True)
    for workers, spent in seconds.items():
        print(
            f"{workers} Celery worker(s) x {args.concurrency} slot(s): {spent:.1f} s, "
            f"{len(pages) / spent:.1f} pages/s"
        )
    print(
        f"two workers against one: x{seconds[1] / seconds[2]:.2f} "
        f"({len(pages)} pages, {args.sources} sources, {dt.datetime.now(dt.UTC):%Y-%m-%d})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
