"""BomboraExportStatusSensor and polling.wait_for with a scripted hook: pokes, deferral, events, waits."""

from __future__ import annotations

import logging
import time
import types
from datetime import timedelta
from typing import Any

import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowSensorTimeout, TaskDeferred

from airflow_provider_bombora import polling
from airflow_provider_bombora.exceptions import (
    BomboraApiError,
    BomboraAuthError,
    BomboraExportStatusError,
    BomboraExportTimeoutError,
    BomboraNotFoundError,
    BomboraValidationError,
)
from airflow_provider_bombora.export_status import ExportTarget
from airflow_provider_bombora.polling import wait_for
from airflow_provider_bombora.sensors.bombora import BomboraExportStatusSensor
from airflow_provider_bombora.triggers.bombora import BomboraExportStatusTrigger

LIST_ID = "5c7e2a90-2222-4b1d-8e00-000000000002"
NAME = "High intent accounts"
LIST_PATH = f"/account-list/v1/account-list/{LIST_ID}"


def answer(*, pending=False, total=2, modified="2026-11-27T10:00:05.000001") -> dict:
    """A GET /account-list/{id} answer."""
    return {
        "id": LIST_ID,
        "type": "Manual",
        "metadata": {"name": NAME, "accountTotal": total, "pendingUpdate": pending},
        "specification": {},
        "accountsLastModified": modified,
    }


LIVE = answer()
PENDING = answer(pending=True)
RESULT = {
    "account_list_id": LIST_ID,
    "audience_name": NAME,
    "account_total": 2,
    "accounts_last_modified": "2026-11-27T10:00:05.000001",
    "pending_update": False,
}


def api_error(error_class=BomboraApiError, status=503) -> BomboraApiError:
    return error_class("Fault", status=status, method="GET", path=LIST_PATH)


