"""A task that dies half-way through its writes, then is retried, ends with the exact list.

- an exception inside the upload (or removal) loop after K batches, retried by Airflow itself
  (``retries=1`` on the task, under ``dag.test()``);
- the process running the operator killed with SIGKILL while its K+1-th upload batch is in
  flight, then the task run again;
- two dataflows activating the same new audience at the same moment: exactly one wins, the
  other gets the conflict error and writes nothing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from datetime import datetime, timezone

import pytest
from helpers import (
    LISTS,
    MAPPINGS,
    UPLOADS,
    HangGuard,
    account_writes,
    answered_log,
    assert_no_duplicate_identifiers,
    identifiers,
    records,
    seed_owned_list,
    settled_list,
    uploaded,
    wait_for,
    write_jsonl,
)

from airflow_provider_bombora.ownership import ListOwnership, parse_description

NAME = "Crash audience"
DESIRED = [f"company{i}.com" for i in range(1000)]
LEFT = [f"gone{i}.com" for i in range(300)]
PREVIOUS = LEFT + DESIRED[:200]
BATCH_SIZE = 100  # 3 removal batches, 8 upload batches
SNAPSHOT = "2026-11-27T00:00:00+00:00"  # dag.test()'s logical date in tests/conftest.py


def ownership_of(description: str) -> ListOwnership:
    """The provider's marker in a list's description, which must have one."""
    ownership = parse_description(description)[1]
    assert ownership is not None, description
    return ownership


@pytest.fixture(autouse=True)
def hang_guard():
    with HangGuard():
        yield


@pytest.fixture
def accounts_file(tmp_path):
    return str(write_jsonl(tmp_path / "accounts.jsonl", DESIRED))


# The task's first try dies after CRASH_AFTER batches of the given kind (RuntimeError from the
# hook, as a worker losing its database or a bug would); Airflow retries it once, at once.
CRASHING_DAG = """
from datetime import timedelta

from airflow.sdk import DAG

from airflow_provider_bombora.hooks.bombora import BomboraHook
from airflow_provider_bombora.operators.bombora import BomboraActivateAudienceOperator


class WorkerLost(RuntimeError):
    pass


class CrashingHook(BomboraHook):
    def __init__(self, suffix, crash_after, **kwargs):
        super().__init__(**kwargs)
        self.suffix, self.crash_after, self.sent = suffix, crash_after, 0

    def _call(self, method, path, body=None, **kwargs):
        if method == "POST" and path.endswith(self.suffix):
            if self.sent == self.crash_after:
                raise WorkerLost(f"worker lost after {{self.sent}} batches to {{self.suffix}}")
            self.sent += 1
        return super()._call(method, path, body, **kwargs)


class CrashOnFirstTry(BomboraActivateAudienceOperator):
    def execute(self, context):
        if context["ti"].try_number == 1:
            self.hook = CrashingHook({suffix!r}, {crash_after!r}, bombora_conn_id=self.bombora_conn_id)
        return super().execute(context)


with DAG("crash", schedule=None, default_args={{"retries": 1, "retry_delay": timedelta(0)}}) as dag:
    CrashOnFirstTry(
        task_id="activate",
        audience_name={name!r},
        accounts={accounts!r},
        mappings={mappings!r},
        batch_size={batch_size!r},
        poll_interval=0.05,
    )
