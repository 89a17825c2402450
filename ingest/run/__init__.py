"""Run: the five stages as the command line and the DAG tasks call them (`stages`), the
per-item steps, run metrics and failure records, work files, reprocessing from WARC.

Arrow's allocator. The processes that run the pipeline import this package before pyarrow:
the `newsflow` command (ingest/cli.py imports it first), its worker processes, and the
Airflow tasks of newsflow's DAGs (each DAG file imports `ingest.run.assets` when it is
parsed, before a task runs). Their Arrow memory then comes from the system allocator instead
of pyarrow's default, mimalloc, which keeps the pages of freed buffers: measured by
benchmarks/memory.py, a 5,000-item source run peaked 60 MiB higher with it, and the peak
grew with the run's items. The variable counts only when it is set before pyarrow is
imported; a value already set (`ARROW_DEFAULT_MEMORY_POOL=mimalloc` or `jemalloc`) is kept.
The Airflow plugin (ingest/ui) does not import this package, so the tasks of other DAGs in
the same deployment keep their allocator.
"""

import os

if not os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):  # (unset or empty: Arrow's default)
    os.environ["ARROW_DEFAULT_MEMORY_POOL"] = "system"
