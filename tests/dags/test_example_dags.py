"""The example DAGs: they parse with no network access, and run to success against the sandbox."""

from __future__ import annotations

import ast
import socket
from datetime import datetime, timezone
from pathlib import Path

import pytest
from example_data import WAREHOUSE_DAY_27_DOMAINS

from airflow_provider_bombora.operators.bombora import BomboraActivateAudienceOperator

DAGS = Path(__file__).resolve().parents[2] / "dags"
EXAMPLES = {
    "example_bombora_dsp_integration",
    "example_bombora_abm",
    "example_bombora_multichannel",
    "example_bombora_backfill",
    "example_bombora_warehouse",
    "example_bombora_warehouse_notify",
    "example_bombora_intent_loop",
}
# Example DAGs scheduled on an account list's asset: they consume a refresh, and activate nothing.
ASSET_CONSUMERS = {"example_bombora_warehouse_notify"}

# The expected list contents below were derived by hand from the sample files in dags/data/,
# never by running the provider's own normalisation: read each record's domain, apply the
# documented rules (drop scheme, path, port, a leading "www.", upper case and a trailing dot;
# reject e-mail addresses, IP addresses and single-label names), and write the result here.

# dags/data/high_intent_accounts.jsonl: 39 records. Records 37-39 are rejected ("kramerica":
# single label; "info@pendantpublishing.com": e-mail; "192.168.10.4": IP address). Four are
# cleaned: 7 "https://www.VandelayIndustries.com/import-export", 9 "STARKAVIONICS.COM.",
# 16 "http://monarch-solutions.de:8080/", 30 "www.zorgmanufacturing.fr". 36 domains remain.
HIGH_INTENT_DOMAINS = [
    "acme-analytics.com",
    "globexlogistics.com",
    "initech-payroll.com",
    "umbrellabiotech.co.uk",
    "hoolicloud.io",
    "piedpiper-compression.com",
    "vandelayindustries.com",
    "soylentfoods.com",
    "starkavionics.com",
    "waynesecurity.net",
    "cyberdyne-robotics.com",
    "tyrellgenetics.com",
    "oscorpmaterials.com",
    "wonkaconfectionery.co.uk",
    "gringottspayments.com",
    "monarch-solutions.de",
    "nakatomitrading.jp",
    "dunderpaper.com",
    "bluthdevelopment.com",
    "sterlingcoopermedia.com",
    "prestigeworldwide.com",
    "massivedynamic.com",
    "aperturelabs.ai",
    "blackmesaresearch.org",
    "virtuconenergy.com",
    "gencoshipping.com",
    "duffbeverages.com",
    "krustyfoods.com",
    "ollivandercrafts.co.uk",
    "zorgmanufacturing.fr",
    "rekalltravel.com",
    "weylandmining.com.au",
    "yoyodyne-propulsion.com",
    "buynlarge.com",
    "spacelysprockets.com",
    "cogswellcogs.com",
]

# dags/data/existing_customers.csv: 6 rows, all valid; only "https://duffbeverages.com" is cleaned.
EXISTING_CUSTOMER_DOMAINS = [
    "wideworldimporters.com",
    "contoso-pharma.com",
    "hoolicloud.io",
    "duffbeverages.com",
    "northwindtraders.com",
    "fourthcoffee.com",
]

# dags/data/daily/high_intent_2026-11-25.jsonl: 13 records, all already clean.
DAY_25_DOMAINS = [
    "acme-analytics.com",
    "globexlogistics.com",
    "initech-payroll.com",
    "umbrellabiotech.co.uk",
    "hoolicloud.io",
    "piedpiper-compression.com",
    "vandelayindustries.com",
    "soylentfoods.com",
    "starkavionics.com",
    "waynesecurity.net",
    "oscorpmaterials.com",
    "wonkaconfectionery.co.uk",
    "gringottspayments.com",
]

# dags/data/daily/high_intent_2026-11-26.jsonl: 15 records; the 13 of the 25th, then
# "monarch-solutions.de", then "sales@notadomain.com" (an e-mail: rejected). 14 domains.
DAY_26_DOMAINS = [*DAY_25_DOMAINS, "monarch-solutions.de"]


def test_the_hand_derived_expectations_have_the_counts_read_off_the_files():
    assert len(set(HIGH_INTENT_DOMAINS)) == len(HIGH_INTENT_DOMAINS) == 36
    assert len(set(EXISTING_CUSTOMER_DOMAINS)) == len(EXISTING_CUSTOMER_DOMAINS) == 6
    assert len(set(DAY_25_DOMAINS)) == len(DAY_25_DOMAINS) == 13
    assert len(set(DAY_26_DOMAINS)) == len(DAY_26_DOMAINS) == 14


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access at DAG parse time: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def module_docstring(path: str) -> str | None:
    return ast.get_docstring(ast.parse(Path(path).read_text(encoding="utf-8")))


