"""Every example DAG of dags/, triggered as a user would (no logical date), succeeds; its
deferrable waits run in the triggerer process, and survive a restart of the triggerer."""

from __future__ import annotations

import pytest
from system_harness import HarnessError, example_dag_ids, wait_for

SENSOR = "BomboraExportStatusSensor"
# Seconds before the sandbox applies an upload, in these tests: long enough that each export
# sensor's first check (in the worker) finds the upload pending, so it defers to the triggerer
# (with four DAGs at once on two cores, that check came 4 s after the upload).
SLOW_PROCESSING = 10.0
# While the triggerer is restarted: the export must still be pending when the old one stops
# (about 5 s after the upload here).
RESTART_PROCESSING = 15.0


def _deferred_waits(deployment, outcome):
    """Every export-status wait of the run: it deferred, and a triggerer ran its trigger to an event."""
    problems = []
    sensors = [ti for ti in outcome.task_instances if ti.get("operator") == SENSOR]
    for ti in sensors:
        log_text = deployment.task_log_text(ti)
        if "DEFERRED" not in log_text:
            problems.append(f"{outcome.dag_id} {ti['task_id']} did not defer:\n{log_text[-2000:]}")
            continue
        trigger_logs = deployment.trigger_logs(ti)
        events = [entry["event"] for entries in trigger_logs.values() for entry in entries]
        if not any("starting" in str(event) for event in events) or "Trigger fired event" not in events:
            problems.append(f"{outcome.dag_id} {ti['task_id']}: no triggerer log of its trigger: {trigger_logs}")
    return sensors, problems


def test_every_example_dag_succeeds_without_a_logical_date(deployment, sandbox):
    sandbox.configure(processing_delay=SLOW_PROCESSING)
    dag_ids = example_dag_ids()
    assert len(dag_ids) >= 4, dag_ids
    # All at once: they activate different audiences, and it is quicker.
    runs = {dag_id: deployment.trigger(dag_id) for dag_id in dag_ids}
    outcomes = {dag_id: deployment.wait_for_run(dag_id, run_id) for dag_id, run_id in runs.items()}

    failures = {}
    for dag_id, outcome in outcomes.items():
        if outcome.state != "success":
            failures[dag_id] = f"{outcome.state} {outcome.states()}\n" + "\n".join(
                f"--- {ti['task_id']} ({ti['state']}) ---\n{deployment.task_log_text(ti)[-2500:]}"
                for ti in outcome.task_instances
                if ti["state"] != "success"
            )
    assert not failures, "example DAGs that did not succeed:\n" + "\n\n".join(
        f"{dag_id}: {text}" for dag_id, text in failures.items()
    )

    problems = []
    sensor_count = 0
    for outcome in outcomes.values():
        sensors, found = _deferred_waits(deployment, outcome)
        sensor_count += len(sensors)
        problems += found
    assert sensor_count >= 3, "the example DAGs should have export-status sensors"
    assert not problems, "\n\n".join(problems)


def test_a_restarted_triggerer_picks_up_a_deferred_sensor(deployment, sandbox):
    dag_id = "example_bombora_dsp_integration"
    sandbox.configure(processing_delay=RESTART_PROCESSING)
    run_id = deployment.trigger(dag_id)

    def sensor_deferred_and_running():
        deployment.check_alive()
        tis = {ti["task_id"]: ti for ti in deployment.task_instances(dag_id, run_id)}
        ti = tis.get("wait_for_export")
        if ti is None or ti["state"] in ("success", "failed", "skipped", "upstream_failed"):
            raise HarnessError(f"the sensor ended before it was seen deferred: {tis}")
        if ti["state"] != "deferred":
            return None
        started = any(
            "starting" in str(entry["event"]) for entries in deployment.trigger_logs(ti).values() for entry in entries
        )
        return ti if started else None

    ti = wait_for(
        sensor_deferred_and_running,
        timeout=120,
        describe="the export sensor to be deferred and its trigger running in the triggerer",
        context=lambda: deployment.log_tails("scheduler", "triggerer"),
    )
    first_triggerers = set(deployment.trigger_logs(ti))
    deployment.restart("triggerer")
    still = {t["task_id"]: t["state"] for t in deployment.task_instances(dag_id, run_id)}
    if still["wait_for_export"] != "deferred":
        pytest.fail(f"the sensor left its deferral before the triggerer was restarted: {still}")

    outcome = deployment.wait_for_run(dag_id, run_id)
    assert outcome.state == "success", (
        f"{outcome.states()}\n{deployment.task_log_text(outcome.ti('wait_for_export'))[-3000:]}\n"
        + deployment.log_tails("triggerer")
    )
    trigger_logs = deployment.trigger_logs(outcome.ti("wait_for_export"))
    new_triggerers = set(trigger_logs) - first_triggerers
    assert new_triggerers, f"no log of the trigger from the restarted triggerer: {sorted(trigger_logs)}"
    events = [str(entry["event"]) for job_id in new_triggerers for entry in trigger_logs[job_id]]
    assert "Trigger fired event" in events, events
    # Picked up where it was: the same attempt resumed, no retry.
    assert outcome.ti("wait_for_export")["try_number"] == ti["try_number"], outcome.ti("wait_for_export")
