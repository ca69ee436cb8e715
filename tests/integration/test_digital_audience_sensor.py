"""BomboraDigitalAudienceSensor as a real Airflow task (dag.test()), poke and deferrable, and its
BomboraDigitalAudienceTrigger run directly against the sandbox."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone

import pytest
from airflow.triggers.base import TriggerEvent

from airflow_provider_bombora.triggers.bombora import BomboraDigitalAudienceTrigger

EXCHANGE = "trade_desk_direct"
EXTERNAL_ID = "hi-intent-ttd"
PARTNER_ID = "1234567"
ONE_AUDIENCE = f"/digital-audiences/v1/{EXCHANGE}/{EXTERNAL_ID}/{PARTNER_ID}"
# What Bombora accepts on a PUT: in the future, at most 13 months ahead.
END_DATE = (datetime.now(timezone.utc) + timedelta(days=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
DESCRIBED = f"Bombora digital audience {EXTERNAL_ID} (partner {PARTNER_ID}) on The Trade Desk (trade_desk_direct)"

SENSOR_DAG = """
from airflow.sdk import DAG
from airflow_provider_bombora.sensors.bombora import BomboraDigitalAudienceSensor

with DAG({dag_id!r}, schedule=None) as dag:
    BomboraDigitalAudienceSensor(
        task_id="wait_active",
        data_exchange={exchange!r},
        external_id={external_id!r},
        partner_id={partner_id!r},
        poke_interval=0.05,
        **{kwargs!r},
    )
"""


# An upstream task overwrites the audience (a PUT makes it Pending for the processing delay);
# the sensor then waits until Bombora has activated it again.
UPDATE_THEN_WAIT = """
from airflow.sdk import DAG, task

from airflow_provider_bombora.hooks.bombora import BomboraHook
from airflow_provider_bombora.sensors.bombora import BomboraDigitalAudienceSensor

with DAG({dag_id!r}, schedule=None) as dag:

    @task
    def update():
        BomboraHook().update_digital_audience(
            {exchange!r},
            {external_id!r},
            {partner_id!r},
            {{
                "name": "High intent accounts - TTD",
                "endDate": {end_date!r},
                "cpmPrice": "1.25",
                "domains": ["acme.com", "globex.com", "initech.io"],
            }},
        )

    update() >> BomboraDigitalAudienceSensor(
        task_id="wait_active",
        data_exchange={exchange!r},
        external_id={external_id!r},
        partner_id={partner_id!r},
        poke_interval=0.05,
        timeout=30,
        **{kwargs!r},
    )
"""


def update_then_wait(dag_id: str, **sensor_kwargs) -> str:
    return UPDATE_THEN_WAIT.format(
        dag_id=dag_id,
        exchange=EXCHANGE,
        external_id=EXTERNAL_ID,
        partner_id=PARTNER_ID,
        end_date=END_DATE,
        kwargs=sensor_kwargs,
    )


def seed(sandbox, status: str = "Active", **fields) -> dict:
    fields = {
        "name": "High intent accounts - TTD",
        "endDate": END_DATE,
        "cpmPrice": "1.25",
        "domains": ["acme.com", "globex.com"],
        **fields,
    }
    return sandbox.seed_digital_audience(EXCHANGE, EXTERNAL_ID, PARTNER_ID, status=status, **fields)


@pytest.fixture
def wait_active(sandbox, run_dag):
    """Run a one-task DAG with the sensor; ``kwargs`` go to the sensor."""

    def run(dag_id: str, external_id: str = EXTERNAL_ID, **kwargs):
        kwargs.setdefault("timeout", 30)
        source = SENSOR_DAG.format(
            dag_id=dag_id, exchange=EXCHANGE, external_id=external_id, partner_id=PARTNER_ID, kwargs=kwargs
        )
        return run_dag(dag_id, source)

    return run


def first_event(trigger: BomboraDigitalAudienceTrigger) -> dict:
    """Run the trigger as dag.test() does (its first event in a new event loop); the event's payload."""

    async def first() -> TriggerEvent:
        return await anext(trigger.run())

    return asyncio.run(first()).payload


def make_trigger(deadline_in: float = 10.0, external_id: str = EXTERNAL_ID) -> BomboraDigitalAudienceTrigger:
    return BomboraDigitalAudienceTrigger(
        deadline=time.time() + deadline_in,
        data_exchange=EXCHANGE,
        external_id=external_id,
        partner_id=PARTNER_ID,
        poll_interval=0.05,
    )


