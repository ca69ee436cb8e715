"""The README's main job: run an example DAG that activates an audience against the sandbox.

Starts the Bombora sandbox on a free loopback port, points ``bombora_default`` at it, tests
the connection with ``airflow connections test``, runs ``airflow dags test`` of an example DAG
in a throwaway AIRFLOW_HOME, then confirms through the provider's hook that Bombora (the
sandbox) has applied every activation, and prints a report: per activation the counts, the
rejected records and why, the export status. Airflow's own output goes to a log file under
``.main-job/``; its tail is printed only when something failed. Exits 0 only when the DAG run
succeeded, every activation task succeeded and every export is applied.

For ``example_bombora_warehouse`` the job also defines its warehouse, the SQLite connection
``bombora_example_warehouse`` (a file in the throwaway AIRFLOW_HOME, which the DAG fills from its
sample data); that DAG needs the sqlite provider, which the job checks first. The DAG it
triggers through the account list's asset (``example_bombora_warehouse_notify``) is not run:
``airflow dags test`` runs one DAG.

Without ``--logical-date`` the run is for 2026-11-27, or, for a DAG that would not run that
day (its ``end_date`` is before, or its ``start_date`` after), for the last day inside the
DAG's start/end range.

Run it through ``scripts/main-job.sh``, which creates the virtual environment first.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from datetime import datetime, timezone
from pathlib import Path

from main_job_report import POLL_INTERVAL, POLL_TIMEOUT, REPORT, print_report

REPO_ROOT = Path(__file__).resolve().parent.parent
LOG_DIR = REPO_ROOT / ".main-job"
DEFAULT_LOGICAL_DATE = "2026-11-27"
LOG_TAIL_LINES = 60
RESULT_MARKER = "MAIN_JOB_RESULT "
WAREHOUSE_CONN_ID = "bombora_example_warehouse"  # example_bombora_warehouse's SQL connection


class JobFailed(Exception):
    """A step of the job failed; the message says which and why."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dag-id", default="example_bombora_abm")
    parser.add_argument(
        "--logical-date",
        help=f"default: {DEFAULT_LOGICAL_DATE}, or the last day of the DAG's start/end range if it excludes that day",
    )
    parser.add_argument("--processing-delay", type=float, default=2.0, help="sandbox's update-job delay, seconds")
    args = parser.parse_args(argv)

    log_path = _new_log_file(args.dag_id)
    progress(f"Main job: {args.dag_id}. Airflow's output goes to {log_path}")
    with tempfile.TemporaryDirectory(prefix="bombora-main-job-") as airflow_home, open(log_path, "a") as log:
        job = Job(log)
        sandbox = None
        try:
            sandbox, url = job.start_sandbox(args.processing_delay)
            job.env = _airflow_env(airflow_home, url)
            dag = job.python("Reading the DAG", _INSPECT, args.dag_id)
            check_warehouse(dag)
            logical_date, why = pick_logical_date(args.logical_date, dag)
            progress(f"  logical date {logical_date} ({why})")
            job.airflow("db", "migrate")
            connection_message = job.connection_test()
            dags_test_rc = job.airflow("dags", "test", args.dag_id, logical_date, check=False)
            report = job.python(
                "Confirming in Bombora that every export is applied"
                f" (every {POLL_INTERVAL:g} s, up to {POLL_TIMEOUT:g} s)",
                REPORT,
                json.dumps(
                    {
                        "dag_id": args.dag_id,
                        "activation_tasks": dag["activation_tasks"],
                        "poll_interval": POLL_INTERVAL,
                        "poll_timeout": POLL_TIMEOUT,
                    }
                ),
            )
            report["activation_tasks"] = dag["activation_tasks"]
        except JobFailed as failure:
            print(f"\nFAILED: {failure}")
            _print_log_tail(log_path)
            print(f"RESULT: activation incomplete: {failure}")
            return 1
        finally:
            if sandbox is not None:
                sandbox.terminate()
                sandbox.wait(timeout=30)

    missing = print_report(args.dag_id, logical_date, report, connection_message, log_path)
    if dags_test_rc != 0:
        missing.insert(0, f"airflow dags test exited {dags_test_rc}")
    if missing:
        _print_log_tail(log_path)
        print("RESULT: activation incomplete: " + "; ".join(missing))
        return 1
    count = len(report["activations"])
    print("RESULT: audience fully activated" + (f" ({count} audiences)" if count > 1 else ""))
    return 0


def progress(message: str) -> None:
    """What the job is doing, on stderr: the report on stdout starts with the summary."""
    print(message, file=sys.stderr, flush=True)


