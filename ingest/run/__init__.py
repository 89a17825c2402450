"""Run: the five stages as the command line and the DAG tasks call them (`stages`), the
per-item steps, run metrics and failure records, work files, reprocessing from WARC."""
