"""BomboraDigitalAudienceOperator as a real Airflow task (dag.test()) against the sandbox."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_bombora.hooks.bombora import BomboraHook

EXCHANGE = "trade_desk_direct"
EXTERNAL_ID = "hi-intent-ttd"
PARTNER_ID = "1234567"
NAME = "High intent accounts - TTD"
DA_PREFIX = "/digital-audiences/v1"
ONE_AUDIENCE = f"{DA_PREFIX}/{EXCHANGE}/{EXTERNAL_ID}/{PARTNER_ID}"
ASSET_URI = f"bombora://digital-audiences/{EXCHANGE}/{EXTERNAL_ID}/{PARTNER_ID}"
MAPPINGS = [
    {"source": "xdm:accountKey.sourceKey", "target": "identity:primaryId"},
    {"source": "xdm:accountOrganization.domain", "target": "xdm:companyWebsiteDomain"},
]

DAG_SOURCE = """
from airflow.sdk import DAG
from airflow_provider_bombora.operators.bombora import BomboraDigitalAudienceOperator

with DAG({dag_id!r}, schedule=None) as dag:
    BomboraDigitalAudienceOperator(task_id="push", poll_interval=0.05, **{kwargs!r})
"""

ACTIVATE_THEN_PUSH = """
from airflow.sdk import DAG
from airflow_provider_bombora.operators.bombora import (
    BomboraActivateAudienceOperator,
    BomboraDigitalAudienceOperator,
)

with DAG({dag_id!r}, schedule=None) as dag:
    activate = BomboraActivateAudienceOperator(
        task_id="activate", audience_name="High intent accounts", accounts={accounts!r}, mappings={mappings!r}
    )
    BomboraDigitalAudienceOperator(
        task_id="push", account_list_id=activate.output["account_list_id"], poll_interval=0.05, **{kwargs!r}
    )
"""


def end_date(days: int = 60) -> str:
    """A date ``days`` ahead of the real clock (the check is against now, not the logical date)."""
    return (datetime.now(timezone.utc) + timedelta(days=days)).date().isoformat()


def expected_end(day: str) -> str:
    return f"{day}T23:59:59Z"  # a date means the end of that day, UTC


def records(*domains: str) -> list[dict]:
    return [
        {"accountKey": {"sourceKey": f"key-{index}"}, "accountOrganization": {"domain": domain}}
        for index, domain in enumerate(domains)
    ]


def inputs(**overrides) -> dict:
    kwargs = {
        "data_exchange": EXCHANGE,
        "audience_name": NAME,
        "end_date": END,
        "partner_id": PARTNER_ID,
        "external_id": EXTERNAL_ID,
        "cpm_price": "1.25",
        "topics": ["1234"],
    }
    kwargs.update(overrides)
    return {key: value for key, value in kwargs.items() if value is not None}


END = end_date()


@pytest.fixture
def push(sandbox, run_dag):
    """Run a one-task DAG pushing a digital audience; ``kwargs`` override :func:`inputs`."""

    def run(dag_id="dsp_push", **kwargs):
        return run_dag(dag_id, DAG_SOURCE.format(dag_id=dag_id, kwargs=inputs(**kwargs)))

    return run


def seed_as_pushed(sandbox, status: str) -> None:
    """An audience of the default inputs, as a push of them left it, in ``status``."""
    fields = {"name": NAME, "endDate": expected_end(END), "cpmPrice": "1.25", "topics": ["1234"]}
    sandbox.seed_digital_audience(EXCHANGE, EXTERNAL_ID, PARTNER_ID, status=status, **fields)


def da_requests(sandbox) -> list[dict]:
    return [entry for entry in sandbox.request_log() if entry["path"].startswith(DA_PREFIX)]


def da_writes(sandbox) -> list[tuple[str, str]]:
    """(method, path) of every write to the Digital Audience Builder, estimates excluded."""
    return [
        (entry["method"], entry["path"])
        for entry in da_requests(sandbox)
        if entry["method"] in ("POST", "PUT", "DELETE") and not entry["path"].endswith("/estimate")
    ]


def the_audience(sandbox) -> dict:
    [audience] = sandbox.digital_audiences()
    return audience


def asset_events(uri: str) -> list[dict]:
    """The events Airflow recorded for the asset ``uri``, oldest first, as their extras."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        events = (
            session.query(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetModel.uri == uri)
            .order_by(AssetEvent.id)
            .all()
        )
        return [dict(event.extra) for event in events]