def test_every_dag_file_imports_without_errors_or_network(no_network):
    from airflow.dag_processing.dagbag import DagBag

    with pytest.raises(AssertionError, match="network access"):  # the guard is in place
        socket.create_connection(("127.0.0.1", 9))

    dagbag = DagBag(dag_folder=str(DAGS))

    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == EXAMPLES
    for dag in dagbag.dags.values():
        assert "example" in dag.tags and "bombora" in dag.tags
        if dag.dag_id not in ASSET_CONSUMERS:
            assert any(isinstance(task, BomboraActivateAudienceOperator) for task in dag.tasks)


def test_every_example_dag_file_is_documented():
    from airflow.dag_processing.dagbag import DagBag

    dagbag = DagBag(dag_folder=str(DAGS))
    assert set(dagbag.dag_ids) == EXAMPLES
    for dag in dagbag.dags.values():
        docstring = module_docstring(dag.fileloc)
        assert docstring and len(docstring.split()) >= 20, f"{dag.fileloc} has no real module docstring"


def test_every_example_dag_shows_its_documentation_in_the_ui():
    from airflow.dag_processing.dagbag import DagBag

    dagbag = DagBag(dag_folder=str(DAGS))
    assert set(dagbag.dag_ids) == EXAMPLES
    for dag in dagbag.dags.values():
        assert dag.doc_md or dag.description, dag.dag_id


def lists_by_name(sandbox) -> dict[str, dict]:
    return {account_list["name"]: account_list for account_list in sandbox.account_lists()}


def test_dsp_integration(sandbox, run_dag_file):
    outcome = run_dag_file(DAGS / "example_bombora_dsp_integration.py", "example_bombora_dsp_integration")

    assert outcome.task_states == {
        "activate_high_intent": "success",
        "wait_for_export": "success",
        "push_to_trade_desk": "success",
        "wait_active": "success",
    }
    activation = outcome.xcom["activate_high_intent"]
    assert activation["rejected_by_reason"] == {"email": 1, "ip_address": 1, "single_label": 1}
    account_list = lists_by_name(sandbox)["High intent - customer data platform"]
    assert sorted(account_list["domains"]) == sorted(HIGH_INTENT_DOMAINS)
    assert outcome.xcom["wait_for_export"]["account_total"] == activation["accounts_valid"] == 36
    # The account list's domains went on to The Trade Desk, as one audience, now active.
    [audience] = sandbox.digital_audiences()
    assert (audience["dataExchange"], audience["externalId"], audience["partnerId"]) == (
        "trade_desk_direct",
        "hi-intent-ttd",
        "1234567",
    )
    assert sorted(audience["domains"]) == sorted(HIGH_INTENT_DOMAINS)
    assert (audience["cpmPrice"], audience["status"]) == ("1.25", "Active")
    pushed = outcome.xcom["push_to_trade_desk"]
    assert (pushed["action"], pushed["domain_count"], pushed["dry_run"]) == ("created", 36, False)
    assert pushed["estimate"] == 36  # the sandbox counts the distinct domains of a domains-only body
    assert outcome.xcom["wait_active"]["audience_status"] == "Active"


def test_abm(sandbox, run_dag_file):
    outcome = run_dag_file(DAGS / "example_bombora_abm.py", "example_bombora_abm")

    assert outcome.task_states == {
        "build_target_accounts": "success",
        "activate_abm_audience": "success",
        "wait_for_export": "success",
    }
    activation = outcome.xcom["activate_abm_audience"]
    # crm_accounts.csv joined with marketing_signals.jsonl by hand: 11 non-customer accounts have
    # a surge score >= 60 or >= 10 web visits; Datum (an e-mail) and Graphic Design Institute
    # (an IP address) are rejected, leaving these 9 (Munich Möbelwerke as its punycode form).
    assert (activation["added"], activation["rejected"]) == (9, 2)
    assert sorted(lists_by_name(sandbox)["ABM target accounts"]["domains"]) == [
        "adventure-works.com",
        "alpineskihouse.ch",
        "contoso-pharma.com",
        "humongousinsurance.com",
        "litwaresecurity.com",
        "northwindtraders.com",
        "proseware-analytics.com",
        "tailspinlogistics.co.uk",
        "xn--mbelwerke-mnchen-mwb2j.de",
    ]
    assert outcome.xcom["wait_for_export"]["pending_update"] is False