def reads(sandbox) -> list[int | None]:
    """The statuses of the reads of the audience, in order."""
    return [
        entry["status"] for entry in sandbox.request_log() if (entry["method"], entry["path"]) == ("GET", ONE_AUDIENCE)
    ]


ACTIVE_RESULT = {
    "data_exchange": EXCHANGE,
    "external_id": EXTERNAL_ID,
    "partner_id": PARTNER_ID,
    "audience_name": "High intent accounts - TTD",
    "audience_status": "Active",
    "domain_count": 2,
}


# --- The sensor under dag.test() ----------------------------------------------------------------


def test_a_pending_audience_is_poked_until_active(sandbox, run_dag):
    seed(sandbox)
    sandbox.configure(processing_delay=1.0)

    outcome = run_dag("da_sensor_pending_poke", update_then_wait("da_sensor_pending_poke"))

    assert outcome.task_states == {"update": "success", "wait_active": "success"}, outcome.output[-3000:]
    assert outcome.xcom["wait_active"] == {**ACTIVE_RESULT, "domain_count": 3}
    assert "Bombora has not activated it yet (status Pending)" in outcome.output
    assert "running trigger in line" not in outcome.output
    assert the_status(sandbox) == "Active"


def test_a_pending_audience_is_waited_for_in_the_trigger(sandbox, run_dag):
    seed(sandbox)
    sandbox.configure(processing_delay=1.0)
    # The sensor's own check cannot reach Bombora (its hook tries 5 times), so it must defer
    # whatever the timing; the trigger then polls until the audience is active.
    sandbox.inject_fault("GET", ONE_AUDIENCE, status=503, count=5)
    source = update_then_wait("da_sensor_pending_deferred", deferrable=True)

    outcome = run_dag("da_sensor_pending_deferred", source)

    assert outcome.task_states == {"update": "success", "wait_active": "success"}, outcome.output[-3000:]
    assert outcome.xcom["wait_active"] == {**ACTIVE_RESULT, "domain_count": 3}
    assert "running trigger in line" in outcome.output
    assert reads(sandbox)[:6] == [503] * 5 + [200]
    assert the_status(sandbox) == "Active"


@pytest.mark.parametrize("deferrable", [False, True], ids=["poke", "deferrable"])
def test_an_upper_case_active_status_counts(sandbox, wait_active, deferrable):
    seed(sandbox, status="ACTIVE")

    outcome = wait_active(f"da_sensor_upper_{deferrable}", deferrable=deferrable)

    assert outcome.task_states == {"wait_active": "success"}, outcome.output[-3000:]
    assert outcome.xcom["wait_active"] == ACTIVE_RESULT  # in Bombora's spelling
    assert reads(sandbox) == [200]


@pytest.mark.parametrize("deferrable", [False, True], ids=["poke", "deferrable"])
def test_a_suspended_audience_fails_at_once_with_the_way_out(sandbox, wait_active, deferrable):
    seed(sandbox, status="Suspended")

    outcome = wait_active(f"da_sensor_suspended_{deferrable}", deferrable=deferrable, retries=2)

    assert outcome.task_states == {"wait_active": "failed"}  # not up_for_retry, though retries=2
    assert f"{DESCRIBED} is suspended: Bombora does not deliver it to The Trade Desk" in outcome.output
    assert "activate=True" in outcome.output
    assert reads(sandbox) == [200]


@pytest.mark.parametrize("deferrable", [False, True], ids=["poke", "deferrable"])
def test_a_missing_audience_fails_at_once(sandbox, wait_active, deferrable):
    outcome = wait_active(f"da_sensor_missing_{deferrable}", deferrable=deferrable, retries=2)

    assert outcome.task_states == {"wait_active": "failed"}  # not up_for_retry, though retries=2
    assert f"{DESCRIBED} does not exist (HTTP 404)" in outcome.output
    assert reads(sandbox) == [404]


