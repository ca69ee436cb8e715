"""Backfills of example_bombora_backfill at Airflow's default concurrency (up to 10 runs of the
DAG at once), forwards and then backwards: the account list ends equal to the newest day."""

from __future__ import annotations

from datetime import datetime

from system_harness import (
    daily_snapshot_dates,
    settled_list,
    valid_domains_of_day,
)

DAG_ID = "example_bombora_backfill"
TASK_ID = "activate_daily_snapshot"
AUDIENCE = "High intent - daily"


def _most_at_once(task_instances) -> int:
    """The largest number of the task instances that were running at the same moment."""
    events = sorted(
        (datetime.fromisoformat(ti[key]), step)
        for ti in task_instances
        if ti["start_date"] and ti["end_date"]
        for key, step in (("start_date", 1), ("end_date", -1))
    )
    running = most = 0
    for _moment, step in events:
        running += step
        most = max(most, running)
    return most


def _backfill_outcomes(deployment, dates):
    runs = [
        run
        for run in deployment.dag_runs(DAG_ID)
        if run["run_type"] == "backfill" and (run["logical_date"] or "")[:10] in dates
    ]
    return deployment.outcomes(DAG_ID, runs)


def _check_backfill(deployment, sandbox, dates, label):
    newest = dates[-1]
    outcomes = _backfill_outcomes(deployment, dates)
    summary = {o.run_id: (o.state, o.states()) for o in outcomes}
    assert sorted(o.run["logical_date"][:10] for o in outcomes) == dates, (
        f"{label}: expected one backfill run per daily file {dates}, got {summary}"
    )
    failed = {
        o.run_id: {ti["task_id"]: ti["state"] for ti in o.task_instances if ti["state"] not in ("success", "skipped")}
        for o in outcomes
        if any(ti["state"] not in ("success", "skipped") for ti in o.task_instances)
    }
    details = "\n\n".join(
        f"{o.run_id} {ti['task_id']} ({ti['state']}, try {ti['try_number']}):\n"
        + deployment.task_log_text(ti)[-3000:]
        for o in outcomes
        for ti in o.task_instances
        if ti["state"] not in ("success", "skipped")
    )
    assert not failed, f"{label}: task instances that did not end success or skipped: {failed}\n{details}"
    # The point of the test: runs of the one audience at the same time.
    activations = [o.ti(TASK_ID) for o in outcomes]
    assert _most_at_once(activations) >= 2, (
        f"{label}: the activations never overlapped, so no concurrent runs were tested: "
        + str([(ti["start_date"], ti["end_date"]) for ti in activations])
    )
    (newest_run,) = [o for o in outcomes if o.run["logical_date"][:10] == newest]
    assert newest_run.ti(TASK_ID)["state"] == "success", f"{label}: the newest day's run: {newest_run.states()}"

    expected = valid_domains_of_day(newest)
    account_list = settled_list(sandbox, AUDIENCE)
    assert sorted(account_list["domains"]) == sorted(expected), (
        f"{label}: the list should hold the valid accounts of {newest}; "
        f"missing {sorted(expected - set(account_list['domains']))}, "
        f"extra {sorted(set(account_list['domains']) - expected)}; runs: {summary}"
    )
    assert account_list["accountTotal"] == len(expected), account_list
    return outcomes


def test_backfills_forwards_then_backwards_end_with_the_newest_day(deployment, sandbox):
    dates = daily_snapshot_dates()
    assert len(dates) >= 8, f"example_bombora_backfill should ship 8 or more daily files, has {dates}"

    forwards = deployment.backfill(DAG_ID, dates[0], dates[-1])
    assert forwards["max_active_runs"] >= 2, forwards  # the default: runs overlap
    deployment.wait_for_backfill(forwards)
    _check_backfill(deployment, sandbox, dates, "forwards")

    backwards = deployment.backfill(DAG_ID, dates[0], dates[-1], run_backwards=True, reprocess_behavior="completed")
    deployment.wait_for_backfill(backwards)
    outcomes = _check_backfill(deployment, sandbox, dates, "backwards, reprocessing completed days")
    # Every day was run again (a second attempt), not left as it was.
    assert all(o.ti(TASK_ID)["try_number"] >= 2 for o in outcomes), {o.run_id: o.ti(TASK_ID) for o in outcomes}
