"""Fault matrix: a mirror activation of 5,000 accounts, as a real Airflow task (dag.test()), with
one fault injected by the sandbox into one kind of call at a time.

The previous state of the list holds 300 accounts that left the audience and 200 that stay,
so the run removes 300 accounts (one removal batch) and adds 4,800 (five upload batches of
1,000). Injection points:

- ``upload``: the 3rd of the 5 upload batches (``POST …/{id}/accounts``);
- ``removal``: the removal batch (``POST …/{id}/delete-accounts``);
- ``lookup``: the list lookup by name (``GET /account-list/v1/account-list``, the first call
  after the token);
- ``domains``: the read of the list's current members (``GET …/{id}/accounts/domains``);
- ``token``: ``POST /oauth/token``.

For every transient fault the task must succeed, the list must end exactly equal to the 5,000
desired accounts, no upload or removal body may repeat an identifier, the request count must
stay within ``fault-free + faulted requests + C`` (``C`` per fault below), and the waits the hook
logged must be those of the documented policy (``Retry-After`` or backoff), with the real gaps
in the request log at least as long as the share of them that tests sleep (``RETRY_WAIT_SCALE``).
Persistent faults must fail the task with a clear message after exactly ``max_attempts`` tries,
sending nothing after giving up; a retry once the fault is gone converges.
"""

from __future__ import annotations

import email.utils
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest
from helpers import (
    DOMAINS,
    LISTS,
    ONE_LIST,
    REMOVALS,
    TOKEN,
    UPLOADS,
    HangGuard,
    answered_log,
    assert_no_duplicate_identifiers,
    operator_dag,
    retry_lines,
    seed_owned_list,
    settled_list,
    timestamp,
    uploaded,
    write_jsonl,
)
from retry_waits import RETRY_WAIT_SCALE

NAME = "Fault matrix audience"
DAG_ID = "fault_matrix"
DATAFLOW = f"{DAG_ID}.activate"
PREVIOUS_SNAPSHOT = "2026-11-26T00:00:00+00:00"  # the run's own is 2026-11-27
DESIRED = [f"company{i}.com" for i in range(5000)]
LEFT = [f"gone{i}.com" for i in range(300)]
PREVIOUS = LEFT + DESIRED[:200]
BATCH_SIZE = 1000

MAX_ATTEMPTS = 5  # the hook's default
MULTIPLIER = RETRY_WAIT_SCALE  # tests sleep this share of each wait (tests/retry_waits.py)
READ_TIMEOUT = 0.75  # the connection's timeout extra, for the read-timeout rows
SLOW_ANSWER = 1.5  # how long the sandbox holds a request for them
PROCESSING_DELAY = 0.2  # the sandbox's, for the 409 rows
POLL_INTERVAL = 0.05  # the operator's (helpers.OPERATOR_DAG)


@dataclass(frozen=True)
class Point:
    method: str
    path: str
    after: int = 0  # matching requests let through before the fault


POINTS = {
    "upload": Point("POST", UPLOADS, after=2),
    "removal": Point("POST", REMOVALS),
    "lookup": Point("GET", LISTS),
    "list read": Point("GET", ONE_LIST),
    "domains": Point("GET", DOMAINS),
    "token": Point("POST", TOKEN),
}
MAX_RETRY_WAIT = 60  # the hook's default cap of one wait, Retry-After included


@dataclass(frozen=True)
class Fault:
    """A sandbox fault rule and what the hook must do about it.

    ``retry_after`` given as ``("date", seconds)`` becomes an HTTP date that many seconds from
    the injection. ``retry_after_wait`` is the range (in seconds, before the test multiplier)
    the hook's wait must fall in when it honours the header; ``None`` means backoff.
    """

    rule: dict
    waits: str  # "retry_after", "backoff", "timeout" (backoff after a read timeout), "none"
    retry_after_wait: tuple[float, float] | None = None
    extra: int = 0  # C: requests allowed beyond fault-free + faulted ones
    points: tuple[str, ...] = tuple(POINTS)
    settings: dict = field(default_factory=dict)


