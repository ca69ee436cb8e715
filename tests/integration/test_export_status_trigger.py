"""BomboraExportStatusTrigger and its BomboraAsyncHook against the sandbox (a real HTTP server)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import datetime, timezone

import httpx
import pytest
from airflow.sdk._shared.module_loading import import_string
from airflow.triggers.base import TriggerEvent

from airflow_provider_bombora.export_status import ExportTarget
from airflow_provider_bombora.hooks import bombora_async
from airflow_provider_bombora.hooks.bombora import BomboraHook
from airflow_provider_bombora.hooks.bombora_async import BomboraAsyncHook
from airflow_provider_bombora.triggers import bombora as trigger_module
from airflow_provider_bombora.triggers.bombora import BomboraExportStatusTrigger

LISTS = "/account-list/v1/account-list"
ONE_LIST = f"{LISTS}/*"
NAME = "High intent accounts"


def first_event(trigger: BomboraExportStatusTrigger) -> dict:
    """Run the trigger as dag.test() does (its first event in a new event loop); the event's payload."""

    async def first() -> TriggerEvent:
        return await anext(trigger.run())

    return asyncio.run(first()).payload


def make_trigger(deadline_in: float = 10.0, **kwargs) -> BomboraExportStatusTrigger:
    kwargs.setdefault("poll_interval", 0.05)
    return BomboraExportStatusTrigger(deadline=time.time() + deadline_in, **kwargs)


@pytest.fixture
def hook(sandbox) -> BomboraHook:
    return BomboraHook()


@pytest.fixture
def live_list(sandbox) -> str:
    return sandbox.seed_account_list(NAME, domains=["acme.com", "globex.com"])["id"]


def upload_pending(sandbox, hook: BomboraHook, delay: float = 0.5) -> tuple[str, str]:
    """A list whose upload of 2 accounts Bombora applies ``delay`` s later; its id and submission time."""
    list_id = hook.create_account_list(NAME)
    sandbox.configure(processing_delay=delay)
    submitted_at = datetime.now(timezone.utc).isoformat()
    hook.add_accounts(list_id, ["acme.com", "globex.com"])
    assert sandbox.account_lists()[0]["pendingUpdate"]
    return list_id, submitted_at


def requests_to(sandbox, method: str, path_prefix: str) -> list[dict]:
    return [
        entry
        for entry in sandbox.request_log()
        if entry["method"] == method and entry["path"].startswith(path_prefix)
    ]


@pytest.fixture
def closed_clients(monkeypatch) -> list[httpx.AsyncClient]:
    """Every httpx.AsyncClient closed from now on."""
    closed = []
    original = httpx.AsyncClient.aclose

    async def recording_aclose(client):
        closed.append(client)
        await original(client)

    monkeypatch.setattr(httpx.AsyncClient, "aclose", recording_aclose)
    return closed


@pytest.fixture
def masked(monkeypatch) -> list[str]:
    """Every secret the async hook registers with amask_secret from now on."""
    secrets = []
    original = bombora_async.amask_secret

    async def recording_amask_secret(secret, name=None):
        secrets.append(secret)
        await original(secret, name)

    monkeypatch.setattr(bombora_async, "amask_secret", recording_amask_secret)
    return secrets


# --- Outcomes -----------------------------------------------------------------------------------


def test_success_once_bombora_applied_the_upload(sandbox, hook, closed_clients):
    list_id, submitted_at = upload_pending(sandbox, hook)
    payload = first_event(make_trigger(account_list_id=list_id, submitted_after=submitted_at, expected_account_total=2))
    assert payload["status"] == "success"
    assert payload["message"].startswith(f"Bombora account list {list_id} ('{NAME}') is live: 2 accounts")
    assert {key: payload[key] for key in ("account_list_id", "audience_name", "account_total", "pending_update")} == {
        "account_list_id": list_id,
        "audience_name": NAME,
        "account_total": 2,
        "pending_update": False,
    }
    applied_at = datetime.fromisoformat(payload["accounts_last_modified"]).replace(tzinfo=timezone.utc)
    assert applied_at >= datetime.fromisoformat(submitted_at)
    assert len(closed_clients) == 1  # nothing left open once the event is out


def test_a_list_is_looked_up_by_name_once(sandbox, hook):
    upload_pending(sandbox, hook, delay=0.3)
    sandbox.clear_request_log()
    payload = first_event(make_trigger(audience_name=NAME))
    assert payload["status"] == "success"
    reads = [(entry["method"], entry["path"]) for entry in sandbox.request_log() if entry["path"] != "/oauth/token"]
    assert reads[0] == ("GET", LISTS)
    assert all(path.startswith(f"{LISTS}/") for _, path in reads[1:])


