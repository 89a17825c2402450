"""The Airflow plugin: the pages' FastAPI app mounted by the api-server at /newsflow, and a
"newsflow" entry in the UI's Browse menu that shows them inside the UI.

Installing the package enables it: pyproject.toml declares it under the `airflow.plugins`
entry point, so `airflow plugins` lists it wherever newsflow is installed (`make install`,
the compose image); no file goes into a plugins folder.

Airflow loads the plugins in every task process of a deployment, newsflow's or not, before
it parses the task's DAG file. So importing this module loads neither pyarrow nor pandas
(the pages import what reads the dataset when they are served), and not `ingest.run`,
which sets the allocator of newsflow's own processes (ingest/run/__init__.py).
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from ingest.ui.app import create_app

URL_PREFIX = "/newsflow"


class NewsflowPlugin(AirflowPlugin):
    name = "newsflow"
    fastapi_apps: list[Any] = [  # noqa: RUF012 - AirflowPlugin's own attributes are plain lists
        {"app": create_app(), "url_prefix": URL_PREFIX, "name": "newsflow pages"}
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