# C is 0 where every extra request is a retry of the faulted one; 1 for an expired token (one
# new token); for a 409, the GET-list polls of the wait for the pending update (at most
# PROCESSING_DELAY / POLL_INTERVAL + 1) plus the repeat of the refused write.
POLLS = int(PROCESSING_DELAY / POLL_INTERVAL) + 1
WRITES = ("upload", "removal")
TRANSIENT = {
    "429 Retry-After seconds": Fault({"status": 429, "retry_after": "2"}, "retry_after", (2, 2)),
    # An HTTP date 20 s ahead, in whole seconds: 19 to 20 s when the retry is planned (at least
    # 10 s however slow the machine is).
    "429 Retry-After HTTP date": Fault({"status": 429, "retry_after": ("date", 20)}, "retry_after", (10, 20)),
    "429 Retry-After above the cap": Fault(
        {"status": 429, "retry_after": "600"}, "retry_after", (MAX_RETRY_WAIT, MAX_RETRY_WAIT), points=WRITES
    ),
    "429 Retry-After date in the past": Fault(
        {"status": 429, "retry_after": ("date", -3600)}, "retry_after", (0, 0), points=WRITES
    ),
    "429 Retry-After unparseable": Fault({"status": 429, "retry_after": "soon"}, "backoff", points=WRITES),
    "429 no Retry-After": Fault({"status": 429}, "backoff"),
    "503 burst of 3": Fault({"status": 503, "count": 3}, "backoff"),
    "500 once": Fault({"status": 500}, "backoff"),
    "502": Fault({"status": 502}, "backoff"),
    "504": Fault({"status": 504}, "backoff"),
    "dropped connection": Fault({"action": "drop"}, "backoff"),
    "read timeout": Fault({"action": "delay", "delay": SLOW_ANSWER}, "timeout"),
    # Every token issued so far expires as this call arrives: it gets 401, the hook fetches
    # one new token and repeats the call. (At the token call itself it would change nothing:
    # a 401 there is "credentials refused", a persistent fault, below.)
    "tokens expired mid-run": Fault(
        {"action": "expire_tokens"}, "none", extra=1, points=tuple(point for point in POINTS if point != "token")
    ),
    # Bombora answers 409 to account writes while an update is pending; reads and the token
    # call are never answered 409.
    "409 update pending": Fault(
        {"status": 409}, "none", extra=POLLS + 1, points=WRITES, settings={"processing_delay": PROCESSING_DELAY}
    ),
}
MATRIX = [(fault, point) for fault, spec in TRANSIENT.items() for point in spec.points]

_baseline: dict = {}


@pytest.fixture(scope="module")
def accounts_file(tmp_path_factory):
    return str(write_jsonl(tmp_path_factory.mktemp("fault-matrix") / "accounts.jsonl", DESIRED))


@pytest.fixture(autouse=True)
def hang_guard():
    with HangGuard():
        yield


@pytest.fixture
def activate(sandbox, run_dag, accounts_file, monkeypatch):
    """Seed the previous state, then run the activation; ``read_timeout`` lowers the connection's."""

    def run(read_timeout: float | None = None):
        if read_timeout is not None:
            connection = json.loads(sandbox.connection_json())
            connection["extra"] = {"timeout": read_timeout}
            monkeypatch.setenv("AIRFLOW_CONN_BOMBORA_DEFAULT", json.dumps(connection))
        return run_dag(
            DAG_ID, operator_dag(DAG_ID, audience_name=NAME, accounts=accounts_file, batch_size=BATCH_SIZE)
        )

    return run


def seed(sandbox) -> None:
    seed_owned_list(sandbox, NAME, DATAFLOW, PREVIOUS, PREVIOUS_SNAPSHOT)


@pytest.fixture
def baseline(sandbox, activate) -> dict:
    """The fault-free run's requests, measured once per session, on a sandbox reset afterwards."""
    if not _baseline:
        seed(sandbox)
        outcome = activate()
        assert outcome.task_states == {"activate": "success"}, outcome.output[-3000:]
        log = sandbox.request_log()
        _baseline["requests"] = len(log)
        _baseline["calls"] = Counter(call_kind(entry) for entry in log)
        _baseline["xcom"] = outcome.xcom["activate"]
        _baseline["retries"] = retry_lines(outcome.output)
        sandbox.reset()
    return _baseline


