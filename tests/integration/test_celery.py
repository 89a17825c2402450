"""Airflow with the CeleryExecutor, for real: Redis as the broker, PostgreSQL for Airflow's
metadata and for newsflow's crawl state, an S3-compatible server for the data root, two
Celery workers with different names and nothing on disk in common (each its own mirror of the
data root). Three sources that share one host are triggered at once; one worker is killed
with SIGKILL in the middle of a fetch task. Airflow retries the task on the other worker, the
per-host interval holds across both, and every listed item ends in the published dataset
exactly once, readable through `newsflow query` and pyarrow."""

from __future__ import annotations

import itertools
import random
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ingest.cli import main
from ingest.siteserver import SiteServer, serve_site
from tests.conftest import write_sources
from tests.integration.harness import (
    AirflowStack,
    Postgres,
    S3Server,
    Service,
    signal_group,
    start_redis,
    stop_services,
    wait_until,
)
from transforms.lakelog import Lake
from transforms.objectstore import S3Credentials, S3Location

pytestmark = [pytest.mark.airflow, pytest.mark.integration]

SOURCES = ("alpha", "beta", "gamma")
PAGES = 12  # per source
RATE = 4.0  # requests per second to the one shared host
DAG = "news_ingest__{}"


def write_site(folder: Path) -> None:
    """Three feeds on one host, each listing its own distinct articles."""
    for source in SOURCES:
        (folder / source).mkdir(parents=True)
        items = []
        for n in range(PAGES):
            rng = random.Random(f"{source}-{n}")
            words = " ".join(f"w{rng.randrange(5000)}" for _ in range(240))
            (folder / source / f"{n}.html").write_text(
                f'<!DOCTYPE html><html lang="en"><head><title>{source} story {n}</title>'
                '<meta property="article:published_time" content="2026-11-30T08:00:00Z">'
                f"</head><body><article><h1>{source} story {n}</h1><p>{words}.</p></article>"
                "</body></html>",
                encoding="utf-8",
            )
            items.append(
                f"<item><title>{source} {n}</title>"
                f"<link>{{{{BASE_URL}}}}/{source}/{n}.html</link></item>"
            )
        (folder / f"{source}.xml").write_text(
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>{source}</title>'
            f"{''.join(items)}</channel></rss>",
            encoding="utf-8",
        )


@dataclass
class Cluster:
    airflow: AirflowStack
    site: SiteServer
    data: str  # the s3:// data root
    workers: dict[str, Service]


@pytest.fixture
def cluster(
    postgres: Postgres, s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Cluster]:
    for name, value in s3_server.env().items():  # for this process's reads of the dataset
        monkeypatch.setenv(name, value)
    redis, redis_port = start_redis(tmp_path)
    write_site(tmp_path / "site")
    site_context = serve_site(tmp_path / "site")
    site = site_context.__enter__()
    try:
        listed = "".join(
            f"  - id: {s}\n    name: {s.title()}\n    feeds: [{site.base_url}/{s}.xml]\n"
            for s in SOURCES
        )
        sources = write_sources(
            tmp_path / "sources.yaml",
            "settings:\n"
            '  user_agent: "newsflow-tests/0.1 (+https://example.org/tests)"\n'
            '  allow_networks: ["127.0.0.0/8"]\n'
            f"  rate_limit_per_host: {RATE}\n"
            "  timeout_s: 5\n"
            f"sources:\n{listed}",
        )
        metadata = postgres.new_database()
        data = f"s3://{s3_server.bucket}/celery-{uuid.uuid4().hex[:10]}"
        airflow = AirflowStack.prepare(
            tmp_path / "airflow-home",
            metadata.replace("postgresql://", "postgresql+psycopg2://"),
            {
                "NEWSFLOW_SOURCES": str(sources),
                "NEWSFLOW_DATA": data,
                **s3_server.env(),
                "NEWSFLOW_STATE_URL": postgres.new_database(),
                "NEWSFLOW_RETRY_DELAY_S": "1",
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CORE__PARALLELISM": "8",
                "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
                "AIRFLOW__CELERY__RESULT_BACKEND": "db+"
                + metadata.replace("postgresql://", "postgresql+psycopg2://"),
                "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
                # a killed worker's task is found by its missing heartbeat within seconds
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "15",
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
                "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "90",
            },
        )
        try:
            airflow.start("dag-processor", "scheduler", "api-server")
            workers = {
                name: airflow.start_worker(
                    name, env={"NEWSFLOW_CACHE_DIR": str(tmp_path / f"{name}-cache")}
                )
                for name in ("worker-a", "worker-b")
            }
            yield Cluster(airflow, site, data, workers)
        finally:
            airflow.stop()
    finally:
        site_context.__exit__(None, None, None)
        stop_services([redis])


