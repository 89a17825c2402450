"""newsflow's pipeline: sources, discovery, fetch, extraction, the run's stages, the CLI.

Every newsflow process (the `newsflow` command, its worker processes, the DAG files and so
the Airflow tasks, the UI) imports this package before pyarrow. Arrow's memory then comes
from the system allocator instead of pyarrow's default (mimalloc), which keeps the pages
of freed buffers: measured by benchmarks/memory.py, a 5,000-item source run peaked 60 MiB
higher with it, and the peak grew with the run's items. The environment variable is read
once, when Arrow first allocates; a value already set (`ARROW_DEFAULT_MEMORY_POOL=mimalloc`
or `jemalloc`) is kept.
"""

import os

os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