def call_kind(entry: dict) -> str:
    path = entry["path"]
    if path == TOKEN:
        return "token"
    if path == LISTS:
        return f"{entry['method']} lists"
    for suffix, kind in (("/accounts/domains", "domains"), ("/delete-accounts", "removal"), ("/accounts", "upload")):
        if path.endswith(suffix):
            return kind
    return f"{entry['method']} list"


def inject(sandbox, point: Point, rule: dict, **overrides) -> dict:
    rule = {**rule, **overrides}
    if isinstance(rule.get("retry_after"), tuple):
        when = datetime.now(timezone.utc) + timedelta(seconds=rule["retry_after"][1])
        rule["retry_after"] = email.utils.format_datetime(when, usegmt=True)
    return sandbox.inject_fault(point.method, point.path, after=point.after, **rule)


def expected_wait_range(spec: Fault, attempt: int) -> tuple[float, float]:
    """The least and greatest wait (s) the policy allows after failed attempt ``attempt``;
    computed bounds, not timings: the hook logs the wait it computed, with 2 decimals."""
    rounding = 0.005
    if spec.retry_after_wait is not None:
        low, high = spec.retry_after_wait
    else:  # 1, 2, 4, 8 ... s plus up to 1 s of jitter
        low, high = 2 ** (attempt - 1), 2 ** (attempt - 1) + 1
    return low - rounding, min(high, MAX_RETRY_WAIT) + rounding


def check_waits(spec: Fault, faulted: list[dict], log: list[dict], output: str, gave_up: bool = False) -> list:
    """The hook's logged waits follow the policy, and the request log shows at least those gaps.

    Every faulted attempt is followed by a logged wait and a retry, but the last one when the
    hook gave up (``gave_up``).
    """
    retries = [r for r in retry_lines(output) if (r["method"], r["path"]) == (faulted[0]["method"], faulted[0]["path"])]
    if spec.waits == "none":
        assert retries == []
        return []
    assert [r["attempt"] for r in retries] == list(range(1, len(faulted) + (0 if gave_up else 1)))
    assert {r["attempts"] for r in retries} == {MAX_ATTEMPTS}
    for retry in retries:
        low, high = expected_wait_range(spec, retry["attempt"])
        assert low <= retry["wait"] <= high, (retry, low, high)
    # One retry per faulted attempt, but none after the last when the hook gave up.
    for entry, retry in zip(faulted, retries, strict=not gave_up):
        following = next(e for e in log if e["seq"] > entry["seq"] and e["path"] == entry["path"])
        gap = timestamp(following) - timestamp(entry)
        least = 0.9 * retry["wait"] * MULTIPLIER - 0.005 + (0.9 * READ_TIMEOUT if spec.waits == "timeout" else 0)
        assert gap >= least, f"retried {gap:.3f} s after the fault, the hook said it would wait {retry['wait']} s"
    return [r["wait"] for r in retries]


def test_fault_free_run(sandbox, baseline):
    """N0, the bound every faulted run is measured against: 21 requests."""
    assert baseline["calls"] == {
        "token": 1,
        "GET lists": 1,  # the lookup by name
        # the claim: read, then read back after writing it; the wait for a pending update; a
        # check of the claim before each of the 6 batches; the read before releasing it
        "GET list": 10,
        "domains": 1,
        "PUT list": 2,  # the claim (the new snapshot, writing) and its release
        "removal": 1,
        "upload": 5,
    }
    assert baseline["requests"] == 21
    assert (baseline["xcom"]["added"], baseline["xcom"]["removed"], baseline["xcom"]["unchanged"]) == (4800, 300, 200)
    assert baseline["retries"] == []


