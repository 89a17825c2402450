"""What happens when an Airflow task of an ingest DAG fails.

`task_failed` records the failure in the run metrics (DATA/runs/, status "failed", the task
and the error), then hands the context to the notifiers named in NEWSFLOW_FAILURE_NOTIFIERS:
a comma-separated list of `module:attribute` paths, each a callable taking the Airflow
context — an Airflow notifier instance (SlackNotifier, SmtpNotifier, ... from their
provider packages) or a function. The providers are not dependencies of this project:
install the one you use and point the variable at an object you define, e.g.
`NEWSFLOW_FAILURE_NOTIFIERS=my_alerts:slack` with `slack = SlackNotifier(...)` in my_alerts.py
on the workers' PYTHONPATH. A notifier that fails is logged and does not hide the others.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable
from typing import Any

NOTIFIERS_ENV = "NEWSFLOW_FAILURE_NOTIFIERS"
log = logging.getLogger(__name__)


def task_failed(source_id: str, context: Any) -> None:
    """on_failure_callback of the ingest DAGs (bound to their source with functools.partial)."""
    from ingest.config import data_root, load_sources, sources_path
    from ingest.run.metrics import record_failure
    from ingest.run.model import Run
    from transforms.commit import locked

    try:
        config = load_sources(sources_path())
        (source,) = config.select([source_id])
        start = context.get("data_interval_start") or context.get("logical_date")
        end = context.get("data_interval_end") or start
        run = Run(run_id=str(context["run_id"]), start=start, end=end)
        task = context.get("task_instance") or context.get("ti")
        root = data_root(remote=True)
        locked(
            root,
            lambda: record_failure(
                root, source, run, getattr(task, "task_id", "unknown"), context.get("exception")
            ),
        )
    except Exception:
        log.exception("newsflow: could not record the failure of %s in the run metrics", source_id)
    notify(context)


def notify(context: Any) -> None:
    for notifier in _notifiers():
        try:
            notifier(context)
        except Exception:
            log.exception("newsflow: failure notifier %r failed", notifier)


def _notifiers() -> list[Callable[[Any], None]]:
    found = []
    for spec in filter(None, (s.strip() for s in os.environ.get(NOTIFIERS_ENV, "").split(","))):
        module, _, attribute = spec.partition(":")
        try:
            found.append(getattr(importlib.import_module(module), attribute))
        except (ImportError, AttributeError, ValueError):
            log.exception("newsflow: %s names %r, which cannot be imported", NOTIFIERS_ENV, spec)
    return found