def test_multichannel(sandbox, run_dag_file):
    outcome = run_dag_file(DAGS / "example_bombora_multichannel.py", "example_bombora_multichannel")

    assert set(outcome.task_states.values()) == {"success"} and len(outcome.task_states) == 6
    lists = lists_by_name(sandbox)
    assert sorted(lists["High intent - paid social"]["domains"]) == sorted(HIGH_INTENT_DOMAINS)
    assert sorted(lists["High intent - advanced TV"]["domains"]) == sorted(HIGH_INTENT_DOMAINS)
    assert sorted(lists["Existing customers - suppression"]["domains"]) == sorted(EXISTING_CUSTOMER_DOMAINS)
    assert lists["High intent - paid social"]["id"] != lists["High intent - advanced TV"]["id"]


def test_backfill_reruns_are_no_ops_and_older_days_never_overwrite_newer(sandbox, run_dag_file):
    def run(day: int):
        return run_dag_file(
            DAGS / "example_bombora_backfill.py",
            "example_bombora_backfill",
            datetime(2026, 11, day, tzinfo=timezone.utc),
        )

    def reads():
        return [e for e in sandbox.request_log() if e["method"] == "GET"]

    def writes():
        return [e for e in sandbox.request_log() if e["method"] != "GET" and e["path"] != "/oauth/token"]

    def members():
        return sorted(lists_by_name(sandbox)["High intent - daily"]["domains"])

    applied = {"pick_export": "success", "activate_daily_snapshot": "success"}
    assert run(25).task_states == applied
    assert members() == sorted(DAY_25_DOMAINS)
    assert run(26).task_states == applied
    assert members() == sorted(DAY_26_DOMAINS)

    sandbox.clear_request_log()
    older = run(25)
    assert older.task_states == {"pick_export": "success", "activate_daily_snapshot": "skipped"}
    assert "newer than this run's" in older.output
    assert reads(), "the older run's requests were not logged: 'no writes' would prove nothing"
    assert writes() == [] and members() == sorted(DAY_26_DOMAINS)

    sandbox.clear_request_log()
    rerun = run(26)
    assert rerun.task_states == applied
    assert reads(), "the rerun's requests were not logged: 'no writes' would prove nothing"
    assert writes() == []
    assert rerun.xcom["activate_daily_snapshot"]["unchanged"] == 14


# --- example_bombora_warehouse and example_bombora_warehouse_notify -----------------------------

# dags/data/warehouse_crm_accounts.csv, read by hand. The query keeps the rows of the day at the
# "opportunity" or "prospect" stage (customers are left out by the query, not rejected).
# 2026-11-26: 9 rows, Wide World Importers a customer; of the 8 others Datum Corporation is an
# e-mail (rejected). Cleaned: "https://www.contoso-pharma.com/about", "FABRIKAM-ROBOTICS.IO",
# "www.adventure-works.com", "litwaresecurity.com.". 7 domains.
WAREHOUSE_DAY_26_DOMAINS = [
    "northwindtraders.com",
    "contoso-pharma.com",
    "fabrikam-robotics.io",
    "tailspinlogistics.co.uk",
    "adventure-works.com",
    "litwaresecurity.com",
    "margies-travel.com",
]
WAREHOUSE_AUDIENCE = "Open pipeline - warehouse"
WAREHOUSE_TASKS = {"refresh_warehouse": "success", "activate_open_pipeline": "success"}


def test_the_warehouse_expectations_have_the_counts_read_off_the_file():
    assert len(set(WAREHOUSE_DAY_26_DOMAINS)) == len(WAREHOUSE_DAY_26_DOMAINS) == 7
    assert len(set(WAREHOUSE_DAY_27_DOMAINS)) == len(WAREHOUSE_DAY_27_DOMAINS) == 9
    assert set(WAREHOUSE_DAY_26_DOMAINS) - set(WAREHOUSE_DAY_27_DOMAINS) == {"margies-travel.com"}
    assert len(set(WAREHOUSE_DAY_27_DOMAINS) - set(WAREHOUSE_DAY_26_DOMAINS)) == 3


@pytest.fixture
def warehouse_connection(tmp_path, monkeypatch) -> Path:
    """``bombora_example_warehouse``: a SQLite file of the test's own (the DAG's task fills it)."""
    import json

    path = tmp_path / "warehouse.db"
    monkeypatch.setenv(
        "AIRFLOW_CONN_BOMBORA_EXAMPLE_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(path)})
    )
    return path


def run_warehouse(run_dag_file, day: int):
    return run_dag_file(
        DAGS / "example_bombora_warehouse.py",
        "example_bombora_warehouse",
        datetime(2026, 11, day, tzinfo=timezone.utc),
    )