@pytest.mark.parametrize(("fault", "point"), MATRIX, ids=[f"{f}@{p}" for f, p in MATRIX])
def test_transient_fault_is_survived(sandbox, activate, baseline, fault, point):
    spec, where = TRANSIENT[fault], POINTS[point]
    seed(sandbox)
    if spec.settings:
        sandbox.configure(**spec.settings)
    rule = inject(sandbox, where, spec.rule)

    outcome = activate(read_timeout=READ_TIMEOUT if spec.waits == "timeout" else None)

    assert outcome.task_states == {"activate": "success"}, outcome.output[-3000:]
    log = answered_log(sandbox, rule["id"] if rule["action"] == "delay" else None, SLOW_ANSWER * 10)
    account_list = settled_list(sandbox, NAME)
    assert sorted(account_list["domains"]) == sorted(DESIRED)
    assert account_list["accountTotal"] == len(DESIRED)
    assert assert_no_duplicate_identifiers(log) >= 6
    faulted = [entry for entry in log if entry["fault"] == rule["id"]]
    assert len(faulted) == rule["count"]
    # Each attempt to send a batch is preceded by a check of the claim: a repeated one too.
    checks = len(faulted) if point in ("upload", "removal") else 0
    least = baseline["requests"] + len(faulted) + checks
    assert least <= len(log) <= least + spec.extra
    check_waits(spec, faulted, log, outcome.output)
    if rule["action"] == "expire_tokens":
        assert [e["status"] for e in faulted] == [401]
        assert Counter(call_kind(e) for e in log)["token"] == 2
        assert "Bombora refused the access token" in outcome.output
    if rule["status"] == 409:
        assert [e["status"] for e in faulted] == [409]
    result = outcome.xcom["activate"]
    assert (result["added"], result["removed"], result["unchanged"]) == (4800, 300, 200)


PERSISTENT: dict[str, tuple[dict, str]] = {
    "503": ({"status": 503}, "failed (HTTP 503)"),
    "dropped connection": ({"action": "drop"}, "failed (no answer)"),
    "429 Retry-After seconds": ({"status": 429, "retry_after": "2"}, "failed (HTTP 429)"),
    "read timeout": ({"action": "delay", "delay": SLOW_ANSWER}, "failed (no answer)"),
}
PERSISTENT_MATRIX = [
    *((fault, point) for fault in ("503", "dropped connection") for point in POINTS),
    ("429 Retry-After seconds", "upload"),
    ("read timeout", "upload"),
]


@pytest.mark.parametrize(
    ("fault", "point"), PERSISTENT_MATRIX, ids=[f"{f}@{p}" for f, p in PERSISTENT_MATRIX]
)
def test_persistent_fault_fails_after_the_bounded_attempts_then_a_retry_converges(
    sandbox, activate, baseline, fault, point
):
    rule_spec, message = PERSISTENT[fault]
    where = POINTS[point]
    seed(sandbox)
    rule = inject(sandbox, where, rule_spec, count=MAX_ATTEMPTS + 20)
    timeout = READ_TIMEOUT if rule["action"] == "delay" else None

    failed = activate(read_timeout=timeout)

    assert failed.task_states == {"activate": "failed"}
    assert message in failed.output
    log = answered_log(sandbox, rule["id"] if rule["action"] == "delay" else None, SLOW_ANSWER * 10)
    faulted = [entry for entry in log if entry["fault"] == rule["id"]]
    assert len(faulted) == MAX_ATTEMPTS  # the retry budget, not one request more
    assert log[-1] is faulted[-1]  # nothing is sent after giving up
    assert len(log) <= baseline["requests"] + 2 * MAX_ATTEMPTS  # each attempt of a batch, with its claim check
    if timeout:
        spec = Fault(rule_spec, "timeout")
    elif "retry_after" in rule_spec:
        spec = Fault(rule_spec, "retry_after", (float(rule_spec["retry_after"]),) * 2)
    else:
        spec = Fault(rule_spec, "backoff")
    assert len(check_waits(spec, faulted, log, failed.output, gave_up=True)) == MAX_ATTEMPTS - 1
    assert_no_duplicate_identifiers(log)
    if point == "upload":  # the removal and the uploads the sandbox answered were applied
        held = BATCH_SIZE if rule["action"] == "delay" else 0  # a timed-out batch is still applied
        assert len(uploaded(log)) == 2 * BATCH_SIZE + held
        assert set(the_domains(sandbox)) == set(DESIRED[:200]) | uploaded(log)
    else:  # it failed before any account was written
        assert sorted(the_domains(sandbox)) == sorted(PREVIOUS)

    sandbox.clear_faults()
    sandbox.clear_request_log()
    retried = activate()

    assert retried.task_states == {"activate": "success"}, retried.output[-3000:]
    assert sorted(settled_list(sandbox, NAME)["domains"]) == sorted(DESIRED)
    assert_no_duplicate_identifiers(sandbox.request_log())