class ScriptedHook:
    """Plays one scripted answer (or raises one scripted error) per read, and records the reads."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.reads: list[str] = []

    def _next(self):
        item = self.answers.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def get_account_list(self, list_id):
        self.reads.append(f"id:{list_id}")
        return self._next()

    def find_account_list(self, name):
        self.reads.append(f"name:{name}")
        item = self._next()
        # A summary has the definition's metadata at the top level.
        return item if item is None or isinstance(item, Exception) else {**item, **item["metadata"]}


def use_hook(sensor: BomboraExportStatusSensor, hook: ScriptedHook) -> None:
    """Give ``sensor`` the scripted hook (``hook`` is a cached_property: an assigned value wins)."""
    sensor.hook = hook  # type: ignore[assignment]  # a scripted stand-in, not a BomboraHook


def make_sensor(hook: ScriptedHook | None = None, **kwargs) -> BomboraExportStatusSensor:
    if "audience_name" not in kwargs:
        kwargs.setdefault("account_list_id", LIST_ID)
    sensor = BomboraExportStatusSensor(task_id="wait_for_export", **kwargs)
    if hook is not None:
        use_hook(sensor, hook)
    return sensor


# --- Parameters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "given"),
    [({}, "neither was given"), ({"account_list_id": LIST_ID, "audience_name": NAME}, "both were given")],
)
def test_exactly_one_of_list_id_and_audience_name_is_checked_when_the_dag_is_parsed(kwargs, given):
    with pytest.raises(BomboraValidationError, match="give exactly one of account_list_id and audience_name") as info:
        BomboraExportStatusSensor(task_id="wait_for_export", **kwargs)
    assert given in str(info.value)
    assert "'wait_for_export'" in str(info.value)


def test_defaults():
    sensor = make_sensor()
    assert (sensor.poke_interval, sensor.timeout, sensor.deferrable, sensor.bombora_conn_id) == (
        60,
        3600,
        False,
        "bombora_default",
    )
    assert (sensor.submitted_after, sensor.expected_account_total, sensor.audience_name) == (None, None, None)


def test_the_list_its_submission_and_total_are_templated():
    with DAG("templating", schedule=None):
        sensor = BomboraExportStatusSensor(
            task_id="wait_for_export",
            account_list_id="{{ params.activation['account_list_id'] }}",
            submitted_after="{{ params.activation['submitted_at'] }}",
            expected_account_total="{{ params.total }}",
        )
    assert set(sensor.template_fields) == {
        "account_list_id",
        "audience_name",
        "submitted_after",
        "expected_account_total",
    }
    activation = {"account_list_id": LIST_ID, "submitted_at": "2026-11-27T10:00:00.123456+00:00"}
    sensor.render_template_fields({"params": {"activation": activation, "total": 2}})
    assert (sensor.account_list_id, sensor.submitted_after, sensor.expected_account_total) == (
        LIST_ID,
        "2026-11-27T10:00:00.123456+00:00",
        "2",
    )


# The activation's submitted_at is None when it wrote nothing; rendered by Jinja that is "None".
SUBMITTED_AT = "{{ ti.xcom_pull(task_ids='activate')['submitted_at'] }}"


@pytest.mark.parametrize(("submitted_at", "waits"), [("2026-11-27T10:00:00+00:00", True), (None, False)])
def test_submitted_at_of_a_run_that_wrote_nothing_means_nothing_to_wait_for(submitted_at, waits):
    activation = {"added": 0 if submitted_at is None else 2, "removed": 0, "submitted_at": submitted_at}
    ti: Any = types.SimpleNamespace(xcom_pull=lambda task_ids: activation)  # all that the template calls
    with DAG("templated_submitted_at", schedule=None):
        sensor = BomboraExportStatusSensor(
            task_id="wait_for_export", account_list_id=LIST_ID, submitted_after=SUBMITTED_AT
        )
    sensor.render_template_fields({"ti": ti})
    use_hook(sensor, ScriptedHook(answer(modified="2026-11-27T09:59:59.999999")))  # applied before the submission
    assert bool(sensor.poke({})) is not waits


def test_an_invalid_rendered_value_fails_the_poke_naming_it():
    with pytest.raises(BomboraValidationError, match=r"^submitted_after: must be an ISO 8601"):
        make_sensor(ScriptedHook(LIVE), submitted_after="last Tuesday").poke({})


# --- Poke ---------------------------------------------------------------------------------------


def test_a_pending_update_is_not_done_and_logs_why(capfd, caplog):
    caplog.set_level(logging.INFO)
    checked = make_sensor(ScriptedHook(PENDING)).poke({})
    assert not checked
    # The operator's log goes to stdout or the logging handlers, depending on what ran before.
    assert "pendingUpdate is true" in capfd.readouterr().out + caplog.text


def test_a_live_list_is_done_with_the_result():
    sensor = make_sensor(ScriptedHook(LIVE), submitted_after="2026-11-27T10:00:05+00:00", expected_account_total=2)
    checked = sensor.poke({})
    assert checked.is_done
    assert checked.xcom_value == RESULT


def test_an_older_list_is_not_done_when_a_submission_time_is_given():
    assert not make_sensor(ScriptedHook(LIVE), submitted_after="2026-11-27T10:00:06+00:00").poke({})


def test_another_account_total_fails_with_both_numbers():
    with pytest.raises(BomboraExportStatusError, match="accountTotal 2, but expected_account_total is 3"):
        make_sensor(ScriptedHook(LIVE), expected_account_total="3").poke({})


@pytest.mark.parametrize(
    ("error", "raised", "match"),
    [
        (api_error(BomboraNotFoundError, 404), BomboraExportStatusError, "does not exist .HTTP 404.: it was deleted"),
        (api_error(BomboraAuthError, 403), BomboraAuthError, "HTTP 403"),
        (api_error(BomboraApiError, 400), BomboraApiError, "HTTP 400"),
    ],
    ids=["deleted", "refused", "unexpected answer"],
)
def test_lasting_failures_fail_the_poke_at_once(error, raised, match):
    with pytest.raises(raised, match=match):
        make_sensor(ScriptedHook(error)).poke({})


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, None])
def test_transient_trouble_after_the_hooks_retries_only_costs_a_poke(status, caplog):
    checked = make_sensor(ScriptedHook(api_error(status=status))).poke({})
    assert not checked
    assert "could not check, will try again" in caplog.text


def test_a_name_is_looked_up_once_then_the_list_is_read_by_id():
    hook = ScriptedHook(PENDING, PENDING, api_error(BomboraNotFoundError, 404))
    sensor = make_sensor(hook, audience_name=NAME)
    assert not sensor.poke({})
    assert not sensor.poke({})
    with pytest.raises(BomboraExportStatusError, match=f"{LIST_ID} .'{NAME}'. does not exist"):
        sensor.poke({})
    assert hook.reads == [f"name:{NAME}", f"id:{LIST_ID}", f"id:{LIST_ID}"]


def test_no_list_of_that_name_fails_at_once():
    with pytest.raises(BomboraExportStatusError, match="No Bombora account list is named 'Gone'"):
        make_sensor(ScriptedHook(None), audience_name="Gone").poke({})


def test_poke_mode_waits_until_live_and_returns_the_result():
    hook = ScriptedHook(PENDING, api_error(status=503), PENDING, LIVE)
    assert make_sensor(hook, poke_interval=0).execute({}) == RESULT
    assert hook.answers == []


# --- Deferrable ---------------------------------------------------------------------------------


def test_deferrable_returns_at_once_when_already_live():
    hook = ScriptedHook(LIVE)
    assert make_sensor(hook, deferrable=True).execute({}) == RESULT
    assert hook.reads == [f"id:{LIST_ID}"]


def test_deferrable_checks_once_then_defers_to_the_trigger_with_a_deadline():
    sensor = make_sensor(
        ScriptedHook(PENDING),
        audience_name=NAME,
        submitted_after="2026-11-27T11:00:00+01:00",
        expected_account_total="2",
        deferrable=True,
        poke_interval=5,
        timeout=600,
        bombora_conn_id="bombora_prod",
    )
    before = time.time()
    with pytest.raises(TaskDeferred) as info:
        sensor.execute({})
    after = time.time()
    deferred = info.value
    assert deferred.method_name == "execute_complete"
    assert deferred.timeout == timedelta(seconds=600)
    assert isinstance(deferred.trigger, BomboraExportStatusTrigger)
    classpath, kwargs = deferred.trigger.serialize()
    assert classpath == "airflow_provider_bombora.triggers.bombora.BomboraExportStatusTrigger"
    assert before + 600 <= kwargs.pop("deadline") <= after + 600
    assert kwargs == {
        "account_list_id": LIST_ID,  # the name's lookup is kept
        "audience_name": NAME,
        "submitted_after": "2026-11-27T10:00:00+00:00",
        "expected_account_total": 2,
        "poll_interval": 5.0,
        "bombora_conn_id": "bombora_prod",
    }


def test_deferrable_defers_by_name_when_the_first_check_could_not_reach_bombora():
    with pytest.raises(TaskDeferred) as info:
        make_sensor(ScriptedHook(api_error(status=None)), audience_name=NAME, deferrable=True).execute({})
    _, kwargs = info.value.trigger.serialize()
    assert (kwargs["account_list_id"], kwargs["audience_name"]) == (None, NAME)


def test_deferrable_fails_at_once_on_a_lasting_failure():
    with pytest.raises(BomboraExportStatusError, match="does not exist"):
        make_sensor(ScriptedHook(api_error(BomboraNotFoundError, 404)), deferrable=True).execute({})


def test_execute_complete_returns_the_result_of_a_success_event():
    event = {"status": "success", "message": "live", **RESULT}
    assert make_sensor().execute_complete({}, event) == RESULT


def test_execute_complete_fails_with_the_reason_of_an_error_event():
    event = {"status": "error", "message": "Bombora account list x does not exist (HTTP 404)", "account_list_id": "x"}
    with pytest.raises(BomboraExportStatusError, match=r"^Bombora account list x does not exist \(HTTP 404\)$"):
        make_sensor().execute_complete({}, event)


def test_execute_complete_turns_a_timeout_event_into_airflows_sensor_timeout():
    event = {
        "status": "timeout",
        "message": "Bombora account list x was not live by the deadline",
        "account_list_id": "x",
    }
    with pytest.raises(AirflowSensorTimeout, match=r"^Bombora account list x was not live by the deadline$"):
        make_sensor().execute_complete({}, event)


# --- wait_for (the activation operator's blocking wait, in polling) -------------------------


class FakeClock:
    """time.monotonic and sleep for wait_for: sleeping advances the clock."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(polling.time, "monotonic", fake.monotonic)
    return fake


