"""Test-wide setup: an isolated Airflow home (set before anything imports airflow) and the
fixture sites, served on 127.0.0.1 by the tests themselves."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="newsflow-airflow-home-")
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
# mirrors of s3:// data roots (transforms/lakemirror.py) stay out of the home folder; the
# Airflow components the tests start inherit it
os.environ["NEWSFLOW_CACHE_DIR"] = str(Path(_AIRFLOW_HOME) / "newsflow-cache")
os.environ.pop("NEWSFLOW_SOURCES", None)
os.environ.pop("NEWSFLOW_DATA", None)
os.environ.pop("NEWSFLOW_DEMO_URL", None)

from ingest.demo import DEMO_SITE  # noqa: E402
from ingest.siteserver import SiteServer, serve_site  # noqa: E402
from tests.integration.harness import (  # noqa: E402
    PG_PACKAGE_HINT,
    WEED_HINT,
    Postgres,
    S3Server,
    find_pg_bindir,
    find_weed,
)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A private PostgreSQL cluster on 127.0.0.1, removed at the end of the session."""
    bindir = find_pg_bindir()
    if bindir is None:
        pytest.fail(f"PostgreSQL server binaries (initdb, pg_ctl) not found: {PG_PACKAGE_HINT}")
    server = Postgres.start(bindir)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A real S3-compatible server (SeaweedFS) on 127.0.0.1, removed at the end of the session."""
    weed = find_weed()
    if weed is None:
        pytest.fail(f"SeaweedFS's weed binary not found: {WEED_HINT}")
    server = S3Server.start(weed)
    try:
        yield server
    finally:
        server.stop()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture
def demo_server() -> Iterator[SiteServer]:
    """The bundled demo site on a free port."""
    with serve_site(DEMO_SITE) as server:
        yield server


def write_sources(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def demo_sources_text(base_url: str) -> str:
    """The sources file for the demo site served at `base_url` (fast settings for tests)."""
    return f"""
settings:
  user_agent: "newsflow-tests/0.1 (+https://example.org/tests)"
  timeout_s: 5
  rate_limit_per_host: 50
  backoff_base_s: 0.01
  allow_networks: ["127.0.0.0/8"]
sources:
  - id: harbour-gazette
    name: The Harbour Gazette
    feeds: ["{base_url}/harbour-gazette/atom.xml"]
    language: en
    schedule: "15 */2 * * *"
  - id: limited-times
    name: The Limited Times
    feeds: ["{base_url}/limited-times/feed.xml"]
    language: en
    schedule: "@hourly"
    profile: limited-times
"""


@pytest.fixture
def demo_sources(tmp_path: Path, demo_server: SiteServer) -> Path:
    """A sources file for the demo site on the test's server."""
    return write_sources(tmp_path / "sources.yaml", demo_sources_text(demo_server.base_url))
