"""Assets in a real deployment: a run of example_bombora_warehouse (no logical date) refreshes its
account list, the activation emits an event for the list's asset with its summary as the extra,
and the scheduler starts example_bombora_warehouse_notify (an asset-triggered run), whose task
reads the summary from the event and succeeds.

The deployment creates no runs of its own (``[scheduler] use_job_schedule`` off, which turns off
asset-triggered runs too): the scheduler is restarted with it on for this test, every other
example DAG paused meanwhile (see ``AirflowDeployment.job_schedule``).
"""

from __future__ import annotations

from example_data import WAREHOUSE_DAY_27_DOMAINS
from system_harness import TERMINAL_RUN_STATES, settled_list, wait_for

UPSTREAM = "example_bombora_warehouse"
DOWNSTREAM = "example_bombora_warehouse_notify"
ACTIVATION = "activate_open_pipeline"
NOTIFY = "notify_campaign_team"
AUDIENCE = "Open pipeline - warehouse"
ASSET_URI = "bombora://account-lists/Open%20pipeline%20-%20warehouse"

# The newest day of dags/data/warehouse_crm_accounts.csv, which a run without a logical date reads.
NEWEST_DAY_DOMAINS = set(WAREHOUSE_DAY_27_DOMAINS)


def _failure(deployment, outcome) -> str:
    return f"{outcome.dag_id} {outcome.state} {outcome.states()}\n" + "\n".join(
        f"--- {ti['task_id']} ({ti['state']}) ---\n{deployment.task_log_text(ti)[-3000:]}"
        for ti in outcome.task_instances
        if ti["state"] != "success"
    )


def test_a_refresh_of_the_account_list_starts_the_dag_scheduled_on_its_asset(deployment, sandbox):
    upstream_dag = deployment.api("GET", f"/api/v2/dags/{UPSTREAM}")
    # Past its end_date: the scheduler makes no run of it meanwhile, whose event would be mixed in.
    assert upstream_dag["next_dagrun_run_after"] is None, upstream_dag

    with deployment.job_schedule([UPSTREAM, DOWNSTREAM]):
        run_id = deployment.trigger(UPSTREAM)
        upstream = deployment.wait_for_run(UPSTREAM, run_id)
        assert upstream.state == "success", _failure(deployment, upstream)
        assert upstream.run["logical_date"] is None, upstream.run

        (event,) = deployment.asset_events(source_dag_id=UPSTREAM, source_run_id=run_id)
        assert (event["uri"], event["source_task_id"]) == (ASSET_URI, ACTIVATION), event
        summary = event["extra"]
        assert summary["audience_name"] == AUDIENCE
        assert (summary["added"], summary["removed"], summary["accounts_valid"]) == (9, 0, 9), summary

        notify_run_id = deployment.wait_for_asset_triggered_run(DOWNSTREAM, UPSTREAM, run_id)
        notify = deployment.wait_for_run(DOWNSTREAM, notify_run_id)
        # Every run of the downstream DAG ends before the scheduler is restarted (one made from an
        # event an earlier test left queued included).
        wait_for(
            lambda: all(run["state"] in TERMINAL_RUN_STATES for run in deployment.dag_runs(DOWNSTREAM)),
            timeout=120,
            describe=f"every run of {DOWNSTREAM} to finish",
        )

    assert notify.state == "success", _failure(deployment, notify)
    assert notify.run["run_type"] == "asset_triggered", notify.run
    consumed = deployment.upstream_asset_events(DOWNSTREAM, notify_run_id)
    assert event["id"] in [e["id"] for e in consumed], consumed

    report = deployment.xcom(DOWNSTREAM, notify_run_id, NOTIFY)
    account_list = settled_list(sandbox, AUDIENCE)
    assert set(account_list["domains"]) == NEWEST_DAY_DOMAINS
    assert report["source"] == f"{UPSTREAM}/{run_id}", report
    assert report == {
        "audience_name": AUDIENCE,
        "account_list_id": account_list["id"],
        "snapshot": summary["snapshot"],
        "added": 9,
        "removed": 0,
        "unchanged": 0,
        "accounts_valid": 9,
        "rejected": 3,
        "source": f"{UPSTREAM}/{run_id}",
        "events": len(consumed),
    }
    log_text = deployment.task_log_text(notify.ti(NOTIFY))
    assert f"account list '{AUDIENCE}' ({account_list['id']}) refreshed by {UPSTREAM}/{run_id}" in log_text, log_text
    assert "9 added, 0 removed, 0 unchanged" in log_text
