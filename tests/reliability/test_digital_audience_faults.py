"""Fault matrix of the digital audience push: BomboraDigitalAudienceOperator as a real Airflow task
(dag.test()) with one fault injected by the sandbox into one of the calls the push makes.

Calls (each reached by a scenario that makes the push send it):

- ``read``: the first ``GET …/{exchange}/{externalId}/{partnerId}`` (a new audience: 404 after the fault);
- ``create``: ``POST …/{exchange}`` (a new audience);
- ``update``: ``PUT …/{exchange}/{externalId}/{partnerId}`` (an audience of other inputs);
- ``activate``: ``PUT …/activate`` (the same inputs, suspended);
- ``estimate``: ``POST …/{exchange}/estimate`` (a new audience, ``estimate=True``).

Faults: 429 with ``Retry-After``, 503, a dropped connection before the sandbox processes the
request, and every token expiring as the call arrives (401, one new token, the call repeated).
For each, the task succeeds and the sandbox ends with exactly one audience, with the body of the
inputs and status Active.

A create that Bombora processed but whose answer was lost: the sandbox's ``drop`` closes the
connection before the request is processed, so it cannot lose an answer; a ``delay`` longer than
the connection's read timeout can (the held request is processed after the client gave up). The
last test does that; the unit tier (tests/unit/test_digital_audience_push.py) covers the same
policy on an in-memory API.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from helpers import HangGuard, answered_log

EXCHANGE = "trade_desk_direct"
EXTERNAL_ID = "hi-intent-ttd"
PARTNER_ID = "1234567"
NAME = "Fault matrix - TTD"
CREATE = f"/digital-audiences/v1/{EXCHANGE}"
ESTIMATE = f"{CREATE}/estimate"
ONE_AUDIENCE = f"{CREATE}/{EXTERNAL_ID}/{PARTNER_ID}"
ACTIVATE = f"{ONE_AUDIENCE}/activate"
DOMAINS = ["acme.com", "globex.com", "initech.io"]
END = (datetime.now(timezone.utc) + timedelta(days=60)).date().isoformat()

DAG_SOURCE = """
from airflow.sdk import DAG
from airflow_provider_bombora.operators.bombora import BomboraDigitalAudienceOperator

with DAG({dag_id!r}, schedule=None) as dag:
    BomboraDigitalAudienceOperator(
        task_id="push",
        data_exchange={exchange!r},
        audience_name={name!r},
        end_date={end!r},
        partner_id={partner_id!r},
        external_id={external_id!r},
        cpm_price="1.25",
        accounts={accounts!r},
        mappings=[
            {{"source": "xdm:accountKey.sourceKey", "target": "identity:primaryId"}},
            {{"source": "xdm:accountOrganization.domain", "target": "xdm:companyWebsiteDomain"}},
        ],
        **{kwargs!r},
    )
