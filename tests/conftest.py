"""Shared fixtures: an isolated Airflow home and the Bombora sandbox on a loopback port.

Airflow reads its configuration when first imported, so the environment is set here, at
collection time, before any test module imports Airflow.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest
from retry_waits import RETRY_WAIT_SCALE

REPO_ROOT = Path(__file__).resolve().parent.parent

_airflow_home = tempfile.mkdtemp(prefix="bombora-tests-airflow-home-")
# DAGs that tests write; dag.test() only runs DAGs found in a configured bundle.
TEST_DAGS_FOLDER = Path(_airflow_home) / "test_dags"
TEST_DAGS_FOLDER.mkdir()
os.environ["AIRFLOW_HOME"] = _airflow_home
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO_ROOT / "dags")
os.environ["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = json.dumps(
    [
        {
            "name": name,
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(path)},
        }
        for name, path in (("provider_examples", REPO_ROOT / "dags"), ("test_dags", TEST_DAGS_FOLDER))
    ]
)
os.environ["AIRFLOW__CORE__TEST_CONNECTION"] = "Enabled"
os.environ.pop("AIRFLOW_CONN_BOMBORA_DEFAULT", None)


@pytest.fixture(autouse=True)
def short_retry_waits(monkeypatch):
    """The hooks' waits between attempts, scaled by RETRY_WAIT_SCALE: the policy computes and logs
    the real waits, tests sleep a hundredth of them (tasks run in this process under dag.test())."""
    import asyncio
    import time

    from airflow_provider_bombora.hooks.bombora import BomboraHook
    from airflow_provider_bombora.hooks.bombora_async import BomboraAsyncHook

    async def short_async_sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds * RETRY_WAIT_SCALE)

    monkeypatch.setattr(BomboraHook, "_sleep", lambda self, seconds: time.sleep(seconds * RETRY_WAIT_SCALE))
    monkeypatch.setattr(BomboraAsyncHook, "_sleep", short_async_sleep)


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


@dataclass
class DagRunOutcome:
    """What a dag.test() run left behind: states, return values, and everything it printed."""

    state: str
    task_states: dict[str, str]
    xcom: dict[str, object]
    output: str


def _load_dag(path: Path, dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    dagbag = DagBag(dag_folder=str(path))
    assert not dagbag.import_errors, dagbag.import_errors
    return dagbag.dags[dag_id]


@pytest.fixture
def run_dag_file(airflow_db, capfd, caplog):
    """Run the DAG ``dag_id`` of a file in a configured bundle with dag.test(); return its outcome."""

    def run(path: Path, dag_id: str, logical_date: datetime | None = None) -> DagRunOutcome:
        dag = _load_dag(path, dag_id)
        capfd.readouterr()
        caplog.clear()
        caplog.set_level(logging.INFO)
        dag_run = dag.test(logical_date=logical_date or datetime(2026, 11, 27, tzinfo=timezone.utc))
        captured = capfd.readouterr()
        task_instances = dag_run.get_task_instances()
        return DagRunOutcome(
            state=str(dag_run.state),
            task_states={ti.task_id: str(ti.state) for ti in task_instances},
            xcom={ti.task_id: ti.xcom_pull(task_ids=ti.task_id) for ti in task_instances},
            # Task logs reach stdout or the logging handlers, depending on what ran before.
            output=captured.out + captured.err + caplog.text,
        )

    return run


@pytest.fixture
def run_dag(run_dag_file):
    """Write a DAG file into the test bundle and run it with dag.test(); return its outcome."""

    def run(dag_id: str, source: str, logical_date: datetime | None = None) -> DagRunOutcome:
        path = TEST_DAGS_FOLDER / f"{dag_id}.py"
        path.write_text(textwrap.dedent(source))
        return run_dag_file(path, dag_id, logical_date)

    return run


UNIT_TESTS = Path(__file__).resolve().parent / "unit"


def pytest_collection_modifyitems(config, items):
    """Mark every test outside tests/unit ``slow``, so that ``-m "not slow"`` runs the unit tier alone.

    By location, not by decorator: a new test in integration/, dags/, reliability/ or bench/ is
    covered without anyone remembering to mark it.
    """
    for item in items:
        if not item.path.is_relative_to(UNIT_TESTS):
            item.add_marker(pytest.mark.slow)
