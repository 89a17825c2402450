"""The newsflow pages, served by a real api-server that loaded the project's Airflow plugin.

The demo sources are ingested into a fresh data root, the daily upkeep writes its report,
one quality finding is recorded, and one article holds a title and body as a hostile page
would give them (markup that would run if it were not escaped). Then every page is read
with a logged-in session, one filter per page, bad input, anonymous and forged requests;
and headless Chromium renders the Sources page, the hostile article and the pages inside
the Airflow UI, with screenshots kept in the test's folder.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest
import requests

from tests.conftest import ROOT, demo_sources_text, write_sources
from tests.integration.harness import (
    AirflowStack,
    Postgres,
    airflow_cli,
    airflow_env,
    free_port,
    run_chromium,
    tail,
)

pytestmark = [pytest.mark.airflow, pytest.mark.integration]

DAY = "2023-04-06"
HOSTILE_ID = "0badc0de0badc0de"
HOSTILE_TITLE = (
    "<script>document.title='owned'</script><img src=x onerror=\"document.title='owned'\">"
)
PAGES = ["sources", "articles", f"articles/{HOSTILE_ID}", "stories", "quarantine", "reports"]


@dataclass
class PluginStack:
    airflow: AirflowStack
    data: Path
    http: requests.Session  # logged in

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return self.http.get(f"{self.airflow.api_url}/newsflow/{path}", timeout=60, **kwargs)  # type: ignore[arg-type]


def entry_point_path(folder: Path) -> str | None:
    """A folder that declares the plugin's entry point, for an environment whose installed
    newsflow metadata predates it (an editable install made before pyproject.toml named the
    plugin: `make install` refreshes it); None when the installed package declares it."""
    names = {e.name for e in importlib.metadata.entry_points(group="airflow.plugins")}
    if "newsflow" in names:
        return None
    info = folder / "newsflow_plugin_entry-0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: newsflow-plugin-entry\nVersion: 0\n"
    )
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    target = pyproject.split('[project.entry-points."airflow.plugins"]', 1)[1].split("\n")[1]
    line = target.replace('"', "")
    (info / "entry_points.txt").write_text(f"[airflow.plugins]\n{line}\n")
    return str(folder)


def fill_data_root(data: Path, sources: Path) -> None:
    """The demo ingested, the daily upkeep of DAY (its report), a quality finding for
    limited-times on today's check, and an article with markup in its title and body."""
    from ingest.cli import main
    from ingest.config import load_sources
    from ingest.run.runner import ingest_sources
    from transforms.dataset import write_atomic
    from transforms.quality import Finding, record
    from transforms.query import run_query
    from transforms.schema import ARTICLE_SCHEMA

    config = load_sources(sources)
    results = ingest_sources(config, list(config.sources), data)
    assert not any(r.error for r in results), results
    daily = ["daily", "--data", str(data), "--day", DAY, "--compact-older-than-days", "0"]
    assert main([*daily, "--config", str(sources)]) == 0
    now = dt.datetime.now(dt.UTC)
    warning = Finding(
        "extraction", "warning", "limited-times", 0.5, 0.2, "limited-times: 50% short bodies"
    )
    record(data, now.date(), [warning], now)

    columns, rows = run_query(data, "SELECT * FROM articles WHERE source_id = 'harbour-gazette'")
    row = dict(zip(columns, rows[0], strict=True))
    row.pop("published_date")
    row.update(
        article_id=HOSTILE_ID,
        url="javascript:alert(1)",
        canonical_url="javascript:alert(1)",
        title=HOSTILE_TITLE,
        text=f"Body with markup: {HOSTILE_TITLE}",
        story_id=HOSTILE_ID,
        duplicate_of=None,
        published_at=dt.datetime(2023, 4, 6, 23, 0, tzinfo=dt.UTC),
    )
    table = pa.Table.from_pylist([row], schema=ARTICLE_SCHEMA)
    write_atomic(table, data / "articles" / f"published_date={DAY}" / "hostile.parquet")


@dataclass
class Prepared:
    root: Path
    database: str
    extra: dict[str, str]