"""

EXPECTED = {
    "name": NAME,
    "endDate": f"{END}T23:59:59Z",
    "externalId": EXTERNAL_ID,
    "partnerId": PARTNER_ID,
    "cpmPrice": "1.25",
    "domains": DOMAINS,
}


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    action: str  # the push's result
    answered: int  # the status of the call once it goes through
    kwargs: tuple = ()  # more operator arguments
    seed: str | None = None  # "other inputs" or "suspended"


CALLS = {
    "read": Call("GET", ONE_AUDIENCE, "created", 404),  # not there yet
    "create": Call("POST", CREATE, "created", 201),
    "update": Call("PUT", ONE_AUDIENCE, "updated", 204, seed="other inputs"),
    "activate": Call("PUT", ACTIVATE, "unchanged", 204, seed="suspended"),
    "estimate": Call("POST", ESTIMATE, "created", 200, kwargs=(("estimate", True),)),
}
FAULTS: dict[str, dict[str, Any]] = {
    "429 Retry-After": {"status": 429, "retry_after": "2"},
    "503": {"status": 503},
    "dropped connection": {"action": "drop"},
    "tokens expired": {"action": "expire_tokens"},
}


@pytest.fixture(autouse=True)
def hang_guard():
    with HangGuard():
        yield


def records(domains) -> list[dict]:
    return [
        {"accountKey": {"sourceKey": f"key-{index}"}, "accountOrganization": {"domain": domain}}
        for index, domain in enumerate(domains)
    ]


@pytest.fixture
def push(sandbox, run_dag):
    def run(dag_id: str = "da_faults", **kwargs):
        source = DAG_SOURCE.format(
            dag_id=dag_id,
            exchange=EXCHANGE,
            name=NAME,
            end=END,
            partner_id=PARTNER_ID,
            external_id=EXTERNAL_ID,
            accounts=records(DOMAINS),
            kwargs=kwargs,
        )
        return run_dag(dag_id, source)

    return run


def seed(sandbox, kind: str) -> None:
    fields = {key: value for key, value in EXPECTED.items() if key not in ("externalId", "partnerId")}
    if kind == "other inputs":
        fields = {**fields, "cpmPrice": "3.00", "domains": ["old.com"]}
    status = "Suspended" if kind == "suspended" else "Active"
    sandbox.seed_digital_audience(EXCHANGE, EXTERNAL_ID, PARTNER_ID, status=status, **fields)


def assert_one_audience_as_expected(sandbox) -> None:
    [audience] = sandbox.digital_audiences()
    assert audience["dataExchange"] == EXCHANGE
    assert {key: audience[key] for key in EXPECTED} == {**EXPECTED, "domains": audience["domains"]}
    assert sorted(audience["domains"]) == DOMAINS
    assert audience["status"] == "Active"


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("call", CALLS)
def test_a_fault_on_each_call_converges_to_one_audience(sandbox, push, call, fault):
    spec = CALLS[call]
    if spec.seed:
        seed(sandbox, spec.seed)
    rule = sandbox.inject_fault(spec.method, spec.path, **FAULTS[fault])

    outcome = push(**dict(spec.kwargs))

    assert outcome.task_states == {"push": "success"}, outcome.output[-3000:]
    assert_one_audience_as_expected(sandbox)
    result = outcome.xcom["push"]
    assert result["action"] == spec.action
    assert result["activated"] is (call == "activate")
    if call == "estimate":
        assert result["estimate"] == len(DOMAINS)
    # The fault did hit the call, and the call was then made again and answered.
    log = sandbox.request_log()
    faulted = [entry for entry in log if entry["fault"] == rule["id"]]
    assert [(entry["method"], entry["path"]) for entry in faulted] == [(spec.method, spec.path)]
    [repeat, *_] = [
        entry
        for entry in log
        if entry["seq"] > faulted[0]["seq"] and (entry["method"], entry["path"]) == (spec.method, spec.path)
    ]
    assert repeat["status"] == spec.answered
    creates = [entry for entry in log if entry["method"] == "POST" and entry["path"] == CREATE]
    assert len([entry for entry in creates if entry["status"] == 201]) == (0 if spec.seed else 1)


def test_a_create_processed_but_whose_answer_was_lost_is_not_duplicated(sandbox, push, monkeypatch):
    # The connection's read timeout is 3 s. The first create is held 3.5 s: the client gives up,
    # then the sandbox creates the audience. The repeat, sent after the timeout, is held 1.5 s, so
    # it is processed after that (409, the external id is in use; a second of margin) and answered
    # well within the timeout: the push reads the audience back, finds it its own and leaves it.
    connection = json.loads(sandbox.connection_json())
    connection["extra"] = {"timeout": 3}
    monkeypatch.setenv("AIRFLOW_CONN_BOMBORA_DEFAULT", json.dumps(connection))
    lost = sandbox.inject_fault("POST", CREATE, action="delay", delay=3.5)
    sandbox.inject_fault("POST", CREATE, action="delay", delay=1.5)

    outcome = push(dag_id="da_faults_lost_create")

    assert outcome.task_states == {"push": "success"}, outcome.output[-3000:]
    assert_one_audience_as_expected(sandbox)
    creates = [entry["status"] for entry in answered_log(sandbox, lost["id"]) if entry["path"] == CREATE]
    assert creates == [201, 409]
    assert outcome.xcom["push"]["action"] == "unchanged"  # its own create, read back
    assert "already exists (a create that had succeeded): updating it instead" in outcome.output