# --- Create, rerun, update ----------------------------------------------------------------------


def test_a_first_push_creates_the_audience_with_exactly_the_inputs(sandbox, push):
    outcome = push(topics=None, accounts=records("acme.com", "https://www.Globex.com/about"), mappings=MAPPINGS)

    assert outcome.task_states == {"push": "success"}, outcome.output[-3000:]
    audience = the_audience(sandbox)
    assert audience["dataExchange"] == EXCHANGE
    assert sorted(audience["domains"]) == ["acme.com", "globex.com"]
    assert {key: audience[key] for key in ("name", "endDate", "externalId", "partnerId", "cpmPrice")} == {
        "name": NAME,
        "endDate": expected_end(END),
        "externalId": EXTERNAL_ID,
        "partnerId": PARTNER_ID,
        "cpmPrice": "1.25",
    }
    assert "topics" not in audience
    assert audience["status"] == "Active"  # processing_delay 0
    result = outcome.xcom["push"]
    assert {key: result[key] for key in ("action", "domain_count", "dry_run", "activated", "estimate")} == {
        "action": "created",
        "domain_count": 2,
        "dry_run": False,
        "activated": False,
        "estimate": None,
    }
    assert (result["data_exchange"], result["external_id"], result["partner_id"]) == (
        EXCHANGE,
        EXTERNAL_ID,
        PARTNER_ID,
    )
    assert [method for method, _ in da_writes(sandbox)] == ["POST"]


def test_a_rerun_with_the_same_inputs_changes_nothing(sandbox, push):
    first = push()
    assert first.task_states == {"push": "success"}
    before = the_audience(sandbox)
    sandbox.clear_request_log()

    rerun = push()

    assert rerun.task_states == {"push": "success"}
    assert da_writes(sandbox) == []
    assert [entry["method"] for entry in da_requests(sandbox)] == ["GET"]
    result = rerun.xcom["push"]
    assert (result["action"], result["changed_fields"], result["status"]) == ("unchanged", [], "Active")
    assert the_audience(sandbox) == before


def test_changed_inputs_update_the_one_audience_with_one_put(sandbox, push):
    push(topics=["1234"])
    sandbox.clear_request_log()

    outcome = push(topics=["1234", "5678"], cpm_price="2")

    assert outcome.task_states == {"push": "success"}
    assert da_writes(sandbox) == [("PUT", ONE_AUDIENCE)]
    result = outcome.xcom["push"]
    assert result["action"] == "updated"
    assert sorted(result["changed_fields"]) == ["cpmPrice", "topics"]
    audience = the_audience(sandbox)  # still exactly one
    assert (sorted(audience["topics"]), audience["cpmPrice"], audience["name"]) == (["1234", "5678"], "2.00", NAME)


# --- Where the domains come from ----------------------------------------------------------------


def test_the_domains_of_an_activated_account_list(sandbox, run_dag):
    source = ACTIVATE_THEN_PUSH.format(
        dag_id="dsp_from_list",
        accounts=records("acme.com", "WWW.Globex.com", "initech.io"),
        mappings=MAPPINGS,
        kwargs=inputs(topics=None),
    )
    outcome = run_dag("dsp_from_list", source)

    assert outcome.task_states == {"activate": "success", "push": "success"}, outcome.output[-3000:]
    assert sorted(the_audience(sandbox)["domains"]) == ["acme.com", "globex.com", "initech.io"]
    assert outcome.xcom["push"]["domain_count"] == 3
    list_id = outcome.xcom["activate"]["account_list_id"]
    assert any(entry["path"].startswith(f"/account-list/v1/account-list/{list_id}") for entry in sandbox.request_log())


def test_records_are_normalised_deduplicated_and_rejections_reported_masked(sandbox, push):
    outcome = push(
        topics=None,
        accounts=records("acme.com", "https://www.ACME.com/pricing", "globex.com", "jane.doe@initech.io"),
        mappings=MAPPINGS,
        max_rejected_ratio=0.5,
    )

    assert outcome.task_states == {"push": "success"}, outcome.output[-3000:]
    assert sorted(the_audience(sandbox)["domains"]) == ["acme.com", "globex.com"]
    result = outcome.xcom["push"]
    assert (result["records_received"], result["records_rejected"], result["records_duplicates"]) == (4, 1, 1)
    assert result["domain_count"] == 2
    [rejected] = result["rejected_sample"]
    assert rejected["reason"] == "email"
    assert rejected["value"] == "j***@initech.io"
    assert "jane.doe" not in str(result)


