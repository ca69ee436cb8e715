"""Shared fixtures: an isolated Airflow home and the Bombora sandbox on a loopback port.

Airflow reads its configuration when first imported, so the environment is set here, at
collection time, before any test module imports Airflow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

_airflow_home = tempfile.mkdtemp(prefix="bombora-tests-airflow-home-")
os.environ["AIRFLOW_HOME"] = _airflow_home
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO_ROOT / "dags")
os.environ["AIRFLOW__CORE__TEST_CONNECTION"] = "Enabled"
os.environ.pop("AIRFLOW_CONN_BOMBORA_DEFAULT", None)

# Waits in retries are real in the code; tests shorten them with the documented setting.
os.environ.setdefault("BOMBORA_RETRY_WAIT_MULTIPLIER", "0.01")


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """A migrated sqlite metadata DB in the tests' AIRFLOW_HOME (needed by dag.test())."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    return _airflow_home


@pytest.fixture(scope="session")
def sandbox_server():
    """One sandbox server for the whole session; tests get it reset through ``sandbox``."""
    from airflow_provider_bombora.sandbox import SandboxServer

    with SandboxServer(port=0) as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server, monkeypatch):
    """The sandbox, reset, with ``bombora_default`` pointing at it."""
    sandbox_server.reset()
    sandbox_server.configure(processing_delay=0.0, token_lifetime=86400, log_bodies=True)
    monkeypatch.setenv("AIRFLOW_CONN_BOMBORA_DEFAULT", sandbox_connection_json(sandbox_server))
    return sandbox_server


def sandbox_connection_json(server, **extra) -> str:
    """The sandbox's connection as Airflow's JSON form, with optional extras."""
    connection = json.loads(server.connection_json())
    if extra:
        connection["extra"] = {**connection.get("extra", {}), **extra}
    return json.dumps(connection)
