"""BomboraHook against the sandbox running as a real HTTP server on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys

import pytest

from airflow_provider_bombora.exceptions import BomboraApiError, BomboraNotFoundError, BomboraPendingUpdateError
from airflow_provider_bombora.hooks.bombora import BomboraHook

LISTS = "/account-list/v1/account-list"


@pytest.fixture
def hook(sandbox):
    return BomboraHook()


def requests_to(sandbox, method: str, suffix: str = "") -> list[dict]:
    return [e for e in sandbox.request_log() if e["method"] == method and e["path"].endswith(suffix)]


def test_account_list_lifecycle(sandbox, hook):
    list_id = hook.create_account_list("Lifecycle", "made by a test")
    assert hook.find_account_list("Lifecycle")["id"] == list_id
    assert hook.find_account_list("lifecycle") is None

    assert hook.add_accounts(list_id, (f"company{i}.com" for i in range(25)), batch_size=10) == 25
    assert sorted(hook.get_account_domains(list_id)) == sorted(f"company{i}.com" for i in range(25))
    assert hook.delete_accounts(list_id, ["company0.com", "company1.com"]) == 2
    assert len(hook.get_account_domains(list_id)) == 23

    definition = hook.get_account_list(list_id)
    assert definition["metadata"]["accountTotal"] == 23
    definition["metadata"]["description"] = "renamed"
    hook.update_account_list(list_id, {"type": "Manual", "metadata": definition["metadata"], "specification": {}})
    assert hook.find_account_list("Lifecycle")["description"] == "renamed"

    hook.empty_account_list(list_id)
    assert hook.get_account_domains(list_id) == []
    hook.delete_account_list(list_id)
    with pytest.raises(BomboraNotFoundError):
        hook.get_account_list(list_id)


def test_one_token_and_one_connection_for_many_calls(sandbox, hook):
    list_id = hook.create_account_list("Keep-alive")
    hook.add_accounts(list_id, (f"c{i}.com" for i in range(50)), batch_size=5)
    hook.get_account_domains(list_id)
    assert len(requests_to(sandbox, "POST", "/oauth/token")) == 1
    assert len(requests_to(sandbox, "POST", "/accounts")) == 10


def test_an_expired_token_is_renewed_once_and_the_call_repeated(sandbox, hook):
    list_id = hook.create_account_list("Expiry")
    sandbox.expire_tokens()
    hook.add_accounts(list_id, ["acme.com"])
    assert len(requests_to(sandbox, "POST", "/oauth/token")) == 2
    assert [e["status"] for e in requests_to(sandbox, "POST", "/accounts")] == [401, 202]


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 429, "retry_after": "1"},
        {"status": 429},
        {"status": 503, "count": 3},
        {"status": 500},
        {"status": 502},
        {"status": 504},
        {"action": "drop"},
        {"action": "delay", "delay": 1.0},
    ],
)
def test_transient_faults_are_survived(sandbox, monkeypatch, fault):
    connection = json.loads(sandbox.connection_json())
    connection["extra"] = {"timeout": 0.5}
    monkeypatch.setenv("AIRFLOW_CONN_BOMBORA_DEFAULT", json.dumps(connection))
    hook = BomboraHook()
    list_id = hook.create_account_list("Faults")
    sandbox.inject_fault("POST", f"{LISTS}/*/accounts", **fault)

    hook.add_accounts(list_id, ["acme.com", "globex.com"])

    assert sorted(hook.get_account_domains(list_id)) == ["acme.com", "globex.com"]


def test_a_persistent_fault_fails_after_the_bounded_attempts(sandbox):
    hook = BomboraHook(max_attempts=3)
    list_id = hook.create_account_list("Persistent")
    sandbox.inject_fault("POST", f"{LISTS}/*/accounts", status=503, count=10)
    sandbox.clear_request_log()

    with pytest.raises(BomboraApiError) as error:
        hook.add_accounts(list_id, ["acme.com"])

    assert (error.value.status, error.value.attempts) == (503, 3)
    assert "(HTTP 503) after 3 attempts" in str(error.value)
    assert len(requests_to(sandbox, "POST", "/accounts")) == 3


def test_409_while_an_update_is_pending(sandbox, hook):
    sandbox.configure(processing_delay=5)
    list_id = hook.create_account_list("Pending")
    hook.add_accounts(list_id, ["acme.com"])
    with pytest.raises(BomboraPendingUpdateError):
        hook.delete_accounts(list_id, ["acme.com"])
    assert len(requests_to(sandbox, "POST", "/delete-accounts")) == 1


def test_test_connection_succeeds_against_the_sandbox(sandbox, hook):
    ok, message = hook.test_connection()
    assert ok, message
    assert sandbox.url in message


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    ("connection", "fragment"),
    [
        ({"password": "wrong-secret"}, "refused"),
        ({"host": f"http://127.0.0.1:{_free_port()}"}, "127.0.0.1"),
        ({"host": "http://bombora.example.com"}, "https"),
    ],
)
def test_test_connection_reports_what_is_wrong(sandbox, monkeypatch, connection, fragment):
    monkeypatch.setenv(
        "AIRFLOW_CONN_BOMBORA_DEFAULT", json.dumps({**json.loads(sandbox.connection_json()), **connection})
    )
    ok, message = BomboraHook().test_connection()
    assert not ok
    assert fragment in message
    assert "wrong-secret" not in message and sandbox.client_secret not in message


def _connections_test(env_connection: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "AIRFLOW_CONN_BOMBORA_DEFAULT": env_connection, "AIRFLOW__CORE__TEST_CONNECTION": "Enabled"}
    return subprocess.run(
        [sys.executable, "-m", "airflow", "connections", "test", "bombora_default"],
        env=env, capture_output=True, text=True, timeout=120,
    )


def test_airflow_connections_test_cli(sandbox):
    good = _connections_test(sandbox.connection_uri())
    assert good.returncode == 0, good.stderr[-2000:]
    assert "Connection success!" in good.stdout

    bad = _connections_test(json.dumps({**json.loads(sandbox.connection_json()), "password": "wrong-secret"}))
    assert "Connection success!" not in bad.stdout
    assert "wrong-secret" not in bad.stdout + bad.stderr


# --- Errors that say what to fix (real sockets) -------------------------------------------------


def closed_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("hook_class", ["sync", "async"])
def test_an_unreachable_host_names_the_connection_and_the_api_base_url(monkeypatch, hook_class):
    port = closed_loopback_port()
    url = f"http://127.0.0.1:{port}"
    connection = {
        "conn_type": "bombora",
        "host": url,
        "login": "id",
        "password": "secret",
        "extra": {"max_attempts": 2},
    }
    monkeypatch.setenv("AIRFLOW_CONN_BOMBORA_DEFAULT", json.dumps(connection))
    with pytest.raises(BomboraApiError) as info:
        list_account_lists(hook_class)
    message = str(info.value)
    assert message == (
        "Bombora API POST /oauth/token failed (no answer) after 2 attempts: connection 'bombora_default' "
        f"(API base URL {url}): connection refused (nothing listens there); check the API base URL"
    )


async def _async_list_account_lists():
    from airflow_provider_bombora.hooks.bombora_async import BomboraAsyncHook

    async with BomboraAsyncHook() as hook:
        return await hook.list_account_lists()


def list_account_lists(hook_class: str):
    """List the account lists through the sync hook (``hook_class="sync"``) or the async one."""
    if hook_class == "sync":
        return BomboraHook().list_account_lists()
    return asyncio.run(_async_list_account_lists())


@pytest.mark.parametrize("hook_class", ["sync", "async"])
def test_a_host_without_scheme_on_a_plain_http_server_says_to_write_http(sandbox, monkeypatch, hook_class):
    host = sandbox.url.removeprefix("http://")  # e.g. 127.0.0.1:8765: https is assumed
    connection = {"conn_type": "bombora", "host": host, "login": sandbox.client_id, "password": sandbox.client_secret}
    monkeypatch.setenv("AIRFLOW_CONN_BOMBORA_DEFAULT", json.dumps(connection))
    with pytest.raises(BomboraApiError) as info:
        list_account_lists(hook_class)
    assert str(info.value) == (
        "Bombora API POST /oauth/token failed (no answer): connection 'bombora_default' "
        f"(API base URL https://{host}): the server does not speak TLS (https). If it is a plain-http "
        "server on this machine, such as the sandbox, write the API base URL with http://"
    )
    assert info.value.attempts is None  # not retried: it would fail the same way