def lake_fs() -> object:
    return S3Credentials.from_env().filesystem()


def test_two_celery_workers_share_the_host_limit_and_survive_a_killed_worker(
    cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    airflow, site = cluster.airflow, cluster.site
    runs = {}
    for source in SOURCES:
        airflow.wait_for_dag(DAG.format(source), scheduled=True)
    for source in SOURCES:  # all three at once
        runs[source] = airflow.trigger(DAG.format(source))
    for source in SOURCES:
        airflow.unpause(DAG.format(source))

    def fetching() -> tuple[str, str, str] | None:
        """(source, run id, worker) of a fetch task in the middle of its pages."""
        if sum(1 for _, path in site.request_times if path.endswith(".html")) < 4:
            return None
        for source, run_id in runs.items():
            for ti in airflow.api(
                "GET", f"/dags/{DAG.format(source)}/dagRuns/{run_id}/taskInstances"
            )["task_instances"]:
                running = ti["task_id"] == "fetched_pages" and ti["state"] == "running"
                if running and ti["hostname"] in cluster.workers:
                    return source, run_id, ti["hostname"]
        return None

    source, run_id, victim = wait_until(fetching, 180, "a running fetch task", airflow.diagnostics)
    killed = cluster.workers[victim]
    signal_group(killed.proc.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    killed.proc.wait(timeout=30)
    airflow.services.remove(killed)  # gone on purpose: the stack's health checks skip it

    for name, run in runs.items():
        finished = airflow.wait_for_dag_run(DAG.format(name), run, timeout=420, retries=True)
        assert set(finished["task_states"].values()) == {"success"}, finished["task_states"]

    # the killed try failed on the victim; a later try succeeded on the other worker
    tries = airflow.api(
        "GET", f"/dags/{DAG.format(source)}/dagRuns/{run_id}/taskInstances/fetched_pages/tries"
    )["task_instances"]
    by_try = {t["try_number"]: t for t in tries}
    assert by_try[1]["hostname"] == victim, tries
    last = by_try[max(by_try)]
    survivor = next(name for name in cluster.workers if name != victim)
    assert last["state"] == "success" and last["hostname"] == survivor, tries

    hosts = set()
    for name, run in runs.items():
        for ti in airflow.api("GET", f"/dags/{DAG.format(name)}/dagRuns/{run}/taskInstances")[
            "task_instances"
        ]:
            hosts.add(ti["hostname"])
    tried = {t["hostname"] for t in tries}  # as the API reports them, the killed try included
    assert set(cluster.workers) <= hosts | tried, (hosts, tried)  # tasks ran on both workers
    assert survivor in hosts

    # every listed item in the published dataset exactly once, through newsflow query and
    # through pyarrow reading the files the log publishes
    published = Lake(S3Location.parse(cluster.data)).published()
    expected = {f"{site.base_url}/{s}/{n}.html" for s in SOURCES for n in range(PAGES)}
    urls = [
        url
        for key in published.files["articles"]
        for url in pq.read_table(
            f"{S3Location.parse(cluster.data).path(key)}", filesystem=lake_fs(), columns=["url"]
        )["url"].to_pylist()
    ]
    assert sorted(urls) == sorted(expected), "lost or doubled articles"
    assert not published.files.get("quarantine"), "quarantined rows"
    assert all(
        key.startswith("articles/published_date=2026-11-30/") for key in published.files["articles"]
    )
    assert main(["query", "--data", cluster.data, "SELECT count(DISTINCT url) FROM articles"]) == 0
    assert str(len(expected)) in capsys.readouterr().out

    # one host, two workers, and a kill: requests stayed 1/RATE seconds apart throughout
    times = sorted(t for t, _ in site.request_times)
    gaps = [(b - a, a - killed_at) for a, b in itertools.pairwise(times)]
    short = [(round(g, 3), round(at, 3)) for g, at in gaps if g < 1 / RATE - 0.03]
    assert not short, f"(gap, its start from the kill) under {1 / RATE - 0.03:.3f} s: {short}"
    assert killed_at < times[-1]  # the kill fell within the fetching
