"""Runs of one audience at the same time (a backfill runs up to ten): the claim protocol of
airflow_provider_bombora.claim, played against the in-memory fake in chosen interleavings and
in random ones. Whatever the order, the list ends equal to the newest snapshot's accounts, and
older runs end with StaleSnapshotError (a skip), never another error."""

from __future__ import annotations

import random
import threading
import time

import pytest
from fakes import FakeAccountLists

from airflow_provider_bombora.activation import ActivationRequest, activate_audience
from airflow_provider_bombora.exceptions import StaleSnapshotError
from airflow_provider_bombora.ownership import ListOwnership, parse_description
from airflow_provider_bombora.plan import DesiredAudience

NAME = "High intent accounts"
DATAFLOW = "backfill.activate"


def day(n: int) -> str:
    return f"2026-11-{n:02d}T00:00:00+00:00"


def accounts_of(n: int) -> set[str]:
    """Day n's audience: 6 accounts kept every day, 4 of its own (so each day differs)."""
    return {f"kept{i}.com" for i in range(6)} | {f"day{n}-{i}.com" for i in range(4)}


def run(client: FakeAccountLists, n: int, **overrides) -> dict:
    domains = accounts_of(n)
    desired = DesiredAudience(received=len(domains), valid=len(domains), duplicates=0, to_add_candidates=set(domains))
    request = ActivationRequest(
        audience_name=NAME, dataflow_id=DATAFLOW, snapshot=day(n), batch_size=2, poll_interval=0.001, **overrides
    )
    return activate_audience(client, request, desired, sleep=lambda seconds: None)


def the_list(client: FakeAccountLists) -> dict:
    (stored,) = client.lists.values()
    return stored


def marker(client: FakeAccountLists) -> ListOwnership:
    ownership = parse_description(the_list(client)["description"])[1]
    assert ownership is not None
    return ownership


def test_an_older_run_after_a_newer_one_writes_nothing():
    bombora = FakeAccountLists()
    run(bombora.view(), 26)
    older = bombora.view()
    with pytest.raises(
        StaleSnapshotError, match=f"holds snapshot {day(26)[:10]}.*newer than this run's {day(24)[:10]}"
    ):
        run(older, 24)
    assert older.writes() == []
    assert the_list(bombora)["domains"] == accounts_of(26)


def test_a_newer_run_arriving_while_an_older_one_writes_stops_it_and_checks_the_list():
    bombora = FakeAccountLists()
    older, newer = bombora.view(), bombora.view()
    outcome: dict[str, dict] = {}
    # The newer run runs whole between the older run's second and third batches.
    older.before("add", 3, lambda: outcome.setdefault("newer", run(newer, 26)))
    with pytest.raises(StaleSnapshotError):
        run(older, 24)
    assert the_list(bombora)["domains"] == accounts_of(26)  # the older run's first batches were undone
    assert marker(bombora) == ListOwnership(DATAFLOW, day(26))  # released: not writing
    assert [call for call in older.writes() if call.startswith("add")] == ["add 2", "add 2"]
    # The newer run saw the older one writing, so it read the list again once its writes were done.
    assert sum(call.startswith("domains") for call in newer.calls) == 2