@pytest.fixture(scope="module")
def prepared(
    postgres: Postgres, demo_site: object, tmp_path_factory: pytest.TempPathFactory
) -> Prepared:
    """A filled data root, a migrated database of its own and the plugin's entry point."""
    root = tmp_path_factory.mktemp("plugin-stack")
    sources = write_sources(root / "sources.yaml", demo_sources_text(demo_site.base_url))  # type: ignore[attr-defined]
    data = root / "data"
    fill_data_root(data, sources)
    extra = {"NEWSFLOW_SOURCES": str(sources), "NEWSFLOW_DATA": str(data)}
    entry = entry_point_path(root / "entry-point")
    if entry:
        paths = (str(ROOT), entry, os.environ.get("PYTHONPATH", ""))
        extra["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    database = postgres.new_database().replace("postgresql://", "postgresql+psycopg2://", 1)
    airflow_cli(airflow_env(root, database, free_port(), extra), "db", "migrate")
    return Prepared(root, database, extra)


def start_api_server(prepared: Prepared, name: str, extra: dict[str, str]) -> AirflowStack:
    home = prepared.root / name
    home.mkdir()
    port = free_port()
    env = airflow_env(home, prepared.database, port, {**prepared.extra, **extra})
    airflow = AirflowStack(home, env, f"http://127.0.0.1:{port}")
    airflow.start("api-server")
    return airflow


@pytest.fixture(scope="module")
def plugin_stack(prepared: Prepared) -> Iterator[PluginStack]:
    """An api-server with the plugin and a login (user `reader`, role viewer), and a session
    logged in with the user's password."""
    passwords = prepared.root / "passwords.json"
    password = os.urandom(12).hex()
    passwords.write_text(json.dumps({"reader": password}), encoding="utf-8")
    airflow = start_api_server(
        prepared,
        "with-login",
        {
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "reader:viewer",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        },
    )
    try:
        http = requests.Session()
        login = http.post(
            f"{airflow.api_url}/auth/token",
            json={"username": "reader", "password": password},
            timeout=30,
        )
        assert login.status_code == 201, login.text
        http.cookies.set("_token", login.json()["access_token"])
        yield PluginStack(airflow, Path(prepared.extra["NEWSFLOW_DATA"]), http)
        http.close()
    finally:
        airflow.stop()


@pytest.fixture(scope="module")
def open_stack(prepared: Prepared) -> Iterator[AirflowStack]:
    """An api-server as `make airflow` runs it: every visitor is an admin (local use only);
    the browser logs in through /auth/token/login, which sets the UI's session cookie."""
    airflow = start_api_server(prepared, "all-admins", {})
    try:
        yield airflow
    finally:
        airflow.stop()


def test_the_plugin_is_listed_and_starts_cleanly(plugin_stack: PluginStack) -> None:
    airflow = plugin_stack.airflow
    listed = json.loads(airflow_cli(airflow.env, "plugins", "--output", "json"))
    (plugin,) = [p for p in listed if p["name"] == "newsflow"]
    assert "/newsflow" in str(plugin["fastapi_apps"])
    response = plugin_stack.http.get(f"{airflow.api_url}/api/v2/plugins", timeout=30)
    (served,) = [p for p in response.json()["plugins"] if p["name"] == "newsflow"]
    assert served["external_views"][0]["href"] == "newsflow/sources"
    log = airflow.services[0].log
    failures = [
        line
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines()
        if "ERROR" in line or "Traceback" in line
    ]
    assert not failures, tail(log)


@pytest.mark.parametrize("page", PAGES)
def test_anonymous_and_forged_requests_are_refused(plugin_stack: PluginStack, page: str) -> None:
    url = f"{plugin_stack.airflow.api_url}/newsflow/{page}"
    assert requests.get(url, timeout=30).status_code == 401
    forged = requests.get(url, cookies={"_token": "not.a.jwt"}, timeout=30)
    assert forged.status_code == 403
    bearer = requests.get(url, headers={"Authorization": "Bearer x.y.z"}, timeout=30)
    assert bearer.status_code == 403
    assert "Log in to Airflow" in forged.text


def test_sources(plugin_stack: PluginStack) -> None:
    page = plugin_stack.get("sources").text
    assert 'href="../dags/news_ingest__harbour-gazette"' in page
    assert 'id="source-limited-times"' in page and 'id="source-harbour-gazette"' in page
    assert "warning: extraction" in page and "limited-times: 50% short bodies" in page
    assert '<svg class="bars"' in page
    one = plugin_stack.get("sources", params={"source": "limited-times"}).text
    assert 'id="source-limited-times"' in one and 'id="source-harbour-gazette"' not in one
    assert 'class="chosen"' in one


def test_articles_and_one_article(plugin_stack: PluginStack) -> None:
    page = plugin_stack.get("articles").text
    assert "6 articles" in page and "Port authority signs crane contract" in page
    copies = plugin_stack.get("articles", params={"copies": "true"}).text
    assert "1 article;" in copies and "limited-times" in copies
    by_topic = plugin_stack.get("articles", params={"topic": "politics"}).text
    assert "1 article;" in by_topic and "Lukashenko" in by_topic
    small = plugin_stack.get("articles", params={"size": "2", "page": "2"}).text
    assert "page 2 of 3" in small and 'href="articles?page=3&amp;size=2"' in small

    listed = plugin_stack.get("articles", params={"copies": "true", "source": "limited-times"})
    copy_id = listed.text.split('href="articles/', 1)[1].split('"', 1)[0]
    article = plugin_stack.get(f"articles/{copy_id}").text
    for shown in ("date_source: meta", "title_source:", "authors_source:", "(extractor: "):
        assert shown in article, shown
    assert "harbour-gazette" in article and "original" in article  # the other copy of its story


def test_stories(plugin_stack: PluginStack) -> None:
    page = plugin_stack.get("stories", params={"day": DAY}).text
    assert "Stories of 2023-04-06" in page and "first published" in page and "republished" in page
    first, republished = page.index("harbour-gazette"), page.index("limited-times")
    assert first < republished
    empty = plugin_stack.get("stories", params={"day": "2023-04-05"}).text
    assert "was told by more than one article" in empty


def test_quarantine(plugin_stack: PluginStack) -> None:
    page = plugin_stack.get("quarantine").text
    for reason in ("http_404", "not_html", "robots_disallowed"):
        assert reason in page
    one = plugin_stack.get("quarantine", params={"reason": "http_404"}).text
    rows = one.split('<table class="rows">', 1)[1]
    assert "http_404" in rows and "not_html" not in rows and "(1 in all;" in one


def test_reports(plugin_stack: PluginStack) -> None:
    page = plugin_stack.get("reports").text
    assert f'href="reports/{DAY}/report.html"' in page
    report = plugin_stack.get(f"reports/{DAY}/report.html")
    assert report.status_code == 200 and "newsflow: the 14 days to 2023-04-06" in report.text
    chart = plugin_stack.get(f"reports/{DAY}/stories.png")
    assert chart.headers["content-type"] == "image/png" and chart.content[:4] == b"\x89PNG"
    assert plugin_stack.get(f"reports/{DAY}/missing.png").status_code == 404


@pytest.mark.parametrize(
    ("path", "status", "said"),
    [
        ("articles?from=2023-02-30", 422, "from: "),
        ("articles?from=2023-04-07&to=2023-04-01", 422, "is after to=2023-04-01"),
        ("articles?size=100000", 422, "size: "),
        ("articles?source=%3Cscript%3E", 422, "source: "),
        ("articles/ZZ", 422, "16 hexadecimal digits"),
        ("articles/ffffffffffffffff", 404, "No article with id ffffffffffffffff"),
        ("stories?day=yesterday", 422, "day: "),
        ("quarantine?reason=DROP%20TABLE", 422, "reason: "),
        ("reports/2023-04-06/..%2F..%2Fstate%2Fcrawl.sqlite", 404, ""),
        ("reports/not-a-day/report.html", 422, "day: "),
    ],
)
def test_bad_input_is_a_clear_answer(
    plugin_stack: PluginStack, path: str, status: int, said: str
) -> None:
    response = plugin_stack.get(path)
    assert response.status_code == status, response.text[-500:]
    assert said in response.text and "Traceback" not in response.text


def test_markup_from_a_page_is_text(plugin_stack: PluginStack) -> None:
    page = plugin_stack.get(f"articles/{HOSTILE_ID}").text
    assert "&lt;script&gt;document.title=" in page and "&lt;img src=x onerror=" in page
    assert "<script>" not in page and "<img src=x" not in page
    assert 'href="javascript:' not in page  # its URL is shown, not linked
    listed = plugin_stack.get("articles").text
    assert "&lt;script&gt;" in listed and "<script>" not in listed


def test_the_browser_renders_the_pages(
    chromium: str, open_stack: AirflowStack, tmp_path: Path
) -> None:
    base = open_stack.api_url

    def login_to(path: str) -> str:
        from urllib.parse import quote

        return f"{base}/auth/token/login?next={quote('/' + path, safe='/')}"

    sources = run_chromium(chromium, ["--dump-dom", login_to("newsflow/sources")], tmp_path)
    assert 'id="source-harbour-gazette"' in sources, sources[-2000:]
    article = run_chromium(
        chromium, ["--dump-dom", login_to(f"newsflow/articles/{HOSTILE_ID}")], tmp_path
    )
    assert "<title>newsflow: &lt;script&gt;" in article, article[:2000]
    assert '<h1 class="title">&lt;script&gt;document.title=' in article
    assert '<img src="x"' not in article
    # every page, with a filter, as the browser renders it
    for path, shown in [
        ("newsflow/sources?source=limited-times", 'class="chosen"'),
        ("newsflow/articles?topic=politics", "Lukashenko"),
        ("newsflow/articles?copies=true&source=limited-times", "1 article;"),
        (f"newsflow/stories?day={DAY}", "first published"),
        ("newsflow/quarantine?reason=http_404", "(1 in all;"),
        ("newsflow/reports", f'href="reports/{DAY}/report.html"'),
    ]:
        dom = run_chromium(chromium, ["--dump-dom", login_to(path)], tmp_path)
        assert shown in dom, (path, dom[-2000:])
    for name, path in [
        ("sources.png", "newsflow/sources"),
        ("articles.png", "newsflow/articles"),
        ("stories.png", f"newsflow/stories?day={DAY}"),
        ("quarantine.png", "newsflow/quarantine"),
        ("reports.png", "newsflow/reports"),
        ("article.png", f"newsflow/articles/{HOSTILE_ID}"),
        ("in-the-ui.png", "plugin/newsflow"),
    ]:
        shot = tmp_path / name
        run_chromium(chromium, [f"--screenshot={shot}", login_to(path)], tmp_path)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"no screenshot at {shot}"