def test_wait_for_export_polls_until_live(clock):
    hook = ScriptedHook(PENDING, api_error(status=502), PENDING, LIVE)
    target = ExportTarget.from_parameters(
        account_list_id=LIST_ID, submitted_after="2026-11-27T10:00:00+00:00", expected_account_total=2
    )
    result = wait_for(hook, target, poll_interval=10, timeout=60, sleep=clock.sleep)
    assert result == RESULT
    assert clock.sleeps == [1, 2, 4]  # the first checks come quickly


def test_wait_for_export_times_out_with_what_it_waited_for(clock):
    hook = ScriptedHook(*[PENDING] * 7)
    target = ExportTarget.from_parameters(account_list_id=LIST_ID, audience_name=NAME)
    with pytest.raises(BomboraExportTimeoutError) as info:
        wait_for(hook, target, poll_interval=10, timeout=22, sleep=clock.sleep)
    assert clock.sleeps == [1, 2, 4, 8, 7]  # doubling up to the poll interval, never past the timeout
    assert len(hook.reads) == 6
    assert str(info.value) == (
        f"Bombora account list {LIST_ID} ('{NAME}') was not live within 22 s: "
        "Bombora has not applied the last upload yet (pendingUpdate is true)."
    )


def test_wait_for_export_fails_at_once_on_a_lasting_failure(clock):
    target = ExportTarget.from_parameters(account_list_id=LIST_ID)
    with pytest.raises(BomboraAuthError):
        wait_for(ScriptedHook(api_error(BomboraAuthError, 401)), target, sleep=clock.sleep)
    assert clock.sleeps == []
