"""BomboraActivateAudienceOperator as a real Airflow task (dag.test()) against the sandbox."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest

from airflow_provider_bombora.ownership import ListOwnership, parse_description, render_description

UPLOADS = "/account-list/v1/account-list/*/accounts"
REMOVALS = "/account-list/v1/account-list/*/delete-accounts"
WRITES = {UPLOADS, REMOVALS}

DAG_SOURCE = """
from airflow.sdk import DAG
from airflow_provider_bombora.operators.bombora import BomboraActivateAudienceOperator

with DAG({dag_id!r}, schedule=None) as dag:
    BomboraActivateAudienceOperator(
        task_id="activate",
        mappings=[
            {{"source": "xdm:accountKey.sourceKey", "target": "identity:primaryId"}},
            {{"source": "xdm:accountOrganization.domain", "target": "xdm:companyWebsiteDomain"}},
        ],
        poll_interval=0.05,
        **{kwargs!r},
    )
"""


def records(*domains: str, status: str | None = None) -> list[dict]:
    rows = []
    for index, domain in enumerate(domains):
        row: dict[str, object] = {
            "accountKey": {"sourceKey": f"key-{index}"},
            "accountOrganization": {"domain": domain},
        }
        if status:
            row["status"] = status
        rows.append(row)
    return rows


def day(number: int) -> datetime:
    return datetime(2026, 11, number, tzinfo=timezone.utc)


@pytest.fixture
def activate(run_dag):
    """Run a one-task DAG activating an audience; ``dag_id`` decides the default dataflow."""

    def run(dag_id="abm", logical_date=None, **kwargs):
        kwargs.setdefault("audience_name", "High intent accounts")
        return run_dag(dag_id, DAG_SOURCE.format(dag_id=dag_id, kwargs=kwargs), logical_date)

    return run


def ownership_of(account_list: dict) -> ListOwnership:
    """The provider's marker in the description of ``account_list``, which must have one."""
    ownership = parse_description(account_list["description"])[1]
    assert ownership is not None, account_list["description"]
    return ownership


def the_list(sandbox, name="High intent accounts") -> dict:
    (account_list,) = [item for item in sandbox.account_lists() if item["name"] == name]
    return account_list


def settled_list(sandbox, name="High intent accounts", timeout=10.0) -> dict:
    """The list once Bombora (the sandbox) has applied every pending update."""
    deadline = time.monotonic() + timeout
    while (account_list := the_list(sandbox, name))["pendingUpdate"]:
        assert time.monotonic() < deadline, "the sandbox never applied the pending update"
        time.sleep(0.05)
    return account_list


def write_requests(sandbox) -> list[dict]:
    return [
        entry for entry in sandbox.request_log()
        if entry["method"] in ("POST", "PUT", "DELETE") and entry["path"] != "/oauth/token"
    ]


def test_first_activation_creates_a_manual_list_owned_by_the_dataflow(sandbox, activate):
    outcome = activate(
        accounts=records("acme.com", "https://www.Globex.com/about", "initech.io"), audience_description="Q3"
    )

    assert outcome.task_states == {"activate": "success"}
    result = outcome.xcom["activate"]
    account_list = the_list(sandbox)
    assert account_list["type"] == "Manual"
    assert sorted(account_list["domains"]) == ["acme.com", "globex.com", "initech.io"]
    assert parse_description(account_list["description"]) == (
        "Q3", ListOwnership("abm.activate", "2026-11-27T00:00:00+00:00")
    )
    assert result == {
        "account_list_id": account_list["id"],
        "audience_name": "High intent accounts",
        "dataflow_id": "abm.activate",
        "sync_mode": "mirror",
        "dry_run": False,
        "snapshot": "2026-11-27T00:00:00+00:00",
        "accounts_received": 3,
        "accounts_valid": 3,
        "duplicates": 0,
        "added": 3,
        "removed": 0,
        "unchanged": 0,
        "rejected": 0,
        "rejected_by_reason": {},
        "rejected_sample": [],
        "plan_sample": {"to_add": ["acme.com", "globex.com", "initech.io"], "to_remove": []},
        "submitted_at": result["submitted_at"],
    }
    assert datetime.fromisoformat(result["submitted_at"]).tzinfo is not None


