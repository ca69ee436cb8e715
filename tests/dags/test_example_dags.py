"""The example DAGs: they parse with no network access, and run to success against the sandbox."""

from __future__ import annotations

import ast
import socket
from datetime import datetime, timezone
from pathlib import Path

import pytest

from airflow_provider_bombora.operators.bombora import BomboraActivateAudienceOperator

DAGS = Path(__file__).resolve().parents[2] / "dags"
EXAMPLES = {
    "example_bombora_dsp_integration",
    "example_bombora_abm",
    "example_bombora_multichannel",
    "example_bombora_backfill",
}

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

    assert outcome.task_states == {"activate_high_intent": "success", "wait_for_export": "success"}
    activation = outcome.xcom["activate_high_intent"]
    assert activation["rejected_by_reason"] == {"email": 1, "ip_address": 1, "single_label": 1}
    account_list = lists_by_name(sandbox)["High intent - customer data platform"]
    assert sorted(account_list["domains"]) == sorted(HIGH_INTENT_DOMAINS)
    assert outcome.xcom["wait_for_export"]["account_total"] == activation["accounts_valid"] == 36


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
