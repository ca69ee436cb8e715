"""The README's main job: run an example DAG that activates an audience against the sandbox.

Starts the Bombora sandbox on a free loopback port, points ``bombora_default`` at it, tests
the connection with ``airflow connections test``, runs ``airflow dags test`` of an example DAG
in a throwaway AIRFLOW_HOME, prints the activation summary and the final export status, and
stops the sandbox. Exits 0 only when the audience was fully activated.

Run it through ``scripts/main-job.sh``, which creates the virtual environment first.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LOGICAL_DATE = "2026-11-27"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dag-id", default="example_bombora_abm")
    parser.add_argument("--logical-date", default=LOGICAL_DATE)
    parser.add_argument("--processing-delay", type=float, default=2.0, help="sandbox's update-job delay, seconds")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bombora-main-job-") as airflow_home:
        sandbox = subprocess.Popen(
            [sys.executable, "-m", "airflow_provider_bombora.sandbox", "--port", "0",
             "--processing-delay", str(args.processing_delay)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            url = _wait_for_sandbox(sandbox)
            env = _airflow_env(airflow_home, url)
            _step("Migrating a throwaway Airflow metadata DB", ["db", "migrate"], env, quiet=True)
            _step("Testing the bombora_default connection", ["connections", "test", "bombora_default"], env)
            _step(f"Running {args.dag_id} for {args.logical_date}", ["dags", "test", args.dag_id, args.logical_date], env)
            return _report(args.dag_id, env)
        finally:
            sandbox.terminate()
            sandbox.wait(timeout=30)


def _wait_for_sandbox(sandbox: subprocess.Popen) -> str:
    for line in sandbox.stdout:
        print(f"[sandbox] {line.rstrip()}")
        if "listening on " in line:
            return line.split("listening on ", 1)[1].split()[0]
    raise SystemExit("the Bombora sandbox exited before it was listening")


def _airflow_env(airflow_home: str, url: str) -> dict[str, str]:
    connection = {
        "conn_type": "bombora",
        "host": url,
        "login": "sandbox-client-id",
        "password": "sandbox-client-secret",
    }
    return {
        **os.environ,
        "AIRFLOW_HOME": airflow_home,
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW_CONN_BOMBORA_DEFAULT": json.dumps(connection),
    }


def _step(title: str, airflow_args: list[str], env: dict[str, str], quiet: bool = False) -> None:
    print(f"\n== {title}: airflow {' '.join(airflow_args)}", flush=True)
    result = subprocess.run(
        [sys.executable, "-m", "airflow", *airflow_args],
        env=env,
        capture_output=quiet,
        text=True,
    )
    if result.returncode != 0:
        if quiet:
            print(result.stdout[-3000:], result.stderr[-3000:], sep="\n")
        raise SystemExit(f"FAILED: airflow {' '.join(airflow_args)} exited {result.returncode}")


_REPORT = """
import json, sys
from airflow.models.dagrun import DagRun
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session

dag_id = sys.argv[1]
with create_session() as session:
    run = session.query(DagRun).filter(DagRun.dag_id == dag_id).order_by(DagRun.id.desc()).first()
    rows = session.query(XComModel).filter(
        XComModel.dag_id == dag_id, XComModel.run_id == run.run_id, XComModel.key == "return_value"
    ).all()
    values = {row.task_id: XComModel.deserialize_value(row) for row in rows}
print(json.dumps({"state": str(run.state), "xcom": values}, default=str))
"""


def _report(dag_id: str, env: dict[str, str]) -> int:
    result = subprocess.run(
        [sys.executable, "-c", _REPORT, dag_id], env=env, capture_output=True, text=True, check=True
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    activations = {task: value for task, value in report["xcom"].items() if isinstance(value, dict) and "added" in value}
    statuses = {task: value for task, value in report["xcom"].items() if isinstance(value, dict) and "pending_update" in value}

    print("\n== Activation summary")
    for task, summary in sorted(activations.items()):
        print(
            f"{task}: audience {summary['audience_name']!r} -> account list {summary['account_list_id']}: "
            f"{summary['added']} added, {summary['removed']} removed, {summary['unchanged']} unchanged, "
            f"{summary['rejected']} rejected {summary['rejected_by_reason']}"
        )
    print("\n== Export status")
    for task, status in sorted(statuses.items()):
        print(
            f"{task}: account list {status['account_list_id']}: {status['account_total']} accounts, "
            f"pending update: {status['pending_update']}, last modified {status['accounts_last_modified']}"
        )
    print(f"\nDAG run state: {report['state']}")

    fully_activated = (
        report["state"].endswith("success")
        and activations
        and all(not status["pending_update"] for status in statuses.values())
        and len(statuses) == len(activations)
    )
    print("RESULT: audience fully activated" if fully_activated else "RESULT: activation incomplete")
    return 0 if fully_activated else 1


if __name__ == "__main__":
    sys.exit(main())
