"""Run: the five stages as the command line and the DAG tasks call them (`stages`), the
per-item steps, run metrics and failure records, work files, reprocessing from WARC.

Importing the package sets the memory allocators of the process (ingest/run/allocator.py):
the processes that run the pipeline import it before pyarrow.
"""

from ingest.run.allocator import configure

configure()
