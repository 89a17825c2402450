"""docker-compose.yml is validated, not run (no Docker engine on the build machines)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT

COMPOSE = ROOT / "docker-compose.yml"


def load() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_compose_file_matches_the_compose_spec() -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_has_the_airflow_3_services_and_consistent_references() -> None:
    data = load()
    services = data["services"]
    assert {
        "postgres",
        "redis",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-worker",
        "airflow-triggerer",
        "airflow-init",
    } <= set(services)
    for name, service in services.items():
        depends = service.get("depends_on", {})
        for dependency in depends if isinstance(depends, list) else depends.keys():
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            condition = {} if isinstance(depends, list) else depends[dependency]
            if condition.get("condition") == "service_healthy":  # else compose never starts it
                assert "healthcheck" in services[dependency], (
                    f"{name} waits for {dependency}'s health"
                )
    named_volumes = set(data.get("volumes") or {})
    for name, service in services.items():
        for volume in service.get("volumes", []):
            variable = re.match(r"^\$\{[A-Z_]+:-([^}]*)\}", volume)  # ${VAR:-default}:target
            source = variable.group(1) if variable else volume.split(":", 1)[0]
            if source.startswith("."):
                assert source == "./data" or (ROOT / source).exists(), (
                    f"{name} mounts missing {source}"
                )
            else:
                assert source in named_volumes, f"{name} uses undeclared volume {source}"


def test_airflow_services_share_one_configuration() -> None:
    services = load()["services"]
    airflow = {k: v for k, v in services.items() if k.startswith("airflow-") or k == "flower"}
    for name, service in airflow.items():
        env = service["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://:@redis:6379/"), name
        assert "@postgres/airflow" in env["AIRFLOW__CELERY__RESULT_BACKEND"], name
        assert "@postgres/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], name
        assert {"redis", "postgres"} <= set(service["depends_on"]), name
        assert "airflow-logs:/opt/airflow/logs" in service["volumes"], (
            name
        )  # the UI reads task logs
        # the dataset on the object store; each container works in its own mirror of it
        assert env["NEWSFLOW_DATA"] == "s3://newsflow/lake", name
        assert env["AWS_ENDPOINT_URL"] == "http://s3:8333", name
        assert not any(":/opt/airflow/data" in v for v in service["volumes"]), name
        assert env["NEWSFLOW_CACHE_DIR"].startswith("/opt/airflow/"), name
        assert "s3" in service["depends_on"], name
        assert env["NEWSFLOW_STATE_URL"].endswith("@postgres/newsflow"), name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith(
            "http://airflow-apiserver:8080"
        ), name
        assert "./dags:/opt/airflow/dags" in service["volumes"], name
        assert service["build"]["dockerfile"] == "Dockerfile" and (ROOT / "Dockerfile").exists()


def test_celery_worker_runs_the_tasks_without_a_shared_data_volume() -> None:
    services = load()["services"]
    worker = services["airflow-worker"]
    assert worker["command"] == "celery worker"
    assert all(
        v.split(":", 1)[0] in load()["volumes"] or v.startswith("./dags") or ".yaml" in v
        for v in worker["volumes"]
    )  # logs, config, the DAGs and the sources file only
    assert (
        worker["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"
    )  # execution API
    assert "celery_executor.app inspect ping" in " ".join(worker["healthcheck"]["test"])


def test_the_object_store_service_has_the_keys_the_airflow_services_use() -> None:
    import json

    services = load()["services"]
    s3 = services["s3"]
    assert "-s3.port=8333" in s3["command"] and "/healthz" in " ".join(s3["healthcheck"]["test"])
    mount = next(v for v in s3["volumes"] if v.endswith("/etc/seaweedfs/identities.json:ro"))
    identities = json.loads((ROOT / mount.split(":")[0]).read_text(encoding="utf-8"))
    (credentials,) = identities["identities"][0]["credentials"]
    env = services["airflow-worker"]["environment"]
    assert (credentials["accessKey"], credentials["secretKey"]) == (
        env["AWS_ACCESS_KEY_ID"],
        env["AWS_SECRET_ACCESS_KEY"],
    )
    script = "\n".join(services["airflow-init"]["command"])
    assert 'create_dir("newsflow")' in script  # the bucket of NEWSFLOW_DATA


def test_init_writes_the_login_the_api_server_reads() -> None:
    """The simple auth manager has no `users create`: the init service writes its passwords file."""
    services = load()["services"]
    init, api = services["airflow-init"], services["airflow-apiserver"]
    script = "\n".join(init["command"])
    assert "_AIRFLOW_WWW_USER_CREATE" not in init["environment"]
    assert "SIMPLE_AUTH_MANAGER_PASSWORDS_FILE" in script and "_AIRFLOW_WWW_USER_PASSWORD" in script
    assert init["environment"]["_AIRFLOW_DB_MIGRATE"] == "true"
    passwords = api["environment"]["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
    assert passwords.startswith("/opt/airflow/config/")
    assert "airflow-config:/opt/airflow/config" in api["volumes"]
    assert api["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def test_the_crawl_state_has_its_own_database_which_postgres_creates() -> None:
    postgres = load()["services"]["postgres"]
    init = next(v for v in postgres["volumes"] if v.split(":")[1] == "/docker-entrypoint-initdb.d")
    scripts = sorted((ROOT / init.split(":")[0]).glob("*.sql"))
    created = " ".join(p.read_text(encoding="utf-8") for p in scripts)
    assert "CREATE DATABASE newsflow;" in created
    assert postgres["environment"]["POSTGRES_DB"] != "newsflow"  # not Airflow's metadata DB