def test_too_many_rejected_records_fail_before_any_request(sandbox, push):
    outcome = push(topics=None, accounts=records("acme.com", "10.0.0.1", "localhost"), mappings=MAPPINGS)

    assert outcome.task_states == {"push": "failed"}
    assert "max_rejected_ratio" in outcome.output
    assert sandbox.request_log() == []
    assert sandbox.digital_audiences() == []


# --- Conflict, activation ----------------------------------------------------------------------


def test_an_external_id_of_another_partner_fails_at_once_and_changes_nothing(sandbox, push):
    seeded = sandbox.seed_digital_audience(
        EXCHANGE, EXTERNAL_ID, "7654321", name="Theirs", endDate="2030-01-31T00:00:00Z", cpmPrice="3.00"
    )
    sandbox.clear_request_log()

    outcome = push(retries=2)

    assert outcome.task_states == {"push": "failed"}  # not up_for_retry, though retries=2
    assert "HTTP 409" in outcome.output
    assert f"the external id {EXTERNAL_ID!r} is used on The Trade Desk by another partner's audience" in outcome.output
    assert [method for method, _ in da_writes(sandbox)] == ["POST"]  # the refused create, nothing else
    [audience] = sandbox.digital_audiences()
    assert {key: audience[key] for key in seeded} == seeded


def test_a_suspended_audience_is_activated(sandbox, push):
    push()
    BomboraHook().suspend_digital_audience(EXCHANGE, EXTERNAL_ID, PARTNER_ID)
    assert the_audience(sandbox)["status"] == "Suspended"
    sandbox.clear_request_log()

    outcome = push()

    assert outcome.task_states == {"push": "success"}
    assert da_writes(sandbox) == [("PUT", f"{ONE_AUDIENCE}/activate")]
    result = outcome.xcom["push"]
    assert (result["action"], result["activated"], result["status"]) == ("unchanged", True, "Active")
    assert the_audience(sandbox)["status"] == "Active"


@pytest.mark.parametrize(("activate", "status", "writes"), [(True, "Active", 1), (False, "SUSPENDED", 0)])
def test_a_seeded_suspended_audience_is_activated_only_when_asked(sandbox, push, activate, status, writes):
    seed_as_pushed(sandbox, status="SUSPENDED")

    outcome = push(activate=activate)

    assert outcome.task_states == {"push": "success"}, outcome.output[-3000:]
    result = outcome.xcom["push"]
    assert (result["action"], result["activated"]) == ("unchanged", activate)
    assert len(da_writes(sandbox)) == writes
    assert the_audience(sandbox)["status"] == status
    assert result["status"] == status


# --- Estimate and dry run -----------------------------------------------------------------------


def test_estimate_is_in_the_result(sandbox, push):
    outcome = push(
        topics=None, accounts=records("acme.com", "globex.com", "initech.io"), mappings=MAPPINGS, estimate=True
    )

    assert outcome.task_states == {"push": "success"}
    assert outcome.xcom["push"]["estimate"] == 3  # the sandbox counts the distinct domains
    assert [entry["path"] for entry in da_requests(sandbox) if entry["method"] == "POST"] == [
        f"{DA_PREFIX}/{EXCHANGE}/estimate",
        f"{DA_PREFIX}/{EXCHANGE}",
    ]


def test_a_dry_run_writes_nothing_and_returns_the_payload_and_estimate(sandbox, push):
    before = len(asset_events(ASSET_URI))
    outcome = push(
        dag_id="dsp_dry_run",
        topics=None,
        accounts=records(*(f"company{i}.com" for i in range(12))),
        mappings=MAPPINGS,
        dry_run=True,
    )

    assert outcome.task_states == {"push": "success"}, outcome.output[-3000:]
    assert da_writes(sandbox) == []
    assert sandbox.digital_audiences() == []
    result = outcome.xcom["push"]
    assert (result["action"], result["dry_run"], result["estimate"], result["status"]) == ("dry_run", True, 12, None)
    payload = result["payload"]
    assert (payload["name"], payload["cpmPrice"], payload["endDate"]) == (NAME, "1.25", expected_end(END))
    assert (len(payload["domains"]), payload["domains_total"]) == (10, 12)
    assert len(asset_events(ASSET_URI)) == before