def test_mirror_reuses_the_list_adds_entrants_removes_exits_and_reruns_send_nothing(sandbox, activate):
    first = activate(accounts=records("acme.com", "globex.com", "initech.io"), logical_date=day(1))
    second = activate(accounts=records("acme.com", "initech.io", "umbrella.co.uk", "hooli.com"), logical_date=day(2))

    assert second.task_states == {"activate": "success"}
    assert second.xcom["activate"]["account_list_id"] == first.xcom["activate"]["account_list_id"]
    assert sorted(the_list(sandbox)["domains"]) == ["acme.com", "hooli.com", "initech.io", "umbrella.co.uk"]
    assert {k: second.xcom["activate"][k] for k in ("added", "removed", "unchanged")} == {
        "added": 2, "removed": 1, "unchanged": 2
    }
    removal = next(e for e in write_requests(sandbox) if e["path"].endswith("/delete-accounts"))
    assert removal["body"] == {"ids": ["globex.com"]}

    sandbox.clear_request_log()
    rerun = activate(accounts=records("acme.com", "initech.io", "umbrella.co.uk", "hooli.com"), logical_date=day(2))
    assert rerun.task_states == {"activate": "success"}
    assert write_requests(sandbox) == []
    assert rerun.xcom["activate"]["unchanged"] == 4
    assert rerun.xcom["activate"]["submitted_at"] is None  # nothing written: nothing to wait for


def test_delta_mode_adds_realized_and_existing_and_removes_exited(sandbox, activate):
    activate(accounts=records("acme.com", "globex.com", "initech.io"), logical_date=day(1))
    delta = [
        *records("hooli.com", status="realized"),
        *records("acme.com", status="existing"),
        *records("globex.com", status="exited"),
        *records("never-there.com", status="EXITED"),
        *records("pied-piper.com", status="paused"),
    ]
    outcome = activate(accounts=delta, sync_mode="delta", logical_date=day(2), max_rejected_ratio=0.5)

    assert outcome.task_states == {"activate": "success"}
    assert sorted(the_list(sandbox)["domains"]) == ["acme.com", "hooli.com", "initech.io"]
    result = outcome.xcom["activate"]
    assert (result["added"], result["removed"], result["rejected_by_reason"]) == (1, 1, {"unknown_status": 1})


def test_another_dataflow_gets_a_conflict_and_the_list_is_untouched(sandbox, activate):
    activate(dag_id="abm", accounts=records("acme.com", "globex.com"))
    before = the_list(sandbox)
    sandbox.clear_request_log()

    outcome = activate(dag_id="other_team", accounts=records("hooli.com"))

    assert outcome.task_states == {"activate": "failed"}
    assert "BomboraAudienceConflictError" in outcome.output
    assert "'abm.activate'" in outcome.output and "'other_team.activate'" in outcome.output
    assert before["id"] in outcome.output
    assert write_requests(sandbox) == []
    assert the_list(sandbox) == before


@pytest.mark.parametrize(
    ("seed", "fragment"),
    [
        ({"type": "Manual", "description": "made by hand"}, "adopt_existing=True"),
        ({"type": "Surge"}, "only Manual lists accept account uploads"),
    ],
)
def test_lists_not_made_by_the_provider_are_refused(sandbox, activate, seed, fragment):
    sandbox.seed_account_list("High intent accounts", domains=["old.com"], **seed)
    sandbox.clear_request_log()

    outcome = activate(accounts=records("acme.com"))

    assert outcome.task_states == {"activate": "failed"}
    assert fragment in outcome.output
    assert write_requests(sandbox) == []
    assert the_list(sandbox)["domains"] == ["old.com"]


def test_adopt_existing_takes_over_an_unowned_manual_list(sandbox, activate):
    seeded = sandbox.seed_account_list(
        "High intent accounts", description="made by hand", domains=["old.com", "acme.com"]
    )

    outcome = activate(accounts=records("acme.com", "globex.com"), adopt_existing=True)

    assert outcome.task_states == {"activate": "success"}
    account_list = the_list(sandbox)
    assert account_list["id"] == seeded["id"]
    assert sorted(account_list["domains"]) == ["acme.com", "globex.com"]
    assert ownership_of(account_list).dataflow_id == "abm.activate"


def test_an_older_snapshot_is_skipped_unless_allow_stale(sandbox, activate):
    activate(accounts=records("acme.com", "globex.com"), logical_date=day(10))
    sandbox.clear_request_log()

    stale = activate(accounts=records("acme.com"), logical_date=day(9))
    assert stale.task_states == {"activate": "skipped"}
    assert "newer than this run's" in stale.output
    assert write_requests(sandbox) == []
    assert sorted(the_list(sandbox)["domains"]) == ["acme.com", "globex.com"]

    forced = activate(accounts=records("acme.com"), logical_date=day(9), allow_stale=True)
    assert forced.task_states == {"activate": "success"}
    assert the_list(sandbox)["domains"] == ["acme.com"]
    # The list still records the newest snapshot it has seen.
    assert ownership_of(the_list(sandbox)).snapshot == "2026-11-10T00:00:00+00:00"


