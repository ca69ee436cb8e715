"""A real Airflow 3 deployment for the system tier: PostgreSQL, the Bombora sandbox, and the
api-server, scheduler, dag-processor and triggerer as separate processes.

Everything here is plain Python driving subprocesses and HTTP; the fixtures in conftest.py
wire it together. Names are unique to this folder (``system_harness``): the test folders are
on ``sys.path`` side by side (pytest's default import mode), and tests/reliability has its
own ``helpers``.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
from postgres_cluster import PostgresCluster as PostgresCluster  # re-exported for conftest.py
from postgres_cluster import free_port, require_postgres_bindir, tail

REPO_ROOT = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO_ROOT / "dags"
DAILY_SNAPSHOTS = DAGS_FOLDER / "data" / "daily"
#: DAGs of this tier's own tests (not examples: example_dag_ids() leaves them out), a second DAG
#: bundle of the deployment beside the examples' dags/.
SYSTEM_DAGS_FOLDER = Path(__file__).resolve().parent / "dags"
#: The SQL connection of dags/example_bombora_warehouse.py (a SQLite file in the deployment's home).
WAREHOUSE_CONN_ID = "bombora_example_warehouse"

# Generous, because this machine may be busy (2 cores); every wait polls, none sleeps blindly.
STARTUP_TIMEOUT = 180.0
RUN_TIMEOUT = 180.0
POLL = 0.5
CLI_TIMEOUT = 120.0

TERMINAL_RUN_STATES = {"success", "failed"}
# Task instance states after which nothing more happens to it (without a clear or a retry).
FINISHED_TI_STATES = {"success", "failed", "skipped", "upstream_failed", "removed"}

T = TypeVar("T")


class HarnessError(AssertionError):
    """The deployment did not do what the harness waited for (an assertion: the test fails)."""


def wait_for(
    condition: Callable[[], T | None],
    *,
    timeout: float,
    describe: str,
    context: Callable[[], str] | None = None,
    interval: float = POLL,
) -> T:
    """Poll ``condition`` until it returns something truthy; return it. On timeout fail with
    ``describe`` and what ``context`` says (component log tails)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            message = f"Timed out after {timeout:.0f} s waiting for {describe}"
            if context is not None:
                message += "\n" + context()
            raise HarnessError(message)
        time.sleep(interval)


# Airflow components -------------------------------------------------------------------------


class Component:
    """One long-running Airflow command (``airflow scheduler`` ...), its output in a log file.

    Started in a session of its own, so that stopping it reaches the children it spawned
    (LocalExecutor workers, parsing processes, the triggerer's runner) through its group id.
    """

    def __init__(self, name: str, args: list[str], log_path: Path, env: dict[str, str]):
        self.name = name
        self.args = args
        self.log_path = log_path
        self.env = env
        self.process: subprocess.Popen | None = None

    def start(self) -> Component:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "airflow", *self.args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.log_path.parent,
                start_new_session=True,
            )
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def terminate(self) -> None:
        """SIGTERM to the component's process group (its pid: start_new_session made it the leader)."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM to the component's process group, then SIGKILL to what is left after ``timeout``."""
        if self.process is None:
            return
        pgid = self.process.pid
        self.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout)
        # Children may outlive the leader; whatever is left of the group is killed.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)

    def tail(self, lines: int = 40) -> str:
        return f"--- last lines of {self.log_path.name} ---\n{tail(self.log_path, lines)}"


def example_dag_ids(folder: Path = DAGS_FOLDER) -> list[str]:
    """The ``dag_id`` of every DAG defined in the folder's files (``@dag(dag_id=...)`` or ``DAG(...)``)."""
    dag_ids: list[str] = []
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, ast.Call):
                continue
            callee = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if callee not in ("dag", "DAG"):
                continue
            for keyword in node.keywords:
                if keyword.arg == "dag_id" and isinstance(keyword.value, ast.Constant):
                    dag_ids.append(str(keyword.value.value))
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                dag_ids.append(node.args[0].value)
    return dag_ids


