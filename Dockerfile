# Airflow's image with newsflow installed (used by docker-compose.yml). The image already has the
# Celery, Redis and PostgreSQL providers the compose stack uses.
FROM apache/airflow:3.3.2-python3.11
COPY --chown=airflow:root pyproject.toml constraints.txt ner-models.txt README.md /opt/newsflow/
COPY --chown=airflow:root ingest /opt/newsflow/ingest
COPY --chown=airflow:root transforms /opt/newsflow/transforms
COPY --chown=airflow:root demo /opt/newsflow/demo
COPY --chown=airflow:root sources.yaml /opt/newsflow/sources.yaml
# with spaCy and the pinned English and French pipelines (people and organisations; leave
# the second line out, or set entity_models: rules, for the rules alone)
RUN pip install --no-cache-dir -c /opt/newsflow/constraints.txt -e '/opt/newsflow[ner]' \
 && pip install --no-cache-dir --no-deps --require-hashes -r /opt/newsflow/ner-models.txt
