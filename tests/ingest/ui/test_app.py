"""The plugin's pages in-process, on an empty data root: registration, the login every route
requires, parameter validation, escaping helpers and relative links (the pages with data are
tests/integration/test_plugin.py, on a real api-server)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ingest.ui.app import bars, create_app, query_string, web_link
from tests.conftest import ROOT

ROUTES = ["sources", "articles", "articles/0123456789abcdef", "stories", "quarantine", "reports"]


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The app on an empty data root, with a user (the api-server's login is not running)."""
    from airflow.api_fastapi.core_api.security import get_user

    monkeypatch.setenv("NEWSFLOW_DATA", str(tmp_path))
    app = create_app()
    app.dependency_overrides[get_user] = lambda: object()
    with TestClient(app) as client:
        yield client


def test_installing_the_package_registers_the_plugin() -> None:
    from airflow.plugins_manager import AirflowPlugin

    from ingest.ui.plugin import NewsflowPlugin

    entry = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    assert entry["airflow.plugins"] == {"newsflow": "ingest.ui.plugin:NewsflowPlugin"}
    assert issubclass(NewsflowPlugin, AirflowPlugin)
    (app,) = NewsflowPlugin.fastapi_apps
    assert app["url_prefix"] == "/newsflow"
    (view,) = NewsflowPlugin.external_views
    assert not view["href"].startswith("/")  # resolved against the UI's base URL


def test_the_plugins_app_is_built_when_first_called(tmp_path: Path) -> None:
    # Airflow imports the plugin in every task process: importing it builds no app and loads
    # neither FastAPI nor the pages (nor pyarrow: tests/ingest/test_arrow_memory.py)
    code = (
        "import json, sys\nimport ingest.ui.plugin\n"
        "print(json.dumps(sorted(m for m in ('fastapi', 'ingest.ui.app') if m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
    from ingest.ui.plugin import PagesApp

    pages = PagesApp()
    with TestClient(pages) as client:  # (as the api-server mounts it)
        response = client.get("/sources")
        assert response.status_code == 401  # the pages' own check: the app was built
        assert "Log in to Airflow" in response.text
        built = pages.built()
        assert client.get("/sources").status_code == 401
    assert pages.built() is built  # once


@pytest.mark.parametrize("route", ROUTES)
def test_every_route_requires_a_user(route: str, tmp_path: Path) -> None:
    client = TestClient(create_app())
    response = client.get(f"/{route}")
    assert response.status_code == 401
    assert "Log in to Airflow" in response.text


@pytest.mark.parametrize("route", ["sources", "articles", "stories", "quarantine", "reports"])
def test_pages_of_an_empty_data_root(client: TestClient, route: str) -> None:
    response = client.get(f"/{route}")
    assert response.status_code == 200, response.text
    assert "script-src 'none'" in response.headers["content-security-policy"]


def test_a_missing_data_root_is_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.api_fastapi.core_api.security import get_user

    monkeypatch.setenv("NEWSFLOW_DATA", str(tmp_path / "nowhere"))
    app = create_app()
    app.dependency_overrides[get_user] = lambda: object()
    response = TestClient(app).get("/sources")
    assert response.status_code == 503 and "does not exist yet" in response.text


@pytest.mark.parametrize(
    "query",
    ["page=0", "size=201", "from=2023-13-01", "language=english", "topic=%3Cb%3E", "copies=maybe"],
)
def test_bad_parameters_are_422(client: TestClient, query: str) -> None:
    response = client.get(f"/articles?{query}")
    assert response.status_code == 422
    assert query.split("=")[0] + ":" in response.text


def test_links_are_relative(client: TestClient) -> None:
    top = client.get("/sources").text
    assert 'href="articles"' in top and 'href="/' not in top
    deep = client.get("/articles/0123456789abcdef").text  # a 404 page, one level down
    assert 'href="../articles"' in deep
    redirect = client.get("/", follow_redirects=False)
    assert redirect.headers["location"] == "sources"


def test_helpers() -> None:
    assert web_link("https://example.org/a") == "https://example.org/a"
    assert web_link("javascript:alert(1)") is None and web_link(" JavaScript:x") is None
    assert web_link(None) is None and web_link("java\tscript:x") is None
    assert query_string(source="a b", page=2, copies=True, topic=None, place="") == (
        "?source=a+b&page=2&copies=1"
    )
    assert [b["h"] for b in bars([0, 5, 10], height=20)] == [0.0, 10.0, 20.0]
    assert bars([]) == []


def test_the_article_filters_values_are_read_again_only_when_the_articles_change(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest.ui import queries
    from tests.transforms.test_dedup import STORIES, row
    from tests.transforms.test_index import commit

    computed: list[dict[str, list[str]]] = []
    real = queries.choices

    def counting(con: object) -> dict[str, list[str]]:
        computed.append(real(con))
        return computed[-1]

    monkeypatch.setattr(queries, "choices", counting)
    commit(
        tmp_path, [row("https://a.example/one", STORIES["wire"], source_id="alpha")], "alpha", "r1"
    )
    for _ in range(3):
        assert client.get("/articles").status_code == 200
    assert len(computed) == 1 and computed[0]["sources"] == ["alpha"]
    commit(
        tmp_path, [row("https://b.example/two", STORIES["brief"], source_id="beta")], "beta", "r2"
    )
    page = client.get("/articles")
    assert len(computed) == 2 and computed[1]["sources"] == ["alpha", "beta"]
    assert "<option>beta</option>" in page.text
