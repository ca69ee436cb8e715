"""The system tier's deployment: PostgreSQL, the Bombora sandbox and Airflow 3's four components
as separate processes, started once per session (about a minute) and stopped at its end.

Run this tier alone with ``scripts/test.sh tests/system`` (or ``.venv/bin/python -m pytest
tests/system``); ``-m "not slow"`` leaves it out. It needs PostgreSQL (Debian's postgresql-15:
skipped without it, a failure when ``CI=true``) and the ``test`` extra (psycopg2, asyncpg).
Set ``BOMBORA_SYSTEM_KEEP=1`` to keep the deployment's folder (component and task logs,
PostgreSQL's log) after the session; its path is printed at the start.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from system_harness import (
    AirflowDeployment,
    PostgresCluster,
    example_dag_ids,
    require_postgres_or_skip,
)

from airflow_provider_bombora.sandbox import SandboxServer

#: Seconds before the sandbox applies an accounts update; and seconds every API request waits.
#: Both widen the windows in which concurrent runs of one audience can race.
PROCESSING_DELAY = 1.0
LATENCY = 0.03


@pytest.fixture(scope="session")
def system_sandbox():
    """The sandbox all Airflow components talk to (in this process, on a free loopback port)."""
    with SandboxServer(port=0, processing_delay=PROCESSING_DELAY, latency=LATENCY) as server:
        _record_issued_tokens(server)
        yield server


def _record_issued_tokens(server: SandboxServer) -> None:
    """Keep every access token the sandbox issues (``server.issued_tokens``), across resets:
    the log scan looks for each of them. The admin API does not list tokens."""
    state = server.app.state.sandbox
    issue_token = state.issue_token
    tokens: list[str] = []

    def recording_issue_token(body):
        answer = issue_token(body)
        tokens.append(answer["access_token"])
        return answer

    state.issue_token = recording_issue_token
    server.issued_tokens = tokens  # type: ignore[attr-defined]


@pytest.fixture
def issued_tokens(system_sandbox) -> list[str]:
    """Every access token the session's sandbox has issued so far (grows as runs go on)."""
    return system_sandbox.issued_tokens


@pytest.fixture(scope="session")
def airflow_deployment(system_sandbox):
    bindir = require_postgres_or_skip()
    root = Path(tempfile.mkdtemp(prefix="bombora-system-"))
    root.chmod(0o755)  # PostgreSQL, run as the postgres user, must reach its folder inside
    keep = bool(os.environ.get("BOMBORA_SYSTEM_KEEP"))
    print(f"\nsystem tier: deployment in {root}", file=sys.stderr)
    postgres = PostgresCluster(bindir, root / "postgres")
    deployment = None
    try:
        postgres.start()
        home = root / "airflow-home"
        home.mkdir()
        deployment = AirflowDeployment(
            home, postgres.url, connections={"bombora_default": system_sandbox.connection_json()}
        )
        deployment.migrate()
        deployment.start()
        deployment.wait_until_healthy()
        deployment.wait_for_dags(example_dag_ids())
        for dag_id in example_dag_ids():
            deployment.unpause(dag_id)
        yield deployment
    finally:
        if deployment is not None:
            deployment.stop()
        postgres.stop()
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def deployment(airflow_deployment, sandbox):
    """The deployment, its components checked alive, with the sandbox reset."""
    airflow_deployment.check_alive()
    return airflow_deployment


@pytest.fixture
def sandbox(system_sandbox):
    """The session's sandbox, reset (no lists, tokens or logged requests), with the tier's settings.

    Overrides tests/conftest.py's ``sandbox``, which points the connection at another server."""
    system_sandbox.reset()
    system_sandbox.configure(processing_delay=PROCESSING_DELAY, latency=LATENCY, token_lifetime=86400, log_bodies=True)
    return system_sandbox