def test_credentials_refused_at_the_token_call_fail_at_once(sandbox, activate, baseline):
    """A 401 on the token call means the Client ID or secret is wrong: not retried, no write."""
    seed(sandbox)
    rule = inject(sandbox, POINTS["token"], {"status": 401}, count=MAX_ATTEMPTS)

    outcome = activate()

    assert outcome.task_states == {"activate": "failed"}
    assert "Bombora refused the Client ID or Client secret of connection 'bombora_default'" in outcome.output
    log = sandbox.request_log()
    assert [(e["path"], e["fault"]) for e in log] == [(TOKEN, rule["id"])]
    assert sorted(the_domains(sandbox)) == sorted(PREVIOUS)


def test_a_token_refused_twice_is_an_authentication_error_after_one_renewal(sandbox, activate, baseline):
    seed(sandbox)
    rule = inject(sandbox, POINTS["upload"], {"status": 401}, count=2)

    outcome = activate()

    assert outcome.task_states == {"activate": "failed"}
    assert "BomboraAuthError" in outcome.output and "failed (HTTP 401)" in outcome.output
    log = sandbox.request_log()
    assert [e["status"] for e in log if e["fault"] == rule["id"]] == [401, 401]
    assert Counter(call_kind(e) for e in log)["token"] == 2
    assert log[-1]["fault"] == rule["id"]


NOT_RETRIED = [
    (400, "upload", "BomboraApiError"),
    (403, "lookup", "BomboraAuthError"),
    (404, "list read", "BomboraNotFoundError"),
    (404, "domains", "BomboraNotFoundError"),
    (422, "removal", "BomboraApiError"),
]


@pytest.mark.parametrize(("status", "point", "error"), NOT_RETRIED, ids=[f"{s}@{p}" for s, p, _ in NOT_RETRIED])
def test_answers_that_retrying_cannot_fix_fail_at_once(sandbox, activate, baseline, status, point, error):
    seed(sandbox)
    rule = inject(sandbox, POINTS[point], {"status": status}, count=MAX_ATTEMPTS)

    outcome = activate()

    assert outcome.task_states == {"activate": "failed"}
    assert error in outcome.output and f"failed (HTTP {status})" in outcome.output
    log = sandbox.request_log()
    assert [e["fault"] for e in log].count(rule["id"]) == 1  # not retried
    assert log[-1]["fault"] == rule["id"]  # and nothing sent after it
    assert retry_lines(outcome.output) == []


def test_persistent_409_without_a_pending_update_is_bounded(sandbox, run_dag, accounts_file, baseline):
    seed(sandbox)
    rule = inject(sandbox, POINTS["removal"], {"status": 409}, count=300)
    timeout = 0.5  # pending_update_timeout: how long the operator may wait for a 409 to clear

    outcome = run_dag(
        DAG_ID,
        operator_dag(
            DAG_ID, audience_name=NAME, accounts=accounts_file, batch_size=BATCH_SIZE, pending_update_timeout=timeout
        ),
    )

    refused = [e for e in sandbox.request_log() if e["fault"] == rule["id"]]
    # Bounded by the timeout: one write every poll interval at most, plus the first and last.
    assert len(refused) <= timeout / POLL_INTERVAL + 2
    assert outcome.task_states == {"activate": "failed"}
    assert "409" in outcome.output


def the_domains(sandbox) -> list[str]:
    return settled_list(sandbox, NAME)["domains"]