def test_an_older_claim_written_over_a_newer_one_is_claimed_back(monkeypatch):
    bombora = FakeAccountLists()
    list_id = bombora.seed(accounts_of(20), ownership=ListOwnership(DATAFLOW, day(20)))
    older, newer = bombora.view(), bombora.view()
    older_may_claim, newer_checks = threading.Event(), threading.Event()
    real_update = older.update_account_list

    def older_update(account_list_id, definition):
        # The older run read the marker (day 20) before the newer run claimed; its write comes after.
        older_may_claim.wait(5)
        return real_update(account_list_id, definition)

    def let_the_older_run_claim() -> None:
        older_may_claim.set()
        newer_checks.wait(5)

    monkeypatch.setattr(older, "update_account_list", older_update)
    newer.before("add", 1, let_the_older_run_claim)
    outcomes: dict[str, object] = {}

    def play(name, client, n):
        try:
            outcomes[name] = run(client, n)
        except Exception as error:  # noqa: BLE001 - the outcome is what the test checks
            outcomes[name] = error
        finally:
            newer_checks.set()

    threads = [
        threading.Thread(target=play, args=("older", older, 24)),
        threading.Thread(target=play, args=("newer", newer, 26)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not isinstance(outcomes["newer"], Exception), outcomes["newer"]
    # The older run may finish first (it cannot see the claim it overwrote) or be stopped:
    assert not isinstance(outcomes["older"], Exception) or isinstance(outcomes["older"], StaleSnapshotError)
    assert bombora.lists[list_id]["domains"] == accounts_of(26)
    assert marker(bombora) == ListOwnership(DATAFLOW, day(26))


def test_two_runs_creating_the_list_at_once_end_with_the_newer_one(monkeypatch):
    bombora = FakeAccountLists()
    older, newer = bombora.view(), bombora.view()
    real_create = newer.create_account_list

    def newer_create(name, description=None):
        run(older, 24)  # the older run creates the list and fills it between the lookup and the create
        return real_create(name, description)

    monkeypatch.setattr(newer, "create_account_list", newer_create)
    result = run(newer, 26)  # answered 422 "name in use": it claims the older run's list
    assert the_list(bombora)["domains"] == accounts_of(26)
    assert result["account_list_id"] == next(iter(bombora.lists))
    assert marker(bombora) == ListOwnership(DATAFLOW, day(26))


def test_an_older_run_answered_422_by_a_newer_runs_list_writes_nothing(monkeypatch):
    bombora = FakeAccountLists()
    older, newer = bombora.view(), bombora.view()
    real_create = older.create_account_list

    def older_create(name, description=None):
        run(newer, 26)
        return real_create(name, description)

    monkeypatch.setattr(older, "create_account_list", older_create)
    with pytest.raises(StaleSnapshotError):
        run(older, 24)
    assert [call.split()[0] for call in older.writes()] == ["create"]
    assert the_list(bombora)["domains"] == accounts_of(26)


class SlowFake(FakeAccountLists):
    """Each call takes a random moment, so that threads interleave differently at every run."""

    def __init__(self, rng: random.Random) -> None:
        super().__init__()
        self.rng = rng

    def view(self) -> FakeAccountLists:
        other = super().view()
        for method in ("find_account_list", "create_account_list", "get_account_list", "update_account_list",
                       "iter_account_domains", "_write"):
            setattr(other, method, self._slowed(getattr(other, method)))
        return other

    def _slowed(self, call):
        def slowed(*args, **kwargs):
            time.sleep(self.rng.random() * 0.002)
            return call(*args, **kwargs)

        return slowed


@pytest.mark.parametrize("seed", range(12))
def test_any_number_of_concurrent_runs_end_with_the_newest_snapshot(seed):
    rng = random.Random(seed)
    bombora = SlowFake(rng)
    if seed % 3:  # a list from an earlier day, or none yet
        bombora.seed(accounts_of(10), ownership=ListOwnership(DATAFLOW, day(10)))
    days = rng.sample(range(11, 30), 8)
    outcomes: dict[int, object] = {}

    def play(n):
        try:
            outcomes[n] = run(bombora.view(), n)
        except Exception as error:  # noqa: BLE001 - the outcome is what the test checks
            outcomes[n] = error

    threads = [threading.Thread(target=play, args=(n,)) for n in days]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    newest = max(days)
    assert not isinstance(outcomes[newest], Exception), outcomes[newest]
    for n, outcome in outcomes.items():
        assert not isinstance(outcome, Exception) or isinstance(outcome, StaleSnapshotError), (n, outcome)
    assert the_list(bombora)["domains"] == accounts_of(newest), (days, outcomes)
    assert marker(bombora) == ListOwnership(DATAFLOW, day(newest))
