"""BomboraExportStatusSensor as a real Airflow task (dag.test()) against the sandbox, poke and deferrable."""

from __future__ import annotations

from datetime import datetime

import pytest

ONE_LIST = "/account-list/v1/account-list/*"
NAME = "High intent accounts"

# An upstream task uploads 3 accounts, which the sandbox applies after its processing delay;
# the sensor waits for that upload, its list and submission time templated from the XCom.
ACTIVATE_THEN_WAIT = """
from datetime import datetime, timezone

from airflow.sdk import DAG, task

from airflow_provider_bombora.hooks.bombora import BomboraHook
from airflow_provider_bombora.sensors.bombora import BomboraExportStatusSensor

with DAG(DAG_ID, schedule=None) as dag:

    @task
    def activate():
        hook = BomboraHook()
        list_id = hook.create_account_list(NAME)
        submitted_at = datetime.now(timezone.utc).isoformat()
        hook.add_accounts(list_id, ["acme.com", "globex.com", "initech.com"])
        return {"account_list_id": list_id, "submitted_at": submitted_at}

    activate() >> BomboraExportStatusSensor(
        task_id="wait_for_export",
        account_list_id="{{ ti.xcom_pull(task_ids='activate')['account_list_id'] }}",
        submitted_after="{{ ti.xcom_pull(task_ids='activate')['submitted_at'] }}",
        expected_account_total=3,
        poke_interval=0.05,
        timeout=30,
        **SENSOR_KWARGS,
    )
"""

WAIT_ONLY = """
from airflow.sdk import DAG

from airflow_provider_bombora.sensors.bombora import BomboraExportStatusSensor

with DAG(DAG_ID, schedule=None) as dag:
    BomboraExportStatusSensor(task_id="wait_for_export", poke_interval=0.05, **SENSOR_KWARGS)
"""


@pytest.fixture
def run_sensor_dag(sandbox, run_dag):
    def run(dag_id: str, source: str, **sensor_kwargs):
        source = source.replace("DAG_ID", repr(dag_id)).replace("NAME", repr(NAME))
        return run_dag(dag_id, source.replace("SENSOR_KWARGS", repr(sensor_kwargs)))

    return run


def assert_live_result(result: dict, upstream_result: dict) -> None:
    assert {key: result[key] for key in ("account_list_id", "audience_name", "account_total", "pending_update")} == {
        "account_list_id": upstream_result["account_list_id"],
        "audience_name": NAME,
        "account_total": 3,
        "pending_update": False,
    }
    assert datetime.fromisoformat(result["accounts_last_modified"] + "+00:00") >= datetime.fromisoformat(
        upstream_result["submitted_at"]
    )


def test_poke_mode_waits_for_the_upload_and_returns_the_live_state(sandbox, run_sensor_dag):
    sandbox.configure(processing_delay=0.5)
    outcome = run_sensor_dag("export_status_poke", ACTIVATE_THEN_WAIT, mode="poke")
    assert outcome.task_states == {"activate": "success", "wait_for_export": "success"}, outcome.output
    assert_live_result(outcome.xcom["wait_for_export"], outcome.xcom["activate"])


def test_deferrable_waits_in_the_trigger_and_returns_the_live_state(sandbox, run_sensor_dag):
    sandbox.configure(processing_delay=0.5)
    # The sensor's own check cannot reach Bombora (its hook tries 5 times), so it must defer
    # whatever the timing; the trigger then polls the upload until Bombora has applied it.
    sandbox.inject_fault("GET", ONE_LIST, status=503, count=5)
    outcome = run_sensor_dag("export_status_deferrable", ACTIVATE_THEN_WAIT, deferrable=True)
    assert outcome.task_states == {"activate": "success", "wait_for_export": "success"}, outcome.output
    assert "running trigger in line" in outcome.output
    assert_live_result(outcome.xcom["wait_for_export"], outcome.xcom["activate"])
    reads = [entry["status"] for entry in sandbox.request_log() if entry["method"] == "GET"]
    assert reads[:6] == [503] * 5 + [200]


def test_a_deleted_list_fails_the_sensor_with_the_reason(sandbox, run_sensor_dag):
    list_id = sandbox.seed_account_list(NAME, domains=["acme.com"])["id"]
    sandbox.inject_fault("GET", ONE_LIST, status=404, message="Account list not found")
    outcome = run_sensor_dag("export_status_deleted", WAIT_ONLY, account_list_id=list_id, timeout=30)
    assert outcome.task_states == {"wait_for_export": "failed"}
    assert f"Bombora account list {list_id} does not exist (HTTP 404): it was deleted" in outcome.output


@pytest.mark.parametrize(("soft_fail", "state"), [(False, "failed"), (True, "skipped")])
def test_a_deferred_sensor_times_out_as_an_airflow_sensor_timeout(sandbox, run_sensor_dag, soft_fail, state):
    sandbox.configure(processing_delay=60)
    list_id = sandbox.seed_account_list(NAME, pending_update=True)["id"]
    outcome = run_sensor_dag(
        f"export_status_timeout_{state}",
        WAIT_ONLY,
        account_list_id=list_id,
        deferrable=True,
        timeout=1,
        soft_fail=soft_fail,
    )
    # soft_fail turns Airflow's sensor failures, AirflowSensorTimeout among them, into a skip.
    assert outcome.task_states == {"wait_for_export": state}, outcome.output
    if not soft_fail:
        assert "AirflowSensorTimeout" in outcome.output
        assert f"Bombora account list {list_id} ('{NAME}') was not live by the deadline" in outcome.output
