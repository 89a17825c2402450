"""newsflow's pages in the Airflow UI: an Airflow plugin (ingest/ui/plugin.py) whose FastAPI
app (ingest/ui/app.py) the api-server mounts at /newsflow."""