@dataclass
class RunOutcome:
    """A finished DAG run: its state and its task instances (the REST API's JSON)."""

    dag_id: str
    run_id: str
    state: str
    run: dict
    task_instances: list[dict] = field(default_factory=list)

    def ti(self, task_id: str) -> dict:
        for ti in self.task_instances:
            if ti["task_id"] == task_id:
                return ti
        raise KeyError(f"No task {task_id!r} in run {self.run_id}: {[t['task_id'] for t in self.task_instances]}")

    def states(self) -> dict[str, str | None]:
        return {ti["task_id"]: ti["state"] for ti in self.task_instances}


class AirflowDeployment:
    """Airflow 3 in a throwaway ``AIRFLOW_HOME``: one api-server, scheduler, dag-processor and
    triggerer, each a process of its own, all against one PostgreSQL database."""

    COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")

    def __init__(self, home: Path, database_url: str, connections: dict[str, str]):
        self.home = home
        self.api_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.logs = home / "logs"
        self.component_logs = home / "component-logs"
        self.component_logs.mkdir(parents=True, exist_ok=True)
        self.env = self._environment(database_url, connections)
        self.components: dict[str, Component] = {}
        self._restarts: dict[str, int] = {}
        self._http = requests.Session()
        self._http.trust_env = False  # never through a proxy from the environment
        self._token: str | None = None

    def _environment(self, database_url: str, connections: dict[str, str]) -> dict[str, str]:
        from cryptography.fernet import Fernet

        # Nothing Airflow-related from the test process (tests/conftest.py sets its own home,
        # bundles and connections there): only what is set below.
        env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url,
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
                "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(
                    [
                        {
                            "name": name,
                            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                            "kwargs": {"path": str(path)},
                        }
                        for name, path in (("dags-folder", DAGS_FOLDER), ("system-tests", SYSTEM_DAGS_FOLDER))
                    ]
                ),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API_AUTH__JWT_SECRET": os.urandom(32).hex(),
                # The REST API hands out an admin token without credentials (GET /auth/token).
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                # Only the runs the tests make: no scheduled or catch-up runs of the example DAGs
                # (example_bombora_backfill has catchup=True) interleaving with them.
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
                # Short loops, so that nothing waits for a heartbeat.
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
                "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "1",
                "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
                "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
                # A task's supervisor waits up to this long in one poll, so it may report a
                # deferral's exit (as "success") seconds late; if the trigger has fired and the
                # resumed attempt runs by then, the scheduler fails the task ("finished with state
                # success, but the task instance's state attribute is running"): Airflow 3.3's
                # race apache/airflow#71580 and #72716. One second (default 5) narrows the window.
                "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
                # A restarted triggerer takes over the triggers of one that stopped heartbeating
                # after this long (a graceful stop hands them over at once).
                "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "15",
                # Parse the DAG files once, at start; the tests add no files.
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "600",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
                "AIRFLOW__DAG_PROCESSOR__BUNDLE_REFRESH_CHECK_INTERVAL": "5",
                "AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL": "600",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
                "PYTHONUNBUFFERED": "1",
            }
        )
        # example_bombora_warehouse's SQLite warehouse: a file every task of this deployment
        # reaches (its refresh_warehouse task fills it). ``connections`` may override it.
        env[f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}"] = json.dumps(
            {"conn_type": "sqlite", "host": str(self.home / "bombora_example_warehouse.db")}
        )
        for conn_id, value in connections.items():
            env[f"AIRFLOW_CONN_{conn_id.upper()}"] = value
        return env

    # Processes

    def cli(self, *args: str, timeout: float = CLI_TIMEOUT, check: bool = True) -> subprocess.CompletedProcess:
        """``airflow ARGS`` with the deployment's configuration; fails the test if it fails."""
        completed = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.home,
            timeout=timeout,
            check=False,
        )
        if check and completed.returncode != 0:
            raise HarnessError(
                f"`airflow {' '.join(args)}` exited {completed.returncode}\n"
                f"stdout:\n{completed.stdout[-4000:]}\nstderr:\n{completed.stderr[-4000:]}"
            )
        return completed

    def migrate(self) -> None:
        self.cli("db", "migrate", timeout=STARTUP_TIMEOUT)

    def _component(self, name: str, env: dict[str, str] | None = None) -> Component:
        count = self._restarts.get(name, 0)
        suffix = f"-{count + 1}" if count else ""
        args = [name, "--port", str(self.api_port)] if name == "api-server" else [name]
        return Component(name, args, self.component_logs / f"{name}{suffix}.log", env or self.env)

    def start(self) -> AirflowDeployment:
        for name in self.COMPONENTS:
            self.components[name] = self._component(name).start()
        return self

    def stop(self) -> None:
        self._http.close()
        # The scheduler first, so that no task is started while the others go; then the rest
        # at once (each gets its grace period side by side, not one after the other).
        scheduler = self.components.get("scheduler")
        if scheduler is not None:
            scheduler.stop()
        others = [component for name, component in self.components.items() if name != "scheduler"]
        for component in others:
            component.terminate()
        for component in others:
            component.stop()

    def restart(self, name: str, env: dict[str, str] | None = None) -> Component:
        """Stop a component (SIGTERM, then SIGKILL) and start a new process; its log is a new file.
        ``env``: the new process's environment instead of the deployment's."""
        self.components[name].stop()
        self._restarts[name] = self._restarts.get(name, 0) + 1
        component = self.components[name] = self._component(name, env).start()
        return component

    def restart_scheduler(self, env: dict[str, str] | None = None, timeout: float = STARTUP_TIMEOUT) -> None:
        """Restart the scheduler (see :meth:`restart`) and wait until the new one has heartbeated."""
        self.restart("scheduler", env)
        restarted = datetime.now(timezone.utc)  # the old scheduler is stopped: a newer heartbeat is the new one's

        def heartbeat_after_restart() -> bool:
            self.check_alive()
            beat = ((self.health() or {}).get("scheduler") or {}).get("latest_scheduler_heartbeat")
            if beat is None:
                return False
            moment = datetime.fromisoformat(beat)
            return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)) > restarted

        wait_for(
            heartbeat_after_restart,
            timeout=timeout,
            describe="the restarted scheduler to heartbeat",
            context=lambda: self.log_tails("scheduler"),
        )

    @contextlib.contextmanager
    def job_schedule(self, dag_ids: Iterable[str]) -> Iterator[None]:
        """Meanwhile, the scheduler creates the runs it makes on its own for ``dag_ids``: asset-triggered
        runs (and runs on a time schedule). The deployment turns them off (``[scheduler]
        use_job_schedule``, which also governs asset-triggered runs), so that only the tests' runs
        happen: here the scheduler is restarted with it on, every other unpaused DAG paused first
        (a paused DAG gets no run); on exit it is restarted with it off, and those DAGs unpaused."""
        wanted = set(dag_ids)
        dags = self.api("GET", "/api/v2/dags", params={"limit": 100})["dags"]
        paused = [dag["dag_id"] for dag in dags if not dag["is_paused"] and dag["dag_id"] not in wanted]
        for dag_id in paused:
            self.set_paused(dag_id, True)
        try:
            self.restart_scheduler({**self.env, "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "True"})
            yield
        finally:
            self.restart_scheduler()
            for dag_id in paused:
                self.set_paused(dag_id, False)

    def check_alive(self) -> None:
        dead = [component for component in self.components.values() if not component.alive()]
        if dead:
            raise HarnessError(
                "Airflow components exited: "
                + ", ".join(f"{c.name} (exit {c.process.returncode if c.process else None})" for c in dead)
                + "\n"
                + "\n".join(c.tail() for c in dead)
            )

    def log_tails(self, *names: str, lines: int = 40) -> str:
        """The last lines of the named components' logs (all of them by default)."""
        chosen = [self.components[name] for name in names] if names else list(self.components.values())
        return "\n".join(component.tail(lines) for component in chosen)

    def all_component_logs(self) -> list[Path]:
        return sorted(self.component_logs.glob("*.log"))

    # REST API

    def _auth_header(self) -> dict[str, str]:
        if self._token is None:
            response = self._http.get(f"{self.api_url}/auth/token", timeout=30)
            response.raise_for_status()
            self._token = response.json()["access_token"]
        return {"Authorization": f"Bearer {self._token}"}

    def api(self, method: str, path: str, *, json_body: Any = None, params: dict | None = None) -> Any:
        """Call the REST API (``/api/v2``...) with an admin JWT; fail the test on an error status."""
        response = self._http.request(
            method, f"{self.api_url}{path}", json=json_body, params=params, headers=self._auth_header(), timeout=60
        )
        if response.status_code == 401:  # the token expired: get another once
            self._token = None
            response = self._http.request(
                method, f"{self.api_url}{path}", json=json_body, params=params, headers=self._auth_header(), timeout=60
            )
        if response.status_code >= 400:
            raise HarnessError(f"{method} {path} -> HTTP {response.status_code}: {response.text[:2000]}")
        return response.json() if response.content else None

    def health(self) -> dict | None:
        try:
            response = self._http.get(f"{self.api_url}/api/v2/monitor/health", timeout=10)
        except requests.RequestException:
            return None
        return response.json() if response.status_code == 200 else None

    def wait_until_healthy(self, timeout: float = STARTUP_TIMEOUT) -> None:
        """Until the api-server answers and reports the scheduler, triggerer and dag-processor healthy."""

        def healthy() -> bool:
            self.check_alive()
            health = self.health()
            return health is not None and all(
                (health.get(part) or {}).get("status") == "healthy"
                for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")
            )

        wait_for(healthy, timeout=timeout, describe="Airflow to report healthy components", context=self.log_tails)

    def wait_for_dags(self, dag_ids: Iterable[str], timeout: float = STARTUP_TIMEOUT) -> dict[str, dict]:
        """Until every DAG is parsed and serialised; fails early, with the error, on an import error."""
        wanted = set(dag_ids)

        def parsed() -> dict[str, dict] | None:
            self.check_alive()
            errors = self.api("GET", "/api/v2/importErrors", params={"limit": 100})["import_errors"]
            if errors:
                raise HarnessError(
                    "DAG files failed to import:\n"
                    + "\n".join(f"{error['filename']}:\n{error['stack_trace']}" for error in errors)
                )
            dags = {dag["dag_id"]: dag for dag in self.api("GET", "/api/v2/dags", params={"limit": 100})["dags"]}
            return dags if wanted <= set(dags) else None

        return wait_for(
            parsed,
            timeout=timeout,
            describe=f"the DAGs {sorted(wanted)} to be parsed",
            context=lambda: self.log_tails("dag-processor"),
        )

    def unpause(self, dag_id: str) -> None:
        self.cli("dags", "unpause", dag_id)

    def set_paused(self, dag_id: str, paused: bool) -> None:
        """Pause or unpause through the REST API (quicker than the CLI)."""
        self.api(
            "PATCH", f"/api/v2/dags/{dag_id}", json_body={"is_paused": paused}, params={"update_mask": "is_paused"}
        )

    def dag_runs(self, dag_id: str) -> list[dict]:
        runs: list[dict] = []
        while True:
            page = self.api(
                "GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100, "offset": len(runs), "order_by": "id"}
            )
            runs.extend(page["dag_runs"])
            if not page["dag_runs"] or len(runs) >= (page.get("total_entries") or 0):
                return runs

    def dag_run(self, dag_id: str, run_id: str) -> dict:
        return self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{_quote(run_id)}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{_quote(run_id)}/taskInstances", params={"limit": 100})[
            "task_instances"
        ]

    # Runs

    def trigger(self, dag_id: str, logical_date: str | None = None) -> str:
        """``airflow dags trigger`` (with ``--logical-date`` if given); returns the new run's id."""
        args = ["dags", "trigger", dag_id, "-o", "json"]
        if logical_date is not None:
            args += ["--logical-date", logical_date]
        completed = self.cli(*args)
        try:
            # stdout has log lines too; the JSON is the line that starts with "[{".
            (line,) = [line for line in completed.stdout.splitlines() if line.startswith("[{")]
            return json.loads(line)[0]["dag_run_id"]
        except (ValueError, KeyError, IndexError):
            raise HarnessError(f"Unexpected output of `airflow {' '.join(args)}`:\n{completed.stdout}") from None

    def backfill(
        self,
        dag_id: str,
        from_date: str,
        to_date: str,
        *,
        run_backwards: bool = False,
        reprocess_behavior: str | None = None,
    ) -> dict:
        """``airflow backfill create`` at the default max active runs; returns the new backfill (REST JSON)."""
        before = {backfill["id"] for backfill in self.backfills(dag_id)}
        args = ["backfill", "create", "--dag-id", dag_id, "--from-date", from_date, "--to-date", to_date]
        if run_backwards:
            args.append("--run-backwards")
        if reprocess_behavior is not None:
            args += ["--reprocess-behavior", reprocess_behavior]
        completed = self.cli(*args)
        created = [backfill for backfill in self.backfills(dag_id) if backfill["id"] not in before]
        if len(created) != 1:
            raise HarnessError(
                f"`airflow {' '.join(args)}` created {len(created)} backfills\n{completed.stdout}\n{completed.stderr}"
            )
        return created[0]

    def backfills(self, dag_id: str) -> list[dict]:
        return self.api("GET", "/api/v2/backfills", params={"dag_id": dag_id, "limit": 100})["backfills"]

    def wait_for_backfill(self, backfill: dict, timeout: float = RUN_TIMEOUT) -> dict:
        """Until the scheduler marks the backfill completed (every run of it finished)."""

        def completed() -> dict | None:
            self.check_alive()
            (current,) = [b for b in self.backfills(backfill["dag_id"]) if b["id"] == backfill["id"]]
            return current if current["completed_at"] else None

        return wait_for(
            completed,
            timeout=timeout,
            describe=f"backfill {backfill['id']} of {backfill['dag_id']} to complete",
            context=lambda: self._runs_summary(backfill["dag_id"]) + "\n" + self.log_tails("scheduler"),
        )

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = RUN_TIMEOUT) -> RunOutcome:
        """Until the run is success or failed; returns it with its task instances."""
        return self.wait_for_runs(dag_id, [run_id], timeout)[run_id]

    def wait_for_runs(self, dag_id: str, run_ids: Iterable[str], timeout: float = RUN_TIMEOUT) -> dict[str, RunOutcome]:
        pending = set(run_ids)
        finished: dict[str, dict] = {}

        def all_finished() -> bool:
            self.check_alive()
            for run_id in sorted(pending):
                run = self.dag_run(dag_id, run_id)
                if run["state"] in TERMINAL_RUN_STATES:
                    finished[run_id] = run
                    pending.discard(run_id)
            return not pending

        wait_for(
            all_finished,
            timeout=timeout,
            describe=f"runs of {dag_id} to finish: {sorted(pending)}",
            context=lambda: self._runs_summary(dag_id) + "\n" + self.log_tails("scheduler", "triggerer"),
        )
        return {
            run_id: RunOutcome(dag_id, run_id, run["state"], run, self.task_instances(dag_id, run_id))
            for run_id, run in finished.items()
        }

    def outcomes(self, dag_id: str, runs: Iterable[dict]) -> list[RunOutcome]:
        return [
            RunOutcome(dag_id, run["dag_run_id"], run["state"], run, self.task_instances(dag_id, run["dag_run_id"]))
            for run in runs
        ]

    def _runs_summary(self, dag_id: str) -> str:
        try:
            runs = self.dag_runs(dag_id)
        except (HarnessError, requests.RequestException) as error:
            return f"(runs of {dag_id} unavailable: {error})"
        lines = [f"runs of {dag_id}:"]
        for run in runs:
            tis = self.task_instances(dag_id, run["dag_run_id"])
            lines.append(
                f"  {run['dag_run_id']}: {run['state']} "
                + ", ".join(f"{ti['task_id']}={ti['state']}(try {ti['try_number']})" for ti in tis)
            )
        return "\n".join(lines)

    # Assets

    def asset_events(self, **filters: str) -> list[dict]:
        """Asset events (REST JSON, oldest first: by timestamp), filtered like the API: ``source_dag_id``,
        ``source_run_id``, ``asset_id``..."""
        params: dict[str, Any] = {"limit": 100, "order_by": "timestamp", **filters}
        return self.api("GET", "/api/v2/assets/events", params=params)["asset_events"]

    def upstream_asset_events(self, dag_id: str, run_id: str) -> list[dict]:
        """The asset events a run consumed (those that triggered an asset-triggered run)."""
        return self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{_quote(run_id)}/upstreamAssetEvents")["asset_events"]

    def wait_for_asset_triggered_run(
        self, dag_id: str, source_dag_id: str, source_run_id: str, timeout: float = RUN_TIMEOUT
    ) -> str:
        """Until the scheduler has created a run of ``dag_id`` from an asset event of the source run;
        returns its run id (the first such run, if the events were consumed by several)."""

        def created() -> str | None:
            self.check_alive()
            for event in self.asset_events(source_dag_id=source_dag_id, source_run_id=source_run_id):
                for run in event["created_dagruns"]:
                    if run["dag_id"] == dag_id:
                        return run["run_id"]
            return None

        return wait_for(
            created,
            timeout=timeout,
            describe=f"an asset-triggered run of {dag_id} from the events of {source_dag_id} {source_run_id}",
            context=lambda: json.dumps(
                self.asset_events(source_dag_id=source_dag_id, source_run_id=source_run_id), indent=1
            )[:4000]
            + "\n"
            + self.log_tails("scheduler"),
        )

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """A task's XCom value, as the REST API gives it (JSON)."""
        entry = self.api(
            "GET", f"/api/v2/dags/{dag_id}/dagRuns/{_quote(run_id)}/taskInstances/{task_id}/xcomEntries/{key}"
        )
        return entry["value"]

    # Task logs

    def task_log_path(self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1) -> Path:
        folder = self.logs / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        if map_index >= 0:
            folder = folder / f"map_index={map_index}"
        return folder / f"attempt={try_number}.log"

    def task_log(self, ti: dict, try_number: int | None = None) -> list[dict]:
        """The task instance's log (the attempt given, else its last) as parsed JSON lines;
        a line that is not JSON comes back as ``{"event": line}``."""
        path = self.task_log_path(
            ti["dag_id"], ti["dag_run_id"], ti["task_id"], try_number or ti["try_number"], ti.get("map_index", -1)
        )
        if not path.exists():
            raise HarnessError(f"No task log at {path}; logs folder has: {sorted(map(str, self.logs.rglob('*.log')))}")
        return [_json_line(line) for line in path.read_text(errors="replace").splitlines() if line.strip()]

    def task_log_text(self, ti: dict, try_number: int | None = None) -> str:
        """The task log as text: one line per entry, level and event (and error detail, if any)."""
        lines = []
        for entry in self.task_log(ti, try_number):
            line = f"{entry.get('level', '')} {entry.get('event', '')}"
            if entry.get("error_detail"):
                line += f" {json.dumps(entry['error_detail'])[:2000]}"
            lines.append(line)
        return "\n".join(lines)

    def trigger_logs(self, ti: dict, try_number: int | None = None) -> dict[str, list[dict]]:
        """The logs the triggerer wrote for the task instance's deferral, by the triggerer's job id
        (``attempt=N.log.trigger.<job id>.log`` beside the task log), as parsed JSON lines."""
        path = self.task_log_path(
            ti["dag_id"], ti["dag_run_id"], ti["task_id"], try_number or ti["try_number"], ti.get("map_index", -1)
        )
        logs = {}
        for trigger_log in sorted(path.parent.glob(f"{path.name}.trigger.*.log")):
            job_id = trigger_log.name.rsplit(".trigger.", 1)[1].removesuffix(".log")
            logs[job_id] = [_json_line(line) for line in trigger_log.read_text(errors="replace").splitlines() if line]
        return logs

    def all_task_logs(self) -> list[Path]:
        return sorted(self.logs.rglob("*.log")) if self.logs.exists() else []