def test_dry_run_reads_and_plans_but_writes_nothing(sandbox, activate):
    activate(accounts=records("acme.com", "globex.com"), logical_date=day(1))
    sandbox.clear_request_log()

    outcome = activate(accounts=records("acme.com", "hooli.com", "initech.io"), logical_date=day(2), dry_run=True)

    assert outcome.task_states == {"activate": "success"}
    result = outcome.xcom["activate"]
    assert (result["dry_run"], result["added"], result["removed"], result["submitted_at"]) == (True, 2, 1, None)
    assert write_requests(sandbox) == []
    assert sorted(the_list(sandbox)["domains"]) == ["acme.com", "globex.com"]


def test_dry_run_of_a_new_audience_creates_nothing(sandbox, activate):
    outcome = activate(accounts=records("acme.com"), dry_run=True)
    assert outcome.xcom["activate"]["account_list_id"] is None
    assert sandbox.account_lists() == []


def test_empty_audience_is_refused_in_mirror_mode_unless_allowed(sandbox, activate):
    activate(accounts=records("acme.com", "globex.com"), logical_date=day(1))
    sandbox.clear_request_log()

    refused = activate(accounts=[], logical_date=day(2))
    assert refused.task_states == {"activate": "failed"}
    assert "allow_empty=True" in refused.output
    assert sandbox.request_log() == []  # refused before any network call

    allowed = activate(accounts=[], logical_date=day(3), allow_empty=True)
    assert allowed.task_states == {"activate": "success"}
    assert the_list(sandbox)["domains"] == []


def test_too_many_rejections_fail_before_any_network_call(sandbox, activate):
    outcome = activate(
        accounts=records("acme.com", "sales@globex.com", "10.0.0.1", "localhost"), max_rejected_ratio=0.5
    )

    assert outcome.task_states == {"activate": "failed"}
    assert "3 of 4 records rejected" in outcome.output
    assert "max_rejected_ratio" in outcome.output
    assert sandbox.request_log() == []


def test_removals_wait_for_the_pending_update_and_nothing_is_lost(sandbox, activate):
    activate(accounts=records(*(f"company{i}.com" for i in range(30))), logical_date=day(1))
    sandbox.configure(processing_delay=0.3)
    sandbox.clear_request_log()

    # 20 removals in batches of 5: every batch after the first meets a pending update (409).
    outcome = activate(
        accounts=records(*(f"company{i}.com" for i in range(20, 30)), "newco.com"),
        logical_date=day(2),
        batch_size=5,
    )

    assert outcome.task_states == {"activate": "success"}
    statuses = [e["status"] for e in sandbox.request_log() if e["path"].endswith("/delete-accounts")]
    assert 409 in statuses
    assert statuses.count(200) == 4
    assert sorted(settled_list(sandbox)["domains"]) == sorted(
        [*(f"company{i}.com" for i in range(20, 30)), "newco.com"]
    )


def test_a_retry_after_a_failure_mid_upload_converges_to_the_exact_list(sandbox, activate):
    activate(accounts=records(*(f"old{i}.com" for i in range(10))), logical_date=day(1))
    desired = [f"company{i}.com" for i in range(50)]
    # Upload batches 1-3 go through, then the API fails for longer than the retry budget.
    sandbox.inject_fault("POST", UPLOADS, status=500, after=3, count=5)

    failed = activate(accounts=records(*desired), logical_date=day(2), batch_size=10)
    assert failed.task_states == {"activate": "failed"}
    assert "HTTP 500" in failed.output
    assert len(the_list(sandbox)["domains"]) == 30

    retried = activate(accounts=records(*desired), logical_date=day(2), batch_size=10)
    assert retried.task_states == {"activate": "success"}
    assert sorted(the_list(sandbox)["domains"]) == sorted(desired)
    assert retried.xcom["activate"]["added"] == 20


@pytest.mark.parametrize("kind", ["csv", "jsonl", "json"])
def test_accounts_from_files(sandbox, activate, tmp_path, kind):
    rows = records("acme.com", "WWW.Globex.com", "not a domain")
    path = tmp_path / f"accounts.{kind}"
    if kind == "csv":
        lines = ["xdm:accountKey.sourceKey,xdm:accountOrganization.domain"]
        lines += [f"{r['accountKey']['sourceKey']},{r['accountOrganization']['domain']}" for r in rows]
        path.write_text("\n".join(lines) + "\n")
    elif kind == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        path.write_text(json.dumps(rows))

    outcome = activate(accounts=str(path), max_rejected_ratio=0.5)

    assert outcome.task_states == {"activate": "success"}
    assert sorted(the_list(sandbox)["domains"]) == ["acme.com", "globex.com"]
    assert outcome.xcom["activate"]["rejected_by_reason"] == {"invalid_character": 1}


