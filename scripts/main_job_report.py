"""The main job's report: what the DAG run did, read from the metadata DB, and confirmed in
Bombora through the provider's hook (every export applied, every digital audience active)."""

from __future__ import annotations

from pathlib import Path

POLL_INTERVAL = 0.5  # seconds between two reads of an account list while its update is pending
POLL_TIMEOUT = 60.0  # how long to wait for Bombora to apply an export


# Reads the DAG run from the metadata DB, then confirms through the provider's hook that
# Bombora has applied every activation that was not a dry run.
REPORT = """
import json, sys, time
from airflow.models.dagrun import DagRun
from airflow.models.taskinstance import TaskInstance
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session

request = json.loads(sys.argv[1])
dag_id = request["dag_id"]

def label(task_id, map_index):
    return task_id if map_index is None or map_index < 0 else f"{task_id}[{map_index}]"

with create_session() as session:
    run = session.query(DagRun).filter(DagRun.dag_id == dag_id).order_by(DagRun.id.desc()).first()
    if run is None:
        print("MAIN_JOB_RESULT " + json.dumps({"error": f"no run of {dag_id} in the metadata DB"}))
        sys.exit(0)
    tasks = {
        label(ti.task_id, ti.map_index): {"task_id": ti.task_id, "state": str(ti.state) if ti.state else "none"}
        for ti in session.query(TaskInstance).filter(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run.run_id)
    }
    rows = session.query(XComModel).filter(
        XComModel.dag_id == dag_id, XComModel.run_id == run.run_id, XComModel.key == "return_value"
    ).all()
    values = {label(row.task_id, row.map_index): XComModel.deserialize_value(row) for row in rows}

activations = {
    task: value for task, value in values.items()
    if isinstance(value, dict) and "account_list_id" in value and "added" in value
}

pushes = {
    task: value for task, value in values.items()
    if isinstance(value, dict) and "external_id" in value and "action" in value
}

statuses = {}
to_check = {task: s for task, s in activations.items() if not s.get("dry_run") and s.get("account_list_id")}
if to_check:
    from airflow_provider_bombora.hooks.bombora import BomboraHook

    hook = BomboraHook(bombora_conn_id="bombora_default")
    deadline = time.monotonic() + request["poll_timeout"]
    for task, summary in sorted(to_check.items()):
        status = {"polls": 0}
        try:
            while True:
                definition = hook.get_account_list(summary["account_list_id"])
                status["polls"] += 1
                metadata = definition.get("metadata") or {}
                status.update(
                    account_total=metadata.get("accountTotal"),
                    pending_update=metadata.get("pendingUpdate"),
                    accounts_last_modified=definition.get("accountsLastModified"),
                )
                if metadata.get("pendingUpdate") is False or time.monotonic() >= deadline:
                    break
                time.sleep(request["poll_interval"])
        except Exception as error:  # reported for this list; the others are still checked
            status["error"] = f"{type(error).__name__}: {error}"
        statuses[task] = status

audience_statuses = {}
for task, pushed in sorted(pushes.items()):
    if pushed.get("dry_run"):
        continue
    from airflow_provider_bombora.hooks.bombora import BomboraHook

    hook = BomboraHook(bombora_conn_id="bombora_default")
    deadline = time.monotonic() + request["poll_timeout"]
    status = {"polls": 0}
    try:
        while True:
            audience = hook.get_digital_audience(pushed["data_exchange"], pushed["external_id"], pushed["partner_id"])
            status["polls"] += 1
            status["status"] = audience.get("status")
            status["domains"] = len(audience.get("domains") or [])
            if str(status["status"]).lower() == "active" or time.monotonic() >= deadline:
                break
            time.sleep(request["poll_interval"])
    except Exception as error:  # reported for this audience; the others are still checked
        status["error"] = f"{type(error).__name__}: {error}"
    audience_statuses[task] = status

print("MAIN_JOB_RESULT " + json.dumps(
    {
        "state": str(run.state), "run_id": run.run_id, "tasks": tasks, "activations": activations,
        "statuses": statuses, "pushes": pushes, "audience_statuses": audience_statuses,
    },
    default=str,
))
"""


def print_report(dag_id: str, logical_date: str, report: dict, connection_message: str, log_path: Path) -> list[str]:
    """Print the activation summary and the export status; return what is missing (empty: all done)."""
    missing: list[str] = []
    state = report["state"].rsplit(".", 1)[-1].lower()
    print(f"\n== {dag_id}, logical date {logical_date}: DAG run {state}")
    if state != "success":
        failed = [
            f"{task} {info['state']}" for task, info in sorted(report["tasks"].items()) if info["state"] != "success"
        ]
        missing.append(f"the DAG run is {state}" + (f" ({', '.join(failed)})" if failed else ""))

    activations = report["activations"]
    activation_ids = set(report["activation_tasks"])
    if not activation_ids:
        missing.append("the DAG has no BomboraActivateAudienceOperator task")
    instances = {task: info for task, info in report["tasks"].items() if info["task_id"] in activation_ids}
    for task_id in activation_ids - {info["task_id"] for info in instances.values()}:
        instances[task_id] = {"task_id": task_id, "state": "not run"}
    for task in sorted(set(instances) | set(activations)):
        state = instances.get(task, {}).get("state", "success")
        if state != "success":
            missing.append(f"activation task {task} {state}")
        if task in activations:
            missing.extend(_print_activation(task, activations[task], report["statuses"].get(task)))
        else:
            print(f"\n{task}: {state}, no activation summary")
    for task, pushed in sorted(report["pushes"].items()):
        missing.extend(_print_push(task, pushed, report["audience_statuses"].get(task)))
    if not activations:
        missing.append("no activation summary in the run's XComs")
    elif all(summary.get("dry_run") for summary in activations.values()):
        missing.append("dry runs only: nothing was sent to Bombora")

    print(f"\nconnection test (airflow connections test bombora_default): {connection_message}")
    print(f"Airflow's output: {log_path}")
    return missing