def _json_line(line: str) -> dict:
    try:
        entry = json.loads(line)
    except ValueError:
        return {"event": line}
    return entry if isinstance(entry, dict) else {"event": line}


def _quote(run_id: str) -> str:
    from urllib.parse import quote

    return quote(run_id, safe="")


# The sandbox ---------------------------------------------------------------------------------

ACCOUNT_LISTS = "/account-list/v1/account-list"


def account_list_writes(request_log: list[dict]) -> list[dict]:
    """The requests of the log that change an account list (anything but a GET under /account-list)."""
    return [
        entry
        for entry in request_log
        if entry["method"] != "GET" and entry["path"].startswith(ACCOUNT_LISTS)
    ]


def list_named(sandbox: Any, name: str) -> dict | None:
    """The sandbox's account list of that name (summary plus applied ``domains``), or None."""
    matches = [account_list for account_list in sandbox.account_lists() if account_list["name"] == name]
    if len(matches) > 1:
        raise HarnessError(f"{len(matches)} account lists are named {name!r}: {matches}")
    return matches[0] if matches else None


def settled_list(sandbox: Any, name: str, timeout: float = 30.0) -> dict:
    """The list once no update is pending (reading it applies due jobs)."""

    def settled() -> dict | None:
        found = list_named(sandbox, name)
        return found if found is not None and not found["pendingUpdate"] else None

    return wait_for(
        settled,
        timeout=timeout,
        describe=f"account list {name!r} to exist with no pending update",
        context=lambda: json.dumps(sandbox.account_lists(), indent=1)[:4000],
    )