@pytest.mark.parametrize("deferrable", [False, True], ids=["poke", "deferrable"])
def test_an_audience_still_pending_at_the_timeout_is_a_sensor_timeout(sandbox, wait_active, deferrable):
    sandbox.configure(processing_delay=60)
    seed(sandbox, status="Pending")

    outcome = wait_active(f"da_sensor_timeout_{deferrable}", deferrable=deferrable, timeout=1)

    assert outcome.task_states == {"wait_active": "failed"}, outcome.output[-3000:]
    assert "AirflowSensorTimeout" in outcome.output
    assert the_status(sandbox) == "Pending"


def test_a_timeout_with_soft_fail_is_a_skip(sandbox, wait_active):
    sandbox.configure(processing_delay=60)
    seed(sandbox, status="Pending")

    outcome = wait_active("da_sensor_soft_fail", deferrable=True, timeout=1, soft_fail=True)

    assert outcome.task_states == {"wait_active": "skipped"}, outcome.output[-3000:]


def test_a_503_on_the_read_costs_only_a_poke(sandbox, wait_active):
    seed(sandbox)
    # The hook's 5 attempts of the first poke all fail: the poke finds nothing, the next one reads.
    sandbox.inject_fault("GET", ONE_AUDIENCE, status=503, count=5)

    outcome = wait_active("da_sensor_503", mode="poke")

    assert outcome.task_states == {"wait_active": "success"}, outcome.output[-3000:]
    assert outcome.xcom["wait_active"] == ACTIVE_RESULT
    assert reads(sandbox) == [503] * 5 + [200]
    assert "could not check, will try again" in outcome.output


def test_a_deferrable_sensor_that_cannot_reach_bombora_defers_and_the_trigger_reads(sandbox, wait_active):
    seed(sandbox)
    sandbox.inject_fault("GET", ONE_AUDIENCE, status=503, count=5)

    outcome = wait_active("da_sensor_503_deferred", deferrable=True)

    assert outcome.task_states == {"wait_active": "success"}, outcome.output[-3000:]
    assert outcome.xcom["wait_active"] == ACTIVE_RESULT
    assert "running trigger in line" in outcome.output
    assert reads(sandbox) == [503] * 5 + [200]


def the_status(sandbox) -> str:
    [audience] = sandbox.digital_audiences()
    return audience["status"]


# --- The trigger, run directly ------------------------------------------------------------------


def test_the_trigger_succeeds_once_a_pending_audience_is_active(sandbox):
    sandbox.configure(processing_delay=0.5)
    seed(sandbox, status="Pending")

    payload = first_event(make_trigger())

    assert payload == {"status": "success", "message": f"{DESCRIBED} is active with 2 domains.", **ACTIVE_RESULT}
    assert len(reads(sandbox)) >= 2


def test_the_trigger_takes_an_upper_case_active(sandbox):
    seed(sandbox, status="ACTIVE")
    payload = first_event(make_trigger())
    assert (payload["status"], payload["audience_status"]) == ("success", "Active")


def test_the_trigger_reports_a_suspended_audience_as_an_error(sandbox):
    seed(sandbox, status="Suspended")

    payload = first_event(make_trigger())

    assert payload["status"] == "error"
    assert payload["message"].startswith(f"{DESCRIBED} is suspended")
    assert (payload["data_exchange"], payload["external_id"], payload["partner_id"]) == (
        EXCHANGE,
        EXTERNAL_ID,
        PARTNER_ID,
    )
    assert reads(sandbox) == [200]


def test_the_trigger_reports_a_missing_audience_as_an_error(sandbox):
    payload = first_event(make_trigger(external_id="not-there"))

    assert payload["status"] == "error"
    assert "not-there (partner 1234567)" in payload["message"]
    assert "does not exist (HTTP 404)" in payload["message"]


def test_the_trigger_times_out_at_its_deadline(sandbox):
    sandbox.configure(processing_delay=60)
    seed(sandbox, status="Pending")

    payload = first_event(make_trigger(deadline_in=0.3))

    assert payload["status"] == "timeout"
    assert payload["message"].startswith(f"{DESCRIBED} was not active by the deadline")
    assert payload["message"].endswith("Bombora has not activated it yet (status Pending).")


def test_a_503_on_the_read_costs_the_trigger_only_a_poll(sandbox):
    seed(sandbox)
    sandbox.inject_fault("GET", ONE_AUDIENCE, status=503, count=5)

    payload = first_event(make_trigger())

    assert (payload["status"], payload["audience_status"]) == ("success", "Active")
    assert reads(sandbox) == [503] * 5 + [200]