def test_warehouse_activates_the_query_of_the_runs_day(sandbox, warehouse_connection, run_dag_file):
    first = run_warehouse(run_dag_file, 26)
    assert first.task_states == WAREHOUSE_TASKS, first.output[-3000:]
    assert first.xcom["refresh_warehouse"] == {
        "conn_type": "sqlite", "database": str(warehouse_connection), "loaded": 29,
    }
    assert sorted(lists_by_name(sandbox)[WAREHOUSE_AUDIENCE]["domains"]) == sorted(WAREHOUSE_DAY_26_DOMAINS)

    outcome = run_warehouse(run_dag_file, 27)
    assert outcome.task_states == WAREHOUSE_TASKS, outcome.output[-3000:]
    activation = outcome.xcom["activate_open_pipeline"]
    assert isinstance(activation, dict)
    assert (activation["accounts_received"], activation["accounts_valid"], activation["duplicates"]) == (13, 9, 1)
    assert activation["rejected_by_reason"] == {"email": 1, "ip_address": 1, "missing_domain": 1}
    assert (activation["added"], activation["removed"], activation["unchanged"]) == (3, 1, 6)
    assert sorted(lists_by_name(sandbox)[WAREHOUSE_AUDIENCE]["domains"]) == sorted(WAREHOUSE_DAY_27_DOMAINS)
    assert "Reading the audience from connection 'bombora_example_warehouse' (sqlite)" in outcome.output


def test_warehouse_without_a_logical_date_reads_the_newest_day(sandbox, warehouse_connection, airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(DAGS / "example_bombora_warehouse.py")).dags["example_bombora_warehouse"]
    dag_run = dag.test(logical_date=None)  # run_after is now: after 2026-11-27, the newest day

    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert (dag_run.logical_date, states) == (None, WAREHOUSE_TASKS)
    assert sorted(lists_by_name(sandbox)[WAREHOUSE_AUDIENCE]["domains"]) == sorted(WAREHOUSE_DAY_27_DOMAINS)


def test_warehouse_without_its_connection_fails_saying_how_to_define_it(sandbox, monkeypatch, run_dag_file):
    monkeypatch.delenv("AIRFLOW_CONN_BOMBORA_EXAMPLE_WAREHOUSE", raising=False)

    outcome = run_warehouse(run_dag_file, 27)

    assert outcome.task_states == {"refresh_warehouse": "failed", "activate_open_pipeline": "upstream_failed"}
    assert "export AIRFLOW_CONN_BOMBORA_EXAMPLE_WAREHOUSE=" in outcome.output
    assert WAREHOUSE_AUDIENCE not in lists_by_name(sandbox)


@pytest.fixture
def consumed_events(monkeypatch):
    """dag.test() makes manual runs, which consume no asset event: this gives the next run it
    makes the asset events recorded since the fixture started (as an asset-triggered run has them)."""
    from airflow import settings
    from airflow.models import dagrun
    from airflow.models.asset import AssetEvent
    from sqlalchemy import func, select

    assert settings.Session is not None
    with settings.Session() as session:
        first_id = (session.scalar(select(func.max(AssetEvent.id))) or 0) + 1
    create = dagrun.get_or_create_dagrun
    consumed: list[int] = []

    def get_or_create_dagrun(**kwargs):
        run = create(**kwargs)
        session = kwargs["session"]
        events = session.scalars(select(AssetEvent).where(AssetEvent.id >= first_id).order_by(AssetEvent.id)).all()
        run.consumed_asset_events.extend(events)
        session.commit()
        consumed[:] = [event.id for event in events]
        return run

    monkeypatch.setattr(dagrun, "get_or_create_dagrun", get_or_create_dagrun)
    return consumed


def run_id_of_day(day: int) -> str | None:
    """The run id of example_bombora_warehouse's dag.test() run of that day (it holds when it ran)."""
    from airflow import settings
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    assert settings.Session is not None
    with settings.Session() as session:
        return session.scalar(
            select(DagRun.run_id).where(
                DagRun.dag_id == "example_bombora_warehouse",
                DagRun.logical_date == datetime(2026, 11, day, tzinfo=timezone.utc),
            )
        )


