"""The newsflow pages of the Airflow UI: a FastAPI app the api-server mounts at /newsflow
(ingest/ui/plugin.py), rendering HTML on the server from the dataset's DuckDB views.

Read-only: every page opens the views of transforms/query.py (safe mode: nothing but the
views is readable) and binds every request value as a parameter. Every parameter is
validated (a bad one is a 422 page naming it); pages are bounded. Every route requires an
authenticated Airflow user: the api-server's JWT, from its `_token` cookie (the UI's
session) or an `Authorization: Bearer` header, checked by the auth manager
(`airflow.api_fastapi.core_api.security.get_user`); none is a 401, a bad one a 403.
Templates escape every value (autoescape), and every link is relative, so the pages work
under a base path and behind a reverse proxy.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ingest.config import DATA_ENV, SOURCE_ID, ConfigError, data_root, s3_location
from ingest.ui import queries, reports
from transforms.objectstore import S3Location

TEMPLATES = Path(__file__).resolve().parent / "templates"
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_PAGE = 10_000
ARTICLE_ID = r"^[0-9a-f]{16}$"
LANGUAGE = r"^[a-z]{2,3}$"
TAG = r"^[A-Za-z0-9][A-Za-z0-9 ._'-]{0,79}$"  # a topic, or a place (ISO code or city name)
REASON = r"^[a-z0-9_]{1,64}$"
# besides escaping: the pages run no script at all, and only the Airflow UI (same origin)
# may frame them
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "script-src 'none'; object-src 'none'; base-uri 'none'; frame-ancestors 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _authenticated() -> Any:
    """The dependency that requires an Airflow user (imported when the app is built, so that
    importing this module does not load the api-server)."""
    from airflow.api_fastapi.core_api.security import get_user

    return Depends(get_user)


def dataset_root() -> Path | S3Location:
    """The data root the DAGs use: NEWSFLOW_DATA (a folder or an s3:// address)."""
    text = os.environ.get(DATA_ENV, "")
    if text.lower().startswith("s3://"):
        return s3_location(text, f"{DATA_ENV}={text}")
    return data_root()


@contextmanager
def dataset() -> Iterator[Any]:
    """A read-only DuckDB connection with the dataset's views, closed afterwards."""
    from transforms.query import connect

    root = dataset_root()
    if isinstance(root, Path) and not root.is_dir():
        raise HTTPException(
            503, f"The data root {root} does not exist yet: no ingest has written to it."
        )
    con = connect(root)
    try:
        yield con
    finally:
        con.close()


_CHOICES: dict[str, tuple[tuple[Any, ...], dict[str, list[str]]]] = {}  # by data root


def articles_version() -> tuple[Any, ...]:
    """What identifies the stored articles now (transforms.query.table_version): taken
    before the connection that reads them, so that values read from newer files are at
    worst kept under an older version (and read again), never the other way round."""
    from transforms.query import table_version

    return table_version(dataset_root())


def choices(con: Any, version: tuple[Any, ...]) -> dict[str, list[str]]:
    """The article filters' values (queries.choices: four scans of every article), computed
    again only when the stored articles' `version` changed."""
    key = str(dataset_root())
    cached = _CHOICES.get(key)
    if cached is not None and cached[0] == version:
        return cached[1]
    offered = queries.choices(con)
    _CHOICES[key] = (version, offered)
    return offered


def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every value is escaped, whatever the template's name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["web_link"] = web_link
    env.filters["when"] = when
    env.filters["share"] = lambda v: "-" if v is None else f"{v:.0%}"
    env.globals["bars"] = bars
    env.globals["query"] = query_string
    return env


def web_link(url: Any) -> str | None:
    """`url` when it is an http(s) address fit for an href, else None (a `javascript:` URL
    a page listed is shown as text, never as a link)."""
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        return None
    return url if urlsplit(url).netloc else None


def when(value: Any) -> str:
    """A timestamp in UTC to the minute ("2023-04-06 10:05 UTC"); "-" for none."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "-" if value is None else str(value)


def bars(values: list[int], width: int = 112, height: int = 22) -> list[dict[str, float]]:
    """Bar geometry of a small inline SVG chart (x, y, w, h per value), scaled to the
    largest value."""
    top = max(values, default=0) or 1
    step = width / max(len(values), 1)
    out = []
    for k, value in enumerate(values):
        h = round(height * value / top, 1) if value else 0.0
        out.append({"x": round(k * step, 1), "y": height - h, "w": round(step - 1, 1), "h": h})
    return out


def query_string(**params: Any) -> str:
    """`?a=1&b=2` of the parameters that are set (None and False left out)."""
    kept = {k: ("1" if v is True else v) for k, v in params.items() if v not in (None, False, "")}
    return "?" + urlencode(kept) if kept else "?"


def create_app() -> FastAPI:
    """The app; every route behind an authenticated Airflow user."""
    env = _environment()
    app = FastAPI(
        title="newsflow",
        dependencies=[_authenticated()],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    def render(request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
        page = env.get_template(name).render(up=_up(request), **values)
        return HTMLResponse(page, status_code=status, headers=SECURITY_HEADERS)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> HTMLResponse:
        problems = [
            f"{'.'.join(str(p) for p in e['loc'][1:]) or e['loc'][0]}: {e['msg']}"
            for e in exc.errors()
        ]
        return render(request, "error.html", 422, title="Bad request", problems=problems)

    @app.exception_handler(StarletteHTTPException)
    async def failed(request: Request, exc: StarletteHTTPException) -> HTMLResponse:
        titles = {401: "Not logged in", 403: "Not allowed", 404: "Not found"}
        problems = [str(exc.detail)]
        if exc.status_code in (401, 403):
            problems.append("Log in to Airflow, then open this page again.")
        response = render(
            request,
            "error.html",
            exc.status_code,
            title=titles.get(exc.status_code, "Error"),
            problems=problems,
        )
        response.headers.update(exc.headers or {})
        return response

    @app.get("/", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse("sources", status_code=307)  # relative to /newsflow/

    @app.get("/sources", response_class=HTMLResponse)
    def sources_page(
        request: Request,
        source: Annotated[str | None, Query(pattern=SOURCE_ID.pattern, max_length=64)] = None,
    ) -> HTMLResponse:
        today = dt.datetime.now(dt.UTC).date()
        with dataset() as con:
            rows = queries.sources(con, today)
        if source is not None:
            rows = [r for r in rows if r["source_id"] == source]
        return render(request, "sources.html", rows=rows, source=source, days=queries.SPARK_DAYS)

    @app.get("/articles", response_class=HTMLResponse)
    def articles_page(
        request: Request,
        source: Annotated[str | None, Query(pattern=SOURCE_ID.pattern, max_length=64)] = None,
        since: Annotated[dt.date | None, Query(alias="from")] = None,
        until: Annotated[dt.date | None, Query(alias="to")] = None,
        language: Annotated[str | None, Query(pattern=LANGUAGE)] = None,
        topic: Annotated[str | None, Query(pattern=TAG)] = None,
        place: Annotated[str | None, Query(pattern=TAG)] = None,
        copies: bool = False,
        page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
        size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = PAGE_SIZE,
    ) -> HTMLResponse:
        if since and until and since > until:
            raise RequestValidationError(
                [{"loc": ("query", "from"), "msg": f"{since} is after to={until}", "type": "value"}]
            )
        chosen = queries.ArticleFilter(source, since, until, language, topic, place, copies)
        version = articles_version()
        with dataset() as con:
            total, rows = queries.articles(con, chosen, page, size)
            offered = choices(con, version)
        params = {
            "source": source,
            "from": since,
            "to": until,
            "language": language,
            "topic": topic,
            "place": place,
            "copies": copies,
            "size": size if size != PAGE_SIZE else None,
        }
        pages = max(1, -(-total // size))
        return render(
            request,
            "articles.html",
            rows=rows,
            total=total,
            page=page,
            pages=pages,
            params=params,
            offered=offered,
        )

    @app.get("/articles/{article_id}", response_class=HTMLResponse)
    def article_page(
        request: Request,
        article_id: Annotated[str, Depends(_article_id)],
    ) -> HTMLResponse:
        with dataset() as con:
            found = queries.article(con, article_id)
            if found is None:
                raise HTTPException(404, f"No article with id {article_id}.")
            others = queries.copies(con, found["story_id"], article_id)
        fields = [
            (name, value, queries.PROVENANCE.get(name))
            for name, value in found.items()
            if name not in queries.HIDDEN_COLUMNS
        ]
        return render(
            request,
            "article.html",
            article=found,
            fields=fields,
            others=others,
            evidence=found.get("tag_evidence") or [],
        )

    @app.get("/stories", response_class=HTMLResponse)
    def stories_page(request: Request, day: dt.date | None = None) -> HTMLResponse:
        with dataset() as con:
            chosen = day or queries.latest_day(con)
            rows = queries.stories(con, chosen) if chosen else []
        return render(request, "stories.html", rows=rows, day=chosen)

    @app.get("/quarantine", response_class=HTMLResponse)
    def quarantine_page(
        request: Request,
        reason: Annotated[str | None, Query(pattern=REASON)] = None,
        source: Annotated[str | None, Query(pattern=SOURCE_ID.pattern, max_length=64)] = None,
        page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    ) -> HTMLResponse:
        today = dt.datetime.now(dt.UTC).date()
        with dataset() as con:
            reasons = queries.quarantine_reasons(con)
            days, summary = queries.quarantine_summary(con, today, reason)
            total, rows = queries.quarantined(con, reason, source, page, PAGE_SIZE)
        return render(
            request,
            "quarantine.html",
            reasons=reasons,
            reason=reason,
            source=source,
            days=days,
            summary=summary,
            total=total,
            rows=rows,
            page=page,
            pages=max(1, -(-total // PAGE_SIZE)),
        )

    @app.get("/reports", response_class=HTMLResponse)
    def reports_page(
        request: Request,
    ) -> HTMLResponse:
        return render(request, "reports.html", days=reports.report_days(dataset_root()))

    @app.get("/reports/{day}/{name}")
    def report_file(day: dt.date, name: Annotated[str, Depends(_report_file_name)]) -> Response:
        body = reports.report_file(dataset_root(), day, name)
        if body is None:
            raise HTTPException(404, f"No file {name} in the report of {day}.")
        kind = reports.MEDIA_TYPES[name.rsplit(".", 1)[1]]
        return Response(body, media_type=kind, headers=SECURITY_HEADERS)

    @app.exception_handler(ConfigError)
    async def misconfigured(request: Request, exc: ConfigError) -> HTMLResponse:
        return render(request, "error.html", 503, title="Not configured", problems=[str(exc)])

    return app


def _up(request: Request) -> str:
    """The relative way up from a page to the app's root ("" for /newsflow/sources, "../"
    for /newsflow/articles/<id>): links never name the mount point or a base path."""
    path, root = str(request.scope["path"]), str(request.scope.get("root_path", ""))
    inside = path[len(root) :] if root and path.startswith(root) else path
    return "../" * max(inside.count("/") - 1, 0)


def _article_id(article_id: str) -> str:
    if not re.match(ARTICLE_ID, article_id):
        raise RequestValidationError(
            [
                {
                    "loc": ("path", "article_id"),
                    "msg": "an article id is 16 hexadecimal digits",
                    "type": "value",
                }
            ]
        )
    return article_id


def _report_file_name(name: str) -> str:
    if not reports.FILE_NAME.match(name):
        raise RequestValidationError(
            [
                {
                    "loc": ("path", "name"),
                    "msg": "a report file is report.html or a chart's .png",
                    "type": "value",
                }
            ]
        )
    return name
