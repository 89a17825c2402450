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
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "airflow-init",
    } <= set(services)
    for name, service in services.items():
        depends = service.get("depends_on", {})
        for dependency in depends if isinstance(depends, list) else depends.keys():
            assert dependency in services, f"{name} depends on unknown service {dependency}"
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
    airflow = {k: v for k, v in services.items() if k.startswith("airflow-")}
    for name, service in airflow.items():
        env = service["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor", name
        assert env["NEWSFLOW_DATA"] == "/opt/airflow/data", name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith(
            "http://airflow-apiserver:8080"
        ), name
        assert "./dags:/opt/airflow/dags" in service["volumes"], name
        assert service["build"]["dockerfile"] == "Dockerfile" and (ROOT / "Dockerfile").exists()
