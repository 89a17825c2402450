"""The Airflow UI, rendered by headless Chromium, lists the project's DAGs.

The REST API can say a DAG is serialised while the UI still fails to show it (a broken
`doc_md`, a tag the UI cannot render, a front-end error): only a browser that runs the UI's
JavaScript sees what a user sees. A screenshot of the page is kept in the test's folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from ingest.config import load_sources
from tests.conftest import ROOT
from tests.integration.conftest import Stack
from tests.integration.harness import signal_group

pytestmark = [pytest.mark.airflow, pytest.mark.integration]

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


@pytest.fixture
def chromium() -> str:
    """The Chromium binary (NEWSFLOW_CHROMIUM, else the PATH); skips the test without one."""
    for name in (os.environ.get("NEWSFLOW_CHROMIUM"), "chromium", "chromium-browser"):
        found = shutil.which(name) if name else None
        if found:
            return found
    pytest.skip(f"Chromium not found: {INSTALL_HINT}")


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


def test_ui_lists_the_project_dags(chromium: str, airflow_stack: Stack, tmp_path: Path) -> None:
    airflow = airflow_stack.airflow
    dag_ids = [f"news_ingest__{s.id}" for s in load_sources(airflow_stack.sources).sources]
    dag_ids += [p.stem for p in (ROOT / "dags").glob("news_daily.py")]  # the DAGs beside them
    for dag_id in dag_ids:
        airflow.wait_for_dag(dag_id)
    page = f"{airflow.api_url}/dags"

    dom = run_chromium(chromium, ["--dump-dom", page], tmp_path)
    missing = [dag_id for dag_id in dag_ids if dag_id not in dom]
    assert not missing, f"{missing} not in the rendered DAG list:\n{dom[-3000:]}"

    screenshot = tmp_path / "dags.png"
    run_chromium(chromium, [f"--screenshot={screenshot}", page], tmp_path)
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"no screenshot at {screenshot}"