# --- Validation before any request --------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        ({"cpm_price": None}, ["cpm_price", "trade_desk_direct"]),
        ({"data_exchange": "appnexus", "cpm_price": "1.30"}, ["cpm_price", "0.25"]),
        ({"end_date": "2020-01-01"}, ["end_date", "future"]),
        ({"end_date": end_date(days=500)}, ["end_date", "13 months"]),
        ({"topics": None}, ["domains", "topics"]),
        ({"data_exchange": "media_math_direct", "external_id": "abc"}, ["external_id", "digits only, at least 7"]),
        ({"filters": [{"id": "planet", "values": ["mars"]}]}, ["filters", "planet"]),
    ],
    ids=[
        "cpm missing",
        "xandr cpm step",
        "end date past",
        "end date too far",
        "no targeting",
        "mediamath id",
        "filter id",
    ],
)
def test_invalid_inputs_fail_naming_the_field_before_any_request(sandbox, push, overrides, fragments):
    # Templated so that the parse-time checks let the DAG load: the task's own check must refuse it.
    overrides = {
        name: f"{{{{ '{value}' }}}}" if isinstance(value, str) else value
        for name, value in {**overrides, "audience_name": NAME}.items()
    }
    outcome = push(retries=1, **overrides)

    assert outcome.task_states == {"push": "failed"}  # not up_for_retry, though retries=1
    for fragment in fragments:
        assert fragment in outcome.output
    assert da_requests(sandbox) == []
    assert sandbox.digital_audiences() == []


# --- Waiting until active -----------------------------------------------------------------------


@pytest.mark.parametrize("deferrable", [False, True])
def test_wait_for_completion_returns_once_the_audience_is_active(sandbox, push, deferrable):
    sandbox.configure(processing_delay=0.5)

    outcome = push(wait_for_completion=True, deferrable=deferrable, wait_timeout=30)

    assert outcome.task_states == {"push": "success"}, outcome.output[-3000:]
    result = outcome.xcom["push"]
    assert (result["action"], result["status"]) == ("created", "Active")
    assert ("BomboraDigitalAudienceTrigger" in outcome.output) is deferrable
    reads = [entry for entry in da_requests(sandbox) if entry["method"] == "GET"]
    assert len(reads) >= 3  # the push's own read, its read after the create (Pending), the wait's
    assert the_audience(sandbox)["status"] == "Active"


@pytest.mark.parametrize("deferrable", [False, True])
def test_wait_for_completion_fails_when_the_audience_stays_pending(sandbox, push, deferrable):
    sandbox.configure(processing_delay=60)

    outcome = push(wait_for_completion=True, deferrable=deferrable, wait_timeout=1)

    assert outcome.task_states == {"push": "failed"}
    assert "BomboraDigitalAudienceTimeoutError" in outcome.output
    assert "Pending" in outcome.output


# --- Asset event --------------------------------------------------------------------------------


@pytest.mark.parametrize("templated", [False, True])
def test_a_push_emits_an_event_for_the_audience_asset_with_the_result(sandbox, push, templated):
    external_id = "{{ 'hi-intent-ttd' }}" if templated else EXTERNAL_ID
    before = len(asset_events(ASSET_URI))

    outcome = push(dag_id=f"dsp_asset_{templated}", external_id=external_id)

    assert outcome.task_states == {"push": "success"}, outcome.output[-3000:]
    events = asset_events(ASSET_URI)
    assert len(events) == before + 1
    assert events[-1] == outcome.xcom["push"]
    assert (events[-1]["action"], events[-1]["external_id"]) == ("created", EXTERNAL_ID)


def test_a_push_that_waited_deferred_emits_the_event_with_the_active_status(sandbox, push):
    sandbox.configure(processing_delay=0.3)
    before = len(asset_events(ASSET_URI))

    outcome = push(dag_id="dsp_asset_deferred", wait_for_completion=True, deferrable=True, wait_timeout=30)

    assert outcome.task_states == {"push": "success"}, outcome.output[-3000:]
    events = asset_events(ASSET_URI)
    assert len(events) == before + 1
    assert events[-1]["status"] == "Active"


@pytest.mark.parametrize("deferrable", [False, True])
def test_waiting_for_an_audience_left_suspended_fails_at_once(sandbox, push, deferrable):
    seed_as_pushed(sandbox, status="Suspended")

    outcome = push(activate=False, wait_for_completion=True, deferrable=deferrable, wait_timeout=30, retries=2)

    assert outcome.task_states == {"push": "failed"}  # not up_for_retry, though retries=2
    assert "is suspended: Bombora does not deliver it to The Trade Desk" in outcome.output
    assert da_writes(sandbox) == []
