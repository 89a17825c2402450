"""The Airflow Assets the DAGs update and follow, declared once for every DAG file.

Their names and URIs are constants: an Asset whose URI changed with the environment would
leave the old one inactive and fail the runs that still named it. Here rather than beside
the DAG files: a plain DagBag (the tests', `airflow dags test`'s) does not put the dags
folder on sys.path, and a module there would be parsed as a DAG file too.
"""

from __future__ import annotations

from airflow.sdk import Asset

# updated by every ingest run (extra: the run's counts) and by news_reprocess; news_daily follows it
ARTICLES = Asset(name="newsflow_articles", uri="newsflow://articles")
# updated by news_daily's report (extra: the report's path)
REPORT = Asset(name="newsflow_report", uri="newsflow://reports")