# Sample data ----------------------------------------------------------------------------------

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")
_HOST = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z][a-z0-9-]*[a-z0-9]$")


def simple_domain(value: object) -> str | None:
    """A small normalisation, independent of the provider's: lower-case, no scheme, path,
    port or ``www.``; None for what is no domain (an e-mail address, an IP, one label)."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    text = _SCHEME.sub("", text)
    if "@" in text:
        return None
    text = text.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].split(":", 1)[0].rstrip(".")
    if text.startswith("www."):
        text = text[4:]
    return text if _HOST.fullmatch(text) else None


def daily_snapshot_dates() -> list[str]:
    """The dates (YYYY-MM-DD) of the sample files dags/data/daily/high_intent_<date>.jsonl, oldest first."""
    return sorted(
        match.group(1)
        for path in DAILY_SNAPSHOTS.glob("high_intent_*.jsonl")
        if (match := re.fullmatch(r"high_intent_(\d{4}-\d{2}-\d{2})\.jsonl", path.name))
    )


def valid_domains_of_day(date: str) -> set[str]:
    """The valid domains of one day's sample file, by :func:`simple_domain`."""
    domains = set()
    with open(DAILY_SNAPSHOTS / f"high_intent_{date}.jsonl", encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                record = json.loads(line)
                domain = simple_domain((record.get("accountOrganization") or {}).get("domain"))
                if domain:
                    domains.add(domain)
    return domains


def require_postgres_or_skip() -> Path:
    """PostgreSQL's bin folder; without it the tier is skipped here, and fails under CI."""
    bindir = require_postgres_bindir("the system tier needs it for Airflow's metadata DB")
    require_modules("asyncpg", "psycopg2", hint="install the test extra (scripts/ensure-venv.sh test)")
    return bindir


def require_modules(*modules: str, hint: str) -> None:
    """Import each module; where one is missing the test is skipped, saying it and ``hint``, and
    fails when ``CI=true`` (CI must not pass by skipping)."""
    import importlib

    try:
        for module in modules:
            importlib.import_module(module)
    except ImportError as missing:
        message = f"{missing.name} is missing: {hint}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
