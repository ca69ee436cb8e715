"""Manual runs of example_bombora_backfill: without a logical date it applies the newest daily
file; with a past logical date, and in a backfill of older days after it, it writes nothing."""

from __future__ import annotations

from system_harness import (
    account_list_writes,
    daily_snapshot_dates,
    settled_list,
    valid_domains_of_day,
)

DAG_ID = "example_bombora_backfill"
TASK_ID = "activate_daily_snapshot"
AUDIENCE = "High intent - daily"


def _last_seq(sandbox) -> int:
    log = sandbox.request_log()
    return log[-1]["seq"] if log else 0


def test_manual_runs_and_a_backfill_of_older_days(deployment, sandbox):
    dates = daily_snapshot_dates()
    newest, older = dates[-1], dates[len(dates) // 2 - 1]
    expected = valid_domains_of_day(newest)

    # Without a logical date: the newest file is applied.
    latest = deployment.wait_for_run(DAG_ID, deployment.trigger(DAG_ID))
    ti = latest.ti(TASK_ID)
    assert (latest.state, ti["state"]) == ("success", "success"), (
        f"manual run without a logical date: {latest.states()}\n{deployment.task_log_text(ti)[-3000:]}"
    )
    account_list = settled_list(sandbox, AUDIENCE)
    assert sorted(account_list["domains"]) == sorted(expected)
    assert newest in (account_list["description"] or ""), account_list["description"]

    # A past logical date (midday: the backfill's runs hold that day's midnight): skipped, no write.
    before = _last_seq(sandbox)
    past = deployment.wait_for_run(DAG_ID, deployment.trigger(DAG_ID, logical_date=f"{older}T12:00:00+00:00"))
    ti = past.ti(TASK_ID)
    log = deployment.task_log(ti)
    log_text = deployment.task_log_text(ti)
    assert ti["state"] == "skipped", f"manual run of {older}: {past.states()}\n{log_text[-3000:]}"
    requests = sandbox.request_log(since=before)
    assert requests, "the run asked the sandbox nothing: its skip was decided without reading the list"
    assert account_list_writes(requests) == []
    warnings = [entry["event"] for entry in log if entry.get("level") == "warning" and newest in str(entry["event"])]
    assert warnings, f"no warning naming the newer snapshot {newest} in the task log:\n{log_text[-3000:]}"

    # A backfill of older days after it: nothing written, nothing failed.
    before = _last_seq(sandbox)
    backfill = deployment.backfill(DAG_ID, dates[0], dates[3], reprocess_behavior="completed")
    deployment.wait_for_backfill(backfill)
    runs = [
        run
        for run in deployment.dag_runs(DAG_ID)
        if run["run_type"] == "backfill" and (run["logical_date"] or "")[:10] in dates[:4]
    ]
    outcomes = deployment.outcomes(DAG_ID, runs)
    assert len(outcomes) == 4, [o.run_id for o in outcomes]
    not_skipped = [o for o in outcomes if o.ti(TASK_ID)["state"] != "skipped"]
    assert not not_skipped, "older days should be skipped:\n" + "\n".join(
        f"{o.run_id}: {o.states()}\n{deployment.task_log_text(o.ti(TASK_ID))[-2000:]}" for o in not_skipped
    )
    requests = sandbox.request_log(since=before)
    assert requests, "the backfill's runs asked the sandbox nothing"
    assert account_list_writes(requests) == []
    assert sorted(settled_list(sandbox, AUDIENCE)["domains"]) == sorted(expected)