class Job:
    """Runs the steps, their output appended to the log file."""

    def __init__(self, log) -> None:
        self.log = log
        self.env: dict[str, str] = dict(os.environ)

    def _header(self, title: str) -> None:
        self.log.write(f"\n===== {datetime.now(timezone.utc):%H:%M:%S} {title}\n")
        self.log.flush()

    def start_sandbox(self, processing_delay: float) -> tuple[subprocess.Popen, str]:
        self._header("Bombora sandbox")
        sandbox = subprocess.Popen(
            [sys.executable, "-m", "airflow_provider_bombora.sandbox", "--port", "0",
             "--processing-delay", str(processing_delay)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert sandbox.stdout is not None  # stdout=PIPE
        for line in sandbox.stdout:
            self._write_sandbox_line(line)
            if "listening on " in line:
                url = line.split("listening on ", 1)[1].split()[0]
                break
        else:
            sandbox.wait()
            raise JobFailed(f"the Bombora sandbox exited ({sandbox.returncode}) before it was listening")
        # Keep reading what it prints, so that it never blocks on a full pipe.
        threading.Thread(target=self._drain, args=(sandbox,), daemon=True).start()
        progress(f"  sandbox listening on {url}")
        return sandbox, url

    def _write_sandbox_line(self, line: str) -> None:
        self.log.write(f"[sandbox] {line.rstrip()}\n")
        self.log.flush()

    def _drain(self, sandbox: subprocess.Popen) -> None:
        assert sandbox.stdout is not None  # started with stdout=PIPE
        try:
            for line in sandbox.stdout:
                self._write_sandbox_line(line)
        except (ValueError, OSError):  # the log is closed: the job is over
            pass

    def airflow(self, *airflow_args: str, check: bool = True) -> int:
        command = f"airflow {' '.join(airflow_args)}"
        self._header(command)
        started = time.monotonic()
        progress(f"  {command} ...")
        result = subprocess.run(
            [sys.executable, "-m", "airflow", *airflow_args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        progress(f"  {command}: exit {result.returncode} ({time.monotonic() - started:.1f} s)")
        if check and result.returncode != 0:
            raise JobFailed(f"{command} exited {result.returncode}")
        return result.returncode

    def connection_test(self) -> str:
        command = "airflow connections test bombora_default -v"
        self._header(command)
        result = subprocess.run(
            # -v: the hook's own message ("Connected to Bombora at …: N account lists visible") is a
            # log line, which the command prints only when verbose.
            [sys.executable, "-m", "airflow", "connections", "test", "bombora_default", "-v"],
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
        )
        self.log.write(result.stdout + result.stderr)
        self.log.flush()
        # Its message: the hook's line, then "Connection success!" (or the failure and why).
        output = result.stdout + result.stderr
        lines = [line.strip() for line in result.stdout.splitlines()]
        if "Testing..." in lines:
            lines = lines[lines.index("Testing...") + 1:]
        verdict = " ".join(line for line in lines if line and not line[:4].isdigit())
        hook_lines = [line for line in output.splitlines() if "Connected to Bombora at" in line]
        said = hook_lines[-1].split("] ", 1)[-1].split(" [airflow.", 1)[0].strip() if hook_lines else ""
        message = " ".join(part for part in (verdict, said) if part) or f"(no message; exit {result.returncode})"
        progress(f"  {command}: {message}")
        if result.returncode != 0:
            raise JobFailed(f"{command}: {message}")
        return message

    def python(self, title: str, code: str, *args: str) -> dict:
        """Run ``code`` in the venv's python with the job's environment; return the JSON it printed."""
        self._header(title)
        progress(f"  {title} ...")
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-c", code, *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
        )
        progress(f"  ... exit {result.returncode} ({time.monotonic() - started:.1f} s)")
        lines = result.stdout.splitlines()
        found = [line for line in lines if line.startswith(RESULT_MARKER)]
        # The answer goes to the report, not to the log: on failure the log's tail ends with Airflow's end.
        self.log.writelines(line + "\n" for line in lines if not line.startswith(RESULT_MARKER))
        self.log.write(result.stderr)
        self.log.flush()
        if result.returncode != 0 or not found:
            last = (result.stderr.strip().splitlines() or [f"exit {result.returncode}"])[-1]
            raise JobFailed(f"{title}: {last}")
        answer = json.loads(found[-1][len(RESULT_MARKER):])
        if "error" in answer:
            raise JobFailed(f"{title}: {answer['error']}")
        return answer


def _new_log_file(dag_id: str) -> Path:
    LOG_DIR.mkdir(exist_ok=True)
    ignore = LOG_DIR / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# Logs of scripts/main-job.sh\n*\n")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    name = "".join(c if c.isalnum() or c in "._-" else "_" for c in dag_id)
    path = LOG_DIR / f"{name}-{stamp}-{os.getpid()}.log"
    path.touch()
    return path


def _print_log_tail(log_path: Path) -> None:
    with open(log_path, errors="replace") as log:
        tail = deque(log, maxlen=LOG_TAIL_LINES)
    print(f"\n-- last {len(tail)} lines of {log_path}:")
    print("".join(tail).rstrip())
    print("-- end of the log\n")


def _airflow_env(airflow_home: str, url: str) -> dict[str, str]:
    connection = {
        "conn_type": "bombora",
        "host": url,
        "login": "sandbox-client-id",
        "password": "sandbox-client-secret",
    }
    # example_bombora_warehouse's SQLite warehouse, in the throwaway AIRFLOW_HOME (the DAG's
    # refresh_warehouse task fills it): a connection cannot come from the DAG file itself.
    warehouse = {"conn_type": "sqlite", "host": str(Path(airflow_home) / f"{WAREHOUSE_CONN_ID}.db")}
    return {
        **os.environ,
        "AIRFLOW_HOME": airflow_home,
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW_CONN_BOMBORA_DEFAULT": json.dumps(connection),
        f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}": json.dumps(warehouse),
    }


def check_warehouse(dag: dict) -> None:
    """A DAG that reads the example's SQLite warehouse needs the sqlite provider (not in Airflow's
    own install): say so before Airflow runs, rather than in the task's log."""
    if WAREHOUSE_CONN_ID in dag.get("sql_conn_ids", []) and not dag.get("sqlite_provider"):
        raise JobFailed(
            f"the DAG reads connection {WAREHOUSE_CONN_ID!r}, a SQLite database, and the sqlite provider is not"
            f" installed: {sys.executable} -m pip install apache-airflow-providers-sqlite"
            " (the test extra has it: scripts/ensure-venv.sh test)"
        )


# Loads the DAG as the DAG processor does: its start and end dates, its activation tasks and their
# SQL connections; and whether the sqlite provider is installed.
_INSPECT = """
import importlib.util, json, sys
from airflow.dag_processing.dagbag import DagBag
from airflow_provider_bombora.operators.bombora import BomboraActivateAudienceOperator

dag_id = sys.argv[1]
bag = DagBag()
dag = bag.dags.get(dag_id)
if dag is None:
    answer = {"error": f"no DAG {dag_id!r} in {bag.dag_folder} (DAGs: {', '.join(sorted(bag.dags)) or 'none'}; "
                       f"import errors: {bag.import_errors or 'none'})"}
else:
    answer = {
        "start_date": dag.start_date.isoformat() if dag.start_date else None,
        "end_date": dag.end_date.isoformat() if dag.end_date else None,
        "activation_tasks": sorted(
            task.task_id for task in dag.tasks if isinstance(task, BomboraActivateAudienceOperator)
        ),
        "sql_conn_ids": sorted(
            {task.sql_conn_id for task in dag.tasks
             if isinstance(task, BomboraActivateAudienceOperator) and task.sql_conn_id}
        ),
        "sqlite_provider": importlib.util.find_spec("airflow.providers.sqlite") is not None,
    }
print("MAIN_JOB_RESULT " + json.dumps(answer))
"""


def pick_logical_date(given: str | None, dag: dict) -> tuple[str, str]:
    """The logical date to run, and why: the given one, the default, or the DAG's last day."""
    start = datetime.fromisoformat(dag["start_date"]) if dag.get("start_date") else None
    end = datetime.fromisoformat(dag["end_date"]) if dag.get("end_date") else None
    if given:
        try:
            moment = datetime.fromisoformat(given)
        except ValueError:
            return given, "given"
        moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
        if (start is not None and moment < start) or (end is not None and moment > end):
            return given, "given; outside the DAG's start/end range, so its tasks will not run"
        return given, "given"
    default = datetime.fromisoformat(DEFAULT_LOGICAL_DATE).replace(tzinfo=timezone.utc)
    if (start is None or start <= default) and (end is None or default <= end):
        return DEFAULT_LOGICAL_DATE, "the default"
    if end is not None and end < default:
        day = end.replace(hour=0, minute=0, second=0, microsecond=0)  # midnight in the end_date's own zone
        chosen = day if start is None or day >= start else end
        why = f"the DAG's end_date {end.isoformat()} is before {DEFAULT_LOGICAL_DATE}: its last day"
    else:
        assert start is not None  # only a start_date after the default date leads here
        chosen = start
        why = f"the DAG's start_date {start.isoformat()} is after {DEFAULT_LOGICAL_DATE}: its first day"
    offset = chosen.utcoffset()
    assert offset is not None  # Airflow's dates are aware (a naive one fails the comparisons above)
    if chosen == chosen.replace(hour=0, minute=0, second=0, microsecond=0) and offset.total_seconds() == 0:
        return chosen.strftime("%Y-%m-%d"), why
    return chosen.isoformat(), why


if __name__ == "__main__":
    sys.exit(main())
