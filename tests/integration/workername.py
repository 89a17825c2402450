"""The hostname Airflow records for a task instance, per Celery worker: two workers on one
test machine would otherwise both record the machine's name (see AirflowStack.start_worker)."""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    return os.environ.get("NEWSFLOW_TEST_WORKER") or socket.getfqdn()