def test_timeout_at_the_deadline_while_the_update_stays_pending(sandbox):
    sandbox.configure(processing_delay=60)
    list_id = sandbox.seed_account_list(NAME, pending_update=True)["id"]
    payload = first_event(make_trigger(deadline_in=0.3, account_list_id=list_id))
    assert payload["status"] == "timeout"
    assert payload["account_list_id"] == list_id
    assert "was not live by the deadline" in payload["message"]
    assert payload["message"].endswith("(pendingUpdate is true).")
    assert len(requests_to(sandbox, "GET", f"{LISTS}/")) >= 1


def test_timeout_cuts_a_check_that_outlives_the_deadline(sandbox, live_list):
    # Had the slow answer been awaited, the list (live) would have made it a success.
    sandbox.inject_fault("GET", ONE_LIST, action="delay", delay=3)
    payload = first_event(make_trigger(deadline_in=0.5, account_list_id=live_list))
    assert payload["status"] == "timeout"
    assert payload["message"].endswith("no check finished in time.")


def test_a_past_deadline_times_out_without_a_request(sandbox, live_list):
    payload = first_event(make_trigger(deadline_in=-1, account_list_id=live_list))
    assert payload["status"] == "timeout"
    assert sandbox.request_log() == []


def test_a_deleted_list_is_an_error(sandbox, hook, live_list):
    hook.delete_account_list(live_list)
    payload = first_event(make_trigger(account_list_id=live_list, audience_name=NAME))
    assert payload == {
        "status": "error",
        "message": f"Bombora account list {live_list} ('{NAME}') does not exist (HTTP 404): "
        "it was deleted, or the id is wrong",
        "account_list_id": live_list,
        "audience_name": NAME,
    }


def test_no_list_of_that_name_is_an_error(sandbox, live_list):
    payload = first_event(make_trigger(audience_name="Low intent accounts"))
    assert payload["status"] == "error"
    assert payload["message"].startswith("No Bombora account list is named 'Low intent accounts'")


def test_another_account_total_is_an_error_with_both_numbers(sandbox, live_list):
    payload = first_event(make_trigger(account_list_id=live_list, expected_account_total=3))
    assert payload["status"] == "error"
    assert "is live with accountTotal 2, but expected_account_total is 3" in payload["message"]


def test_refused_credentials_are_an_error_without_the_secret(sandbox, monkeypatch, live_list):
    connection = json.loads(sandbox.connection_json())
    connection["password"] = "wrong-client-secret-6c1d"
    monkeypatch.setenv("AIRFLOW_CONN_BOMBORA_WRONG", json.dumps(connection))
    payload = first_event(make_trigger(account_list_id=live_list, bombora_conn_id="bombora_wrong"))
    assert payload["status"] == "error"
    assert "refused the Client ID or Client secret of connection 'bombora_wrong'" in payload["message"]
    assert "wrong-client-secret-6c1d" not in json.dumps(payload)


# --- Transient trouble --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "faults",
    [
        [{"status": 503, "count": 2}],
        [{"status": 429, "retry_after": "0"}],
        [{"action": "drop"}],
        [{"status": 502}, {"status": 429, "retry_after": "0"}, {"action": "drop"}, {"status": 504}],
    ],
    ids=["503", "429", "dropped", "all four"],
)
def test_transient_faults_on_the_read_are_survived(sandbox, live_list, faults):
    for fault in faults:
        sandbox.inject_fault("GET", ONE_LIST, **fault)
    payload = first_event(make_trigger(account_list_id=live_list))
    assert payload["status"] == "success"
    statuses = [entry["status"] for entry in requests_to(sandbox, "GET", f"{LISTS}/")]
    assert statuses[-1] == 200
    assert len(statuses) == 1 + sum(fault.get("count", 1) for fault in faults)


def test_a_poll_whose_retries_ran_out_is_followed_by_the_next_poll_with_the_same_token(sandbox, live_list):
    sandbox.inject_fault("GET", ONE_LIST, status=503, count=6)  # one more than the hook's 5 attempts
    payload = first_event(make_trigger(account_list_id=live_list))
    assert payload["status"] == "success"
    assert [entry["status"] for entry in requests_to(sandbox, "GET", f"{LISTS}/")] == [503] * 6 + [200]
    assert len(requests_to(sandbox, "POST", "/oauth/token")) == 1


# --- The async hook -----------------------------------------------------------------------------


def test_the_hook_gets_one_token_masks_it_and_renews_it_once_refused(sandbox, live_list, masked):
    async def read_twice_with_an_expiry_between() -> tuple[dict, dict | None]:
        async with BomboraAsyncHook() as async_hook:
            definition = await async_hook.get_account_list(live_list)
            sandbox.expire_tokens()
            return definition, await async_hook.find_account_list(NAME)

    definition, found = asyncio.run(read_twice_with_an_expiry_between())
    assert definition["metadata"]["accountTotal"] == 2
    assert found is not None
    assert found["id"] == live_list
    assert len(requests_to(sandbox, "POST", "/oauth/token")) == 2
    assert [entry["status"] for entry in requests_to(sandbox, "GET", LISTS)] == [200, 401, 200]
    assert sandbox.client_secret in masked
    assert len([secret for secret in masked if secret != sandbox.client_secret]) == 2  # both tokens


