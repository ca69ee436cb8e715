"""Concurrency: parallel activations of different audiences each end exact, and one hook shared
by many threads keeps a sound token cache while tokens expire under it.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import pendulum
import pytest
from helpers import (
    MAPPINGS,
    TOKEN,
    HangGuard,
    account_writes,
    assert_no_duplicate_identifiers,
    identifiers,
    records,
    seed_owned_list,
    settled_list,
)

from airflow_provider_bombora.activation import ActivationRequest, activate_audience
from airflow_provider_bombora.hooks.bombora import BomboraHook
from airflow_provider_bombora.mappings import validate_mappings
from airflow_provider_bombora.operators.bombora import BomboraActivateAudienceOperator
from airflow_provider_bombora.plan import collect_desired

AUDIENCES = 4
SNAPSHOT = "2026-11-27T00:00:00+00:00"


@pytest.fixture(autouse=True)
def hang_guard():
    with HangGuard():
        yield


def run_in_threads(work, arguments: list, timeout: float = 120.0) -> list:
    """Run ``work(argument)`` in one thread each, started together; return results or exceptions."""
    outcomes: list = [None] * len(arguments)
    start = threading.Barrier(len(arguments))

    def target(index: int) -> None:
        start.wait(timeout=30)
        try:
            outcomes[index] = work(arguments[index])
        except Exception as error:  # noqa: BLE001 - reported by the test
            outcomes[index] = error

    threads = [threading.Thread(target=target, args=(index,)) for index in range(len(arguments))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a thread did not finish"
    return outcomes


def audience(number: int) -> tuple[str, list[str], list[str]]:
    """Name, previous members (400 left, 100 stay) and desired members (2,500) of audience ``number``."""
    desired = [f"aud{number}-company{i}.com" for i in range(2500)]
    previous = [f"aud{number}-gone{i}.com" for i in range(400)] + desired[:100]
    return f"Parallel audience {number}", previous, desired


@pytest.mark.parametrize("through", ["activate_audience", "operator.execute"])
def test_parallel_activations_of_different_audiences_each_end_exact(sandbox, through):
    # A processing delay: the second removal batch of each list meets its pending update (409)
    # and waits, while the other threads keep writing.
    sandbox.configure(processing_delay=0.05)
    audiences = [audience(number) for number in range(AUDIENCES)]
    for number, (name, previous, _) in enumerate(audiences):
        seed_owned_list(sandbox, name, f"parallel.activate{number}", previous, "2026-11-26T00:00:00+00:00")

    def activate(number: int) -> dict:
        name, _, desired = audiences[number]
        if through == "operator.execute":
            operator = BomboraActivateAudienceOperator(
                task_id=f"activate{number}", dataflow_id=f"parallel.activate{number}", audience_name=name,
                accounts=records(desired), mappings=MAPPINGS, batch_size=300, poll_interval=0.02,
            )
            when = pendulum.datetime(2026, 11, 27, tz="UTC")
            return operator.execute({"logical_date": when, "data_interval_end": when})
        request = ActivationRequest(
            audience_name=name,
            dataflow_id=f"parallel.activate{number}",
            snapshot=SNAPSHOT,
            batch_size=300,
            poll_interval=0.02,
        )
        desired_audience = collect_desired(enumerate(records(desired)), validate_mappings(MAPPINGS), sync_mode="mirror")
        return activate_audience(BomboraHook(), request, desired_audience)

    outcomes = run_in_threads(activate, list(range(AUDIENCES)))

    assert [type(outcome).__name__ for outcome in outcomes] == ["dict"] * AUDIENCES, outcomes
    lists = {}
    for (name, _, desired), result in zip(audiences, outcomes, strict=True):
        account_list = settled_list(sandbox, name)
        lists[account_list["id"]] = name
        assert sorted(account_list["domains"]) == sorted(desired)
        assert (result["added"], result["removed"], result["unchanged"]) == (2400, 400, 100)
    log = sandbox.request_log()
    assert_no_duplicate_identifiers(log)
    assert 409 in [e["status"] for e in log if e["path"].endswith("/delete-accounts")]
    # No write went to another audience's list.
    for entry in account_writes(log):
        list_number = lists[entry["path"].split("/")[4]].rsplit(" ", 1)[1]
        assert all(ident.startswith(f"aud{list_number}-") for ident in identifiers(entry))
    # Each thread used its own hook: one token each, no more.
    assert sum(e["path"] == TOKEN for e in log) == AUDIENCES


def test_one_hook_shared_by_8_threads_survives_tokens_expiring_between_rounds(sandbox):
    """Every round, all tokens expire while no call is in flight: each thread's next call gets
    401; exactly one thread fetches a new token and the others reuse it."""
    threads, rounds = 8, 6
    hook = BomboraHook()
    list_ids = [hook.create_account_list(f"Shared hook {n}") for n in range(threads)]
    sandbox.clear_request_log()
    between_rounds = threading.Barrier(threads, action=sandbox.expire_tokens)

    def work(number: int) -> list[str]:
        list_id, added = list_ids[number], []
        for round_number in range(rounds):
            between_rounds.wait(timeout=60)
            batch = [f"t{number}-r{round_number}-{i}.com" for i in range(10)]
            hook.add_accounts(list_id, batch, batch_size=5)
            added += batch
            assert hook.get_account_list(list_id)["metadata"]["accountTotal"] == len(added)
            assert sorted(hook.get_account_domains(list_id)) == sorted(added)
            found = hook.find_account_list(f"Shared hook {number}")
            assert found is not None
            assert found["id"] == list_id
        return added

    outcomes = run_in_threads(work, list(range(threads)))

    assert all(isinstance(outcome, list) for outcome in outcomes), outcomes
    log = sandbox.request_log()
    tokens = sum(e["path"] == TOKEN for e in log)
    assert tokens == rounds  # one per expiry (the first round's too), never one per thread
    refused = [e for e in log if e["status"] == 401]
    assert len(refused) <= threads * rounds  # at most one 401 per thread and round
    assert sum(e["status"] in (200, 202) for e in log if e["path"] != TOKEN) == threads * rounds * 5
    for number, added in enumerate(outcomes):
        assert sorted(settled_list(sandbox, f"Shared hook {number}")["domains"]) == sorted(added)


def test_one_hook_shared_by_8_threads_refreshes_short_lived_tokens_a_bounded_number_of_times(sandbox):
    """Tokens that live 2 s (refreshed by the hook 0.2 s before they expire) under 8 threads
    calling without pause for 4 s: every call succeeds, and tokens are fetched about once per
    lifetime, not once per thread or per call."""
    lifetime, duration, threads = 2, 4.0, 8
    sandbox.configure(token_lifetime=lifetime)
    hook = BomboraHook()
    list_id = hook.create_account_list("Short-lived tokens")
    hook.add_accounts(list_id, ["acme.com"])
    sandbox.clear_request_log()
    started = time.monotonic()

    def work(number: int) -> int:
        calls = 0
        while time.monotonic() - started < duration:
            assert hook.get_account_domains(list_id) == ["acme.com"]
            calls += 1
        return calls

    outcomes = run_in_threads(work, list(range(threads)))
    elapsed = time.monotonic() - started

    assert all(isinstance(outcome, int) and outcome > 0 for outcome in outcomes), outcomes
    log = sandbox.request_log()
    statuses = Counter(e["status"] for e in log if e["path"] != TOKEN)
    assert statuses[200] == sum(outcomes)
    tokens = sum(e["path"] == TOKEN for e in log)
    # One refresh per 1.8 s of lifetime used, plus one per 401 (a request that reached the
    # sandbox after its token's expiry, on a loaded machine), never one per thread or call.
    assert 1 <= tokens <= elapsed / (lifetime * 0.9) + 1 + statuses[401]
    assert statuses[401] <= threads * (tokens + 1)