"""


@pytest.mark.parametrize(
    ("suffix", "crash_after", "new_audience"),
    [
        ("/delete-accounts", 1, False),
        ("/accounts", 0, False),
        ("/accounts", 3, False),
        ("/accounts", 7, False),
        ("/accounts", 2, True),
    ],
    ids=["removal-after-1", "upload-before-first", "upload-after-3", "upload-after-7-of-8", "new-list-upload-after-2"],
)
def test_exception_after_k_batches_then_airflow_retry_converges(
    sandbox, run_dag, accounts_file, suffix, crash_after, new_audience
):
    if not new_audience:
        seed_owned_list(sandbox, NAME, "crash.activate", PREVIOUS, "2026-11-26T00:00:00+00:00")
    source = CRASHING_DAG.format(
        suffix=suffix,
        crash_after=crash_after,
        name=NAME,
        accounts=accounts_file,
        mappings=MAPPINGS,
        batch_size=BATCH_SIZE,
    )

    outcome = run_dag("crash", source)

    assert outcome.task_states == {"activate": "success"}
    assert f"WorkerLost: worker lost after {crash_after} batches to {suffix}" in outcome.output
    assert sorted(settled_list(sandbox, NAME)["domains"]) == sorted(DESIRED)
    log = sandbox.request_log()
    assert_no_duplicate_identifiers(log)
    # The retry planned from the list as the crash left it: nothing sent twice, nothing missed.
    added = [ident for e in account_writes(log) if e["path"].endswith("/accounts") for ident in identifiers(e)]
    removed = [ident for e in account_writes(log) if e["path"].endswith("/delete-accounts") for ident in identifiers(e)]
    result = outcome.xcom["activate"]
    ownership = ownership_of(settled_list(sandbox, NAME)["description"])
    assert (ownership.dataflow_id, ownership.snapshot) == ("crash.activate", SNAPSHOT)
    if new_audience:  # the first try created the list; the retry found it and finished it
        assert len(sandbox.account_lists()) == 1
        assert [e["status"] for e in log if e["method"] == "POST" and e["path"] == LISTS] == [200]
        assert sorted(added) == sorted(DESIRED) and removed == []
        assert (result["removed"], result["added"]) == (0, 1000 - crash_after * BATCH_SIZE)
        return
    assert sorted(added) == sorted(DESIRED[200:])
    assert sorted(removed) == sorted(LEFT)
    if suffix == "/accounts":  # the removals were done by the first try
        assert (result["removed"], result["added"]) == (0, 800 - crash_after * BATCH_SIZE)
    else:
        assert (result["removed"], result["added"]) == (300 - crash_after * BATCH_SIZE, 800)


# The operator as a worker process runs it, outside any scheduler: killed with SIGKILL, it
# leaves no chance to clean up.
WORKER = """
import json
import sys

import pendulum

from airflow_provider_bombora.operators.bombora import BomboraActivateAudienceOperator

name, accounts, mappings, batch_size = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
operator = BomboraActivateAudienceOperator(
    task_id="activate", dataflow_id="killed.activate", audience_name=name, accounts=accounts,
    mappings=mappings, batch_size=batch_size, poll_interval=0.05,
)
when = pendulum.datetime(2026, 11, 27, tz="UTC")
print("RESULT", operator.execute({"logical_date": when, "data_interval_end": when}), flush=True)
"""

KILLED_DAG = """
from airflow.sdk import DAG

from airflow_provider_bombora.operators.bombora import BomboraActivateAudienceOperator

with DAG("killed", schedule=None) as dag:
    BomboraActivateAudienceOperator(
        task_id="activate", audience_name={name!r}, accounts={accounts!r}, mappings={mappings!r},
        batch_size={batch_size!r}, poll_interval=0.05,
    )