def test_the_hook_refuses_unknown_options():
    with pytest.raises(TypeError, match="unknown option tiemout"):
        BomboraAsyncHook(tiemout=5)


# --- Serialisation and cleanup ------------------------------------------------------------------


def test_serialize_round_trips_to_an_equal_trigger_through_json():
    trigger = BomboraExportStatusTrigger(
        deadline=1_795_000_000.5,
        audience_name=NAME,
        submitted_after="2026-11-27T11:00:00.123456+01:00",
        expected_account_total="12",  # type: ignore[arg-type]  # text, as templates render it: serialised as 12
        poll_interval=30,
        bombora_conn_id="bombora_prod",
    )
    classpath, kwargs = trigger.serialize()
    assert kwargs == {
        "account_list_id": None,
        "audience_name": NAME,
        "submitted_after": "2026-11-27T10:00:00.123456+00:00",
        "expected_account_total": 12,
        "deadline": 1_795_000_000.5,
        "poll_interval": 30.0,
        "bombora_conn_id": "bombora_prod",
    }
    rebuilt = import_string(classpath)(**json.loads(json.dumps(kwargs)))
    assert type(rebuilt) is BomboraExportStatusTrigger
    assert rebuilt.serialize() == (classpath, kwargs)


@pytest.mark.parametrize("deadline", [float("nan"), "soon", None])
def test_a_deadline_must_be_epoch_seconds(deadline):
    with pytest.raises(ValueError, match="deadline: must be a number of seconds >= 0"):
        BomboraExportStatusTrigger(deadline=deadline, account_list_id="x")


def test_neither_token_nor_secret_is_serialised(sandbox, live_list, masked):
    trigger = make_trigger(account_list_id=live_list)
    assert first_event(trigger)["status"] == "success"
    assert sandbox.client_secret in masked and len(masked) == 2  # the secret and the token were in hand
    for text in (json.dumps(trigger.serialize()), repr(trigger)):
        for secret in masked:
            assert secret not in text


# The trigger is cancelled at an exact point of its own code, from wrappers of the two things it
# awaits, never after a timed sleep (which a loaded machine defeats): "in_its_poll_sleep" as it
# starts its first poll sleep; "as_a_check_returns" as its first check's answer is handed back,
# while it is still inside the wait that bounds the check. A cancellation the trigger swallowed
# shows at once: it goes on to its next poll sleep, where the wrapper stops it with an error.
@pytest.mark.parametrize(
    "moment",
    [
        "in_its_poll_sleep",
        # asyncio.wait_for of Python < 3.12 swallowed this one (CPython gh-86296): the trigger
        # bounds its checks with asyncio.wait instead.
        "as_a_check_returns",
    ],
)
def test_cancelling_the_trigger_closes_its_client(sandbox, closed_clients, monkeypatch, moment):
    sandbox.configure(processing_delay=60)  # the list stays pending: the trigger keeps polling
    list_id = sandbox.seed_account_list(NAME, pending_update=True)["id"]
    original_sleep, original_read = asyncio.sleep, ExportTarget.aread
    trigger_task: asyncio.Task | None = None
    cancelled_at: list[str] = []

    def cancel(where: str) -> None:
        cancelled_at.append(where)
        assert trigger_task is not None  # the wrappers run only once the task has started
        trigger_task.cancel()

    def sleep(delay, *args, **kwargs):
        # Only the trigger's own poll sleep; the hook's retry waits and other callers pass through.
        if sys._getframe(1).f_globals.get("__name__") == trigger_module.__name__:
            if cancelled_at:
                raise RuntimeError(f"the cancellation {cancelled_at[0]} was swallowed: the trigger went on polling")
            if moment == "in_its_poll_sleep":
                cancel("in its poll sleep")  # delivered at the await of this very sleep
        return original_sleep(delay, *args, **kwargs)

    async def read(self, client):
        status = await original_read(self, client)
        if moment == "as_a_check_returns" and not cancelled_at:
            cancel("as its first check returned")
        return status

    monkeypatch.setattr(asyncio, "sleep", sleep)
    monkeypatch.setattr(ExportTarget, "aread", read)

    async def run_and_cancel() -> str | None:
        nonlocal trigger_task
        trigger = make_trigger(120, account_list_id=list_id, poll_interval=30)
        trigger_task = asyncio.ensure_future(anext(trigger.run()))
        await asyncio.wait({trigger_task}, timeout=60)  # a hang guard only: every outcome ends the task at once
        if not trigger_task.done():
            return "the trigger was still running 60 s after it was cancelled"
        if trigger_task.cancelled():
            return None
        if trigger_task.exception() is not None:
            return str(trigger_task.exception())
        return f"the trigger ended with an event instead: {trigger_task.result().payload}"

    assert asyncio.run(run_and_cancel()) is None
    assert cancelled_at == ["in its poll sleep" if moment == "in_its_poll_sleep" else "as its first check returned"]
    assert len(closed_clients) == 1 and closed_clients[0].is_closed