def test_notify_reports_the_newest_refresh_from_the_triggering_events(
    sandbox, warehouse_connection, run_dag_file, consumed_events
):
    assert run_warehouse(run_dag_file, 26).task_states == WAREHOUSE_TASKS
    refresh = run_warehouse(run_dag_file, 27)
    assert refresh.task_states == WAREHOUSE_TASKS
    activation = refresh.xcom["activate_open_pipeline"]
    assert isinstance(activation, dict)

    notify = run_dag_file(DAGS / "example_bombora_warehouse.py", "example_bombora_warehouse_notify")

    assert len(consumed_events) == 2, "both refreshes' asset events were given to the run"
    assert notify.task_states == {"notify_campaign_team": "success"}, notify.output[-3000:]
    report = notify.xcom["notify_campaign_team"]
    assert isinstance(report, dict)
    assert report.pop("source") == f"example_bombora_warehouse/{run_id_of_day(27)}"  # the newest refresh
    assert report == {
        "audience_name": WAREHOUSE_AUDIENCE,
        "account_list_id": lists_by_name(sandbox)[WAREHOUSE_AUDIENCE]["id"],
        "snapshot": "2026-11-27T00:00:00+00:00",
        "added": 3,
        "removed": 1,
        "unchanged": 6,
        "accounts_valid": 9,
        "rejected": 3,
        "events": 2,
    }
    assert activation["account_list_id"] == report["account_list_id"]
    assert "3 added, 1 removed, 6 unchanged" in notify.output


def test_notify_run_by_hand_has_no_event_to_report(airflow_db, run_dag_file):
    outcome = run_dag_file(DAGS / "example_bombora_warehouse.py", "example_bombora_warehouse_notify")

    assert outcome.task_states == {"notify_campaign_team": "success"}
    assert outcome.xcom["notify_campaign_team"] is None
    assert "No refresh event for 'Open pipeline - warehouse'" in outcome.output


# --- example_bombora_intent_loop ------------------------------------------------------------------

INTENT_TOPICS = ["Customer Data Platform", "Account Based Marketing", "Intent Data"]


@pytest.fixture
def intent_data(sandbox, tmp_path, monkeypatch):
    """A small intent data set of a fixed week, and the example's files under ``tmp_path``; the
    sandbox's data settings are back to their defaults afterwards."""
    from airflow_provider_bombora.sandbox.state import Settings

    settings = {"intent_companies": 1500, "intent_date": "2026-11-27"}
    sandbox.configure(**settings)
    monkeypatch.setenv("AIRFLOW_VAR_BOMBORA_INTENT_ROOT", f"file://{tmp_path}")
    yield tmp_path
    sandbox.configure(**{name: getattr(Settings(), name) for name in settings})


def test_intent_loop_activates_the_surging_companies(sandbox, intent_data, run_dag_file):
    # The sandbox's own rows (its admin helper, not the provider's code), filtered by hand.
    rows = sandbox.intent_rows(topics=sandbox.topic_ids(*INTENT_TOPICS))
    surging = sorted(row["domain"] for row in rows if row["score"] >= 60)
    assert 0 < len(surging) < len(rows)

    outcome = run_dag_file(DAGS / "example_bombora_intent_loop.py", "example_bombora_intent_loop")

    assert outcome.task_states == {
        "load_surge_scores": "success",
        "keep_surging": "success",
        "activate_surging": "success",
        "wait_for_export": "success",
        "push_to_xandr": "success",
    }, outcome.output[-3000:]
    load = outcome.xcom["load_surge_scores"]
    assert isinstance(load, dict)
    assert (load["destination"], load["rows"]) == (f"file://{intent_data}/2026-11-27/surge.jsonl.gz", len(rows))
    assert sorted(lists_by_name(sandbox)["Surging on CDP topics"]["domains"]) == surging
    assert sorted(path.name for path in (intent_data / "2026-11-27").iterdir()) == [
        "surge.jsonl.gz",
        "surging_accounts.jsonl",
    ]
    assert outcome.xcom["wait_for_export"]["account_total"] == len(surging)
    assert intent_file_events(load["destination"]) == [load]  # for the scoring DAG downstream
    # ... and on to Xandr: one digital audience of the surging companies, active.
    [audience] = sandbox.digital_audiences()
    assert (audience["dataExchange"], audience["externalId"], audience["partnerId"]) == (
        "appnexus",
        "surging-cdp-xandr",
        "4455667",
    )
    assert sorted(audience["domains"]) == surging
    assert (audience["cpmPrice"], audience["status"]) == ("2.50", "Active")
    assert outcome.xcom["push_to_xandr"]["status"] == "Active"


def intent_file_events(uri: str) -> list:
    """The extras of the asset events recorded for ``uri``."""
    from airflow import settings
    from airflow.models.asset import AssetEvent, AssetModel
    from sqlalchemy import select

    assert settings.Session is not None
    with settings.Session() as session:
        query = select(AssetEvent.extra).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
        return list(session.scalars(query.where(AssetModel.uri == uri)))