"""


def test_process_killed_mid_upload_then_rerun_converges(sandbox, run_dag, accounts_file, tmp_path):
    killed_after = 3  # upload batches answered when the worker is killed
    seed_owned_list(sandbox, NAME, "killed.activate", PREVIOUS, "2026-11-26T00:00:00+00:00")
    # Every upload is held 0.5 s, so the kill lands while batch killed_after + 1 is in flight.
    held = sandbox.inject_fault("POST", UPLOADS, action="delay", delay=0.5, count=1000)
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(WORKER))
    worker = subprocess.Popen(
        [sys.executable, str(script), NAME, accounts_file, json.dumps(MAPPINGS), str(BATCH_SIZE)],
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(
            lambda: worker.poll() is not None
            or sum(e["status"] == 202 for e in sandbox.request_log() if e["path"].endswith("/accounts"))
            >= killed_after,
            120,
            f"the worker to have {killed_after} upload batches answered",
        )
        worker.send_signal(signal.SIGKILL)
        output = worker.communicate(timeout=30)[0].decode(errors="replace")
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=30)
    assert worker.returncode == -signal.SIGKILL, output  # killed, not finished
    assert "RESULT" not in output
    sandbox.clear_faults()
    # The batch in flight is applied or not, as Bombora may do; wait until the sandbox decided.
    log = answered_log(sandbox, held["id"])
    partial = set(settled_list(sandbox, NAME)["domains"])
    assert partial == set(DESIRED[:200]) | uploaded(log)
    # Killed half-way: at least the batches seen answered, not all of them (usually one more).
    assert killed_after * BATCH_SIZE <= len(uploaded(log)) < len(DESIRED) - 200
    assert not partial & set(LEFT)  # the removals had been done

    rerun = run_dag(
        "killed", KILLED_DAG.format(name=NAME, accounts=accounts_file, mappings=MAPPINGS, batch_size=BATCH_SIZE)
    )

    assert rerun.task_states == {"activate": "success"}, rerun.output[-3000:]
    assert sorted(settled_list(sandbox, NAME)["domains"]) == sorted(DESIRED)
    assert_no_duplicate_identifiers(sandbox.request_log())
    result = rerun.xcom["activate"]
    assert result["removed"] == 0
    assert result["added"] == len(DESIRED) - len(partial)


def test_two_dataflows_racing_for_one_new_audience_one_conflict_and_nothing_lost(sandbox):
    """Both look the name up before either creates the list (their hooks wait for each other
    after the first lookup): one create wins, the other gets 422, finds the winner's list owned
    by another dataflow, and fails with the conflict error without writing anything."""
    from airflow_provider_bombora.activation import ActivationRequest, activate_audience
    from airflow_provider_bombora.exceptions import BomboraAudienceConflictError
    from airflow_provider_bombora.hooks.bombora import BomboraHook
    from airflow_provider_bombora.mappings import validate_mappings
    from airflow_provider_bombora.plan import collect_desired

    audiences = {
        "team_a.activate": [f"a{i}.com" for i in range(1500)],
        "team_b.activate": [f"b{i}.com" for i in range(1500)],
    }
    outcomes: dict[str, object] = {}
    start = threading.Barrier(len(audiences))
    both_looked = threading.Barrier(len(audiences))

    class RacingHook(BomboraHook):
        """Holds its first lookup's answer until the other dataflow has looked too."""

        looked = False

        def find_account_list(self, name):
            found = super().find_account_list(name)
            if not self.looked:
                self.looked = True
                both_looked.wait(timeout=30)
            return found

    def activate(dataflow_id: str) -> None:
        desired = collect_desired(
            enumerate(records(audiences[dataflow_id])), validate_mappings(MAPPINGS), sync_mode="mirror"
        )
        request = ActivationRequest(audience_name=NAME, dataflow_id=dataflow_id, snapshot=SNAPSHOT, batch_size=500)
        start.wait(timeout=30)
        try:
            outcomes[dataflow_id] = activate_audience(RacingHook(), request, desired, sleep=lambda s: None)
        except Exception as error:  # noqa: BLE001 - the test inspects it
            outcomes[dataflow_id] = error

    threads = [threading.Thread(target=activate, args=(dataflow,)) for dataflow in audiences]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive()

    conflicts = {d: o for d, o in outcomes.items() if isinstance(o, BomboraAudienceConflictError)}
    winners = {d: o for d, o in outcomes.items() if isinstance(o, dict)}
    assert len(conflicts) == 1 and len(winners) == 1, outcomes
    ((loser, error),) = conflicts.items()
    ((winner, result),) = winners.items()
    assert f"dataflow {winner!r}" in str(error) and result["account_list_id"] in str(error)
    (account_list,) = sandbox.account_lists()  # one list, not two
    assert sorted(settled_list(sandbox, NAME)["domains"]) == sorted(audiences[winner])
    assert ownership_of(account_list["description"]).dataflow_id == winner
    log = sandbox.request_log()
    creates = [e for e in log if e["method"] == "POST" and e["path"] == LISTS]
    assert sorted(e["status"] for e in creates) == [200, 422]
    loser_prefix = audiences[loser][0][0]
    assert not [e for e in account_writes(log) if any(i.startswith(loser_prefix) for i in identifiers(e))]
    # The winner's claim was in its create; its one PUT releases it (the marker stops saying writing).
    assert [e["path"] for e in log if e["method"] == "PUT"] == [f"{LISTS}/{result['account_list_id']}"]
    assert ownership_of(account_list["description"]).writing is False
    assert_no_duplicate_identifiers(log)


def test_snapshot_of_the_killed_run_guards_against_an_older_retry(sandbox, run_dag, accounts_file):
    """After a crash the list already records the crashed run's snapshot: an older day's retry is
    skipped, so a half-applied newer state is never rolled back to an older audience."""
    seed_owned_list(sandbox, NAME, "killed.activate", PREVIOUS, "2026-11-26T00:00:00+00:00")
    sandbox.inject_fault("POST", UPLOADS, status=503, after=2, count=100)
    source = KILLED_DAG.format(name=NAME, accounts=accounts_file, mappings=MAPPINGS, batch_size=BATCH_SIZE)
    assert run_dag("killed", source).task_states == {"activate": "failed"}
    sandbox.clear_faults()
    sandbox.clear_request_log()

    older = run_dag("killed", source, logical_date=datetime(2026, 11, 26, 12, tzinfo=timezone.utc))

    assert older.task_states == {"activate": "skipped"}
    assert [e for e in sandbox.request_log() if e["method"] != "GET" and e["path"] != "/oauth/token"] == []
    newer = run_dag("killed", source)
    assert newer.task_states == {"activate": "success"}
    assert sorted(settled_list(sandbox, NAME)["domains"]) == sorted(DESIRED)
    assert ownership_of(settled_list(sandbox, NAME)["description"]).snapshot == SNAPSHOT