def _print_activation(task: str, summary: dict, status: dict | None) -> list[str]:
    mode = summary.get("sync_mode") or "?"
    print(
        f"\n{task}: audience {summary.get('audience_name')!r} -> account list {summary.get('account_list_id')}"
        f" ({mode}{', dry run' if summary.get('dry_run') else ''})"
    )
    print(f"  added {summary.get('added')}, removed {summary.get('removed')}, unchanged {summary.get('unchanged')}")
    received = summary.get("accounts_received")
    valid, rejected = summary.get("accounts_valid"), summary.get("rejected")
    duplicates = summary.get("duplicates")
    parts = [f"{valid} valid", f"{rejected} rejected"]
    if duplicates is not None:
        parts.append(f"{duplicates} duplicates")
    line = f"  received {received} = {' + '.join(parts)}"
    counts = [valid, rejected] + ([duplicates] if duplicates is not None else [])
    whole = [n for n in counts if isinstance(n, int)]
    if isinstance(received, int) and len(whole) == len(counts) and sum(whole) != received:
        line += f"  (these do not add up: {received - sum(whole):+d})"
    print(line)
    sample = summary.get("rejected_sample") or []
    if rejected:
        by_reason = ", ".join(
            f"{reason} {count}" for reason, count in sorted((summary.get("rejected_by_reason") or {}).items())
        )
        shown = f"; the first {len(sample)} shown" if len(sample) < rejected else ""
        print(f"  rejected records ({by_reason}{shown}):" if by_reason or shown else "  rejected records:")
        for entry in sample:
            value = entry.get("value")
            print(
                f"    record {entry.get('record')}: {entry.get('reason')}"
                + (f" ({value})" if value not in (None, "") else "")
            )
    else:
        print("  rejected records: none")

    if summary.get("dry_run"):
        print("  export: dry run, nothing sent, not checked")
        return []
    if status is None:
        print("  export: not checked (no account list id)")
        return [f"{task}: no account list id"]
    if "error" in status and status.get("pending_update") is None:
        print(f"  export: could not read the list: {status['error']}")
        return [f"{task}: could not read account list {summary.get('account_list_id')}: {status['error']}"]
    pending = status.get("pending_update")
    print(
        f"  export: {status.get('account_total')} accounts, pending update {str(pending).lower()},"
        f" last modified {status.get('accounts_last_modified')}"
        f" (read {status.get('polls')} time{'s' if status.get('polls') != 1 else ''} through BomboraHook)"
    )
    missing = []
    if "error" in status:
        missing.append(f"{task}: reading the list failed: {status['error']}")
    if pending is not False:
        missing.append(f"{task}: Bombora has not applied the export after {POLL_TIMEOUT:g} s (pendingUpdate {pending})")
    elif mode == "mirror" and status.get("account_total") != summary.get("accounts_valid"):
        missing.append(
            f"{task}: the list holds {status.get('account_total')} accounts,"
            f" the audience {summary.get('accounts_valid')} valid ones"
        )
    print(f"  applied: {'yes' if not missing else 'NO'}")
    return missing


def _print_push(task: str, pushed: dict, status: dict | None) -> list[str]:
    """A digital audience push: what was done, and its status as read back through BomboraHook."""
    estimate = f", estimate {pushed['estimate']}" if pushed.get("estimate") is not None else ""
    print(
        f"\n{task}: digital audience {pushed.get('external_id')} (partner {pushed.get('partner_id')})"
        f" on {pushed.get('data_exchange')}: {pushed.get('action')}, {pushed.get('domain_count')} domains{estimate}"
    )
    if pushed.get("dry_run") or status is None:
        print("  status: dry run, nothing sent, not checked")
        return []
    if "error" in status:
        print(f"  status: could not read the audience: {status['error']}")
        return [f"{task}: could not read the digital audience: {status['error']}"]
    polls = status.get("polls")
    print(
        f"  status: {status.get('status')}, {status.get('domains')} domains"
        f" (read {polls} time{'s' if polls != 1 else ''} through BomboraHook)"
    )
    if str(status.get("status")).lower() != "active":
        return [f"{task}: the digital audience is not active after {POLL_TIMEOUT:g} s (status {status.get('status')})"]
    return []
