"""Fixtures of the integration tests: one real Airflow stack on a private PostgreSQL, shared by
the tests of a session (starting it is most of their cost), and the demo site it ingests."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingest.demo import DEMO_SITE
from ingest.siteserver import SiteServer, serve_site
from tests.conftest import demo_sources_text, write_sources
from tests.integration.harness import INSTALL_HINT, AirflowStack, Postgres


@dataclass
class Stack:
    """The running stack and the folders it reads and writes."""

    airflow: AirflowStack
    data: Path
    sources: Path


@pytest.fixture(scope="session")
def demo_site() -> Iterator[SiteServer]:
    """The bundled demo site for the whole session (the stack's sources file names its port)."""
    with serve_site(DEMO_SITE) as server:
        yield server


@pytest.fixture(scope="session")
def airflow_stack(
    postgres: Postgres, demo_site: SiteServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """dag-processor, scheduler and api-server (LocalExecutor) on the PostgreSQL cluster, with
    the demo sources and a fresh data root; every process is stopped at the end."""
    root = tmp_path_factory.mktemp("airflow-stack")
    sources = write_sources(root / "sources.yaml", demo_sources_text(demo_site.base_url))
    data = root / "data"
    airflow = AirflowStack.prepare(
        root / "airflow-home",
        postgres.url(),
        {"NEWSFLOW_SOURCES": str(sources), "NEWSFLOW_DATA": str(data)},
    )
    try:
        airflow.start("dag-processor", "scheduler", "api-server")
        yield Stack(airflow, data, sources)
    finally:
        airflow.stop()


@pytest.fixture
def chromium() -> str:
    """The Chromium binary (NEWSFLOW_CHROMIUM, else the PATH); skips the test without one."""
    for name in (os.environ.get("NEWSFLOW_CHROMIUM"), "chromium", "chromium-browser"):
        found = shutil.which(name) if name else None
        if found:
            return found
    pytest.skip(f"Chromium not found: {INSTALL_HINT}")