def test_accounts_path_from_a_template(sandbox, run_dag, tmp_path):
    path = tmp_path / "accounts.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records("acme.com")))
    source = DAG_SOURCE.format(
        dag_id="templated",
        kwargs={"audience_name": "{{ params.audience }}", "accounts": "{{ params.path }}"},
    ).replace("schedule=None)", f"schedule=None, params={{'audience': 'Templated', 'path': {str(path)!r}}})")

    outcome = run_dag("templated", source)

    assert outcome.task_states == {"activate": "success"}
    assert the_list(sandbox, "Templated")["domains"] == ["acme.com"]


def test_progress_is_logged_at_every_tenth(sandbox, activate):
    outcome = activate(accounts=records(*(f"company{i}.com" for i in range(100))), batch_size=10)
    for percent in range(10, 101, 10):
        assert f"added {percent} of 100 accounts ({percent}%)" in outcome.output


def test_a_create_whose_answer_was_lost_finds_its_own_list(sandbox, activate):
    # The create succeeds but its connection drops: the hook retries, gets 422 (name in use),
    # and the operator finds the list it just made instead of failing or making a second one.
    sandbox.inject_fault("POST", "/account-list/v1/account-list", action="delay", delay=0.5)
    outcome = activate(accounts=records("acme.com"), bombora_conn_id="bombora_short_timeout")
    assert outcome.task_states == {"activate": "success"}
    assert len(sandbox.account_lists()) == 1
    assert the_list(sandbox)["domains"] == ["acme.com"]


@pytest.fixture(autouse=True)
def short_timeout_connection(sandbox, monkeypatch):
    connection = json.loads(sandbox.connection_json())
    connection["extra"] = {"timeout": 0.2}
    monkeypatch.setenv("AIRFLOW_CONN_BOMBORA_SHORT_TIMEOUT", json.dumps(connection))


def test_description_marker_survives_user_text(sandbox, activate):
    activate(accounts=records("acme.com"), audience_description="Q3 ABM push", logical_date=day(1))
    activate(accounts=records("acme.com"), audience_description="Q4 ABM push", logical_date=day(2))
    assert the_list(sandbox)["description"] == render_description(
        "Q4 ABM push", ListOwnership("abm.activate", "2026-11-02T00:00:00+00:00")
    )


@pytest.mark.parametrize("deferrable", [False, True])
def test_wait_for_completion_returns_once_bombora_has_applied_the_export(sandbox, activate, deferrable):
    sandbox.configure(processing_delay=0.5)

    outcome = activate(
        accounts=records("acme.com", "globex.com", "initech.io"), wait_for_completion=True, deferrable=deferrable
    )

    assert outcome.task_states == {"activate": "success"}
    result = outcome.xcom["activate"]
    assert (result["added"], result["pending_update"], result["account_total"]) == (3, False, 3)
    assert result["accounts_last_modified"] is not None
    assert ("BomboraExportStatusTrigger" in outcome.output) is deferrable
    assert not the_list(sandbox)["pendingUpdate"]


def test_wait_for_completion_fails_when_the_export_misses_its_deadline(sandbox, activate):
    sandbox.configure(processing_delay=30)

    outcome = activate(accounts=records("acme.com"), wait_for_completion=True, deferrable=True, wait_timeout=1)

    assert outcome.task_states == {"activate": "failed"}
    assert "BomboraExportTimeoutError" in outcome.output


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


@pytest.mark.parametrize("audience_name", ["Refreshed audience", "Refreshed {{ dag.dag_id }}"])
def test_an_activation_emits_an_event_for_its_account_list_with_the_summary(sandbox, activate, audience_name):
    rendered = audience_name.replace("{{ dag.dag_id }}", "assets")
    uri = "bombora://account-lists/" + rendered.replace(" ", "%20")
    before = len(asset_events(uri))
    outcome = activate(dag_id="assets", audience_name=audience_name, accounts=records("acme.com", "globex.com"))

    assert outcome.task_states == {"activate": "success"}
    events = asset_events(uri)
    assert len(events) == before + 1
    assert events[-1]["account_list_id"] == outcome.xcom["activate"]["account_list_id"]
    assert (events[-1]["audience_name"], events[-1]["added"]) == (rendered, 2)


def test_a_dry_run_emits_no_event(sandbox, activate):
    uri = "bombora://account-lists/Dry%20audience"
    outcome = activate(dag_id="assets_dry", audience_name="Dry audience", accounts=records("acme.com"), dry_run=True)
    assert outcome.task_states == {"activate": "success"}
    assert asset_events(uri) == []
