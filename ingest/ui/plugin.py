"""The Airflow plugin: the pages' FastAPI app mounted by the api-server at /newsflow, and a
"newsflow" entry in the UI's Browse menu that shows them inside the UI.

Installing the package enables it: pyproject.toml declares it under the `airflow.plugins`
entry point, so `airflow plugins` lists it wherever newsflow is installed (`make install`,
the compose image); no file goes into a plugins folder.

Airflow loads the plugins in every task process of a deployment, newsflow's or not, before
it parses the task's DAG file. So importing this module builds nothing and imports little:
the pages' app (FastAPI, the api-server's authentication) is built when the api-server first
hands it a request, which saves every task half a second of CPU; neither pyarrow nor pandas
is imported (the pages import what reads the dataset when they are served); nor is
`ingest.run`, which sets the allocators of newsflow's own processes (ingest/run/allocator.py).
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/newsflow"

Message = MutableMapping[str, Any]


class PagesApp:
    """The pages' ASGI app (ingest.ui.app), built on its first call."""

    def __init__(self) -> None:
        self._app: Any = None
        self._lock = threading.Lock()

    def built(self) -> Any:
        with self._lock:
            if self._app is None:
                from ingest.ui.app import create_app

                self._app = create_app()
            return self._app

    async def __call__(
        self,
        scope: Message,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        await (self._app or self.built())(scope, receive, send)


class NewsflowPlugin(AirflowPlugin):
    name = "newsflow"
    fastapi_apps: list[Any] = [  # noqa: RUF012 - AirflowPlugin's own attributes are plain lists
        {"app": PagesApp(), "url_prefix": URL_PREFIX, "name": "newsflow pages"}
    ]
    external_views: list[Any] = [  # noqa: RUF012
        {
            "name": "newsflow",
            # relative: the UI resolves it against its own base URL (<base href>)
            "href": "newsflow/sources",
            "destination": "nav",
            "category": "browse",
            "url_route": "newsflow",
        }
    ]
