-- The crawl state's own database (NEWSFLOW_STATE_URL in docker-compose.yml), beside Airflow's
-- metadata database: validators, seen URLs, robots.txt cache and the per-host rate limiter
-- shared by every Celery worker. newsflow creates its tables on first use.
CREATE DATABASE newsflow;
