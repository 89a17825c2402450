"""What every Airflow task of a newsflow deployment pays before its own work: the CPU of a
task process's start, measured as Airflow's task runner does it.

In a fresh interpreter (as each task runs): import the task runner, load the plugins (the
task runner does, for its listeners: newsflow's plugin among them), then parse
dags/news_ingest.py with the parsing context naming one source's DAG, from a sources file
of --sources sources. Prints the median CPU seconds of each step over --repeat processes
and which heavy modules the start left loaded. Not a test.

    .venv/bin/python benchmarks/task_start.py [--sources 100] [--repeat 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import json, os, runpy, sys, time
started = time.process_time()
import airflow.sdk.execution_time.task_runner
from airflow.listeners.listener import get_listener_manager
get_listener_manager()  # loads the plugins
loaded = time.process_time()
os.environ["_AIRFLOW_PARSING_CONTEXT_DAG_ID"] = sys.argv[2]
os.environ["_AIRFLOW_PARSING_CONTEXT_TASK_ID"] = "fetched_pages"
runpy.run_path(sys.argv[1])
parsed = time.process_time()
heavy = [m for m in ("pyarrow", "pandas", "fastapi", "ingest.ui.app") if m in sys.modules]
print(json.dumps([loaded - started, parsed - loaded, heavy]))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="newsflow-task-start-") as tmp:
        sources = Path(tmp) / "sources.yaml"
        sources.write_text(
            "sources:\n"
            + "".join(
                f"  - id: s{n}\n    feeds: [https://example.org/{n}.xml]\n"
                for n in range(args.sources)
            ),
            encoding="utf-8",
        )
        env = {**os.environ, "NEWSFLOW_SOURCES": str(sources)}
        runs = []
        for _ in range(args.repeat):
            out = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    PROBE,
                    str(ROOT / "dags" / "news_ingest.py"),
                    "news_ingest__s7",
                ],
                capture_output=True,
                text=True,
                check=True,
                env=env,
                cwd=tmp,  # (not the checkout: its build metadata would be found twice)
            )
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    plugins = statistics.median(r[0] for r in runs)
    parse = statistics.median(r[1] for r in runs)
    print(
        f"task start, CPU seconds (median of {args.repeat}): Airflow's task runner and the "
        f"plugins {plugins:.2f}, parsing news_ingest.py for one of {args.sources} sources "
        f"{parse:.2f}, total {plugins + parse:.2f}; left loaded: "
        f"{', '.join(runs[-1][2]) or 'none of pyarrow, pandas, fastapi, the pages'} "
        f"({dt.datetime.now(dt.UTC):%Y-%m-%d})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
