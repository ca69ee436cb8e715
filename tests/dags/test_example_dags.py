"""The example DAGs: they parse with no network access, and run to success against the sandbox."""

from __future__ import annotations

import json
import socket
from datetime import datetime, timezone
from pathlib import Path

import pytest

from airflow_provider_bombora.domains import InvalidDomain, normalize_domain
from airflow_provider_bombora.operators.bombora import BomboraActivateAudienceOperator

DAGS = Path(__file__).resolve().parents[2] / "dags"
EXAMPLES = {
    "example_bombora_dsp_integration",
    "example_bombora_abm",
    "example_bombora_multichannel",
    "example_bombora_backfill",
}


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access at DAG parse time: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_every_dag_file_imports_without_errors_or_network(no_network):
    from airflow.dag_processing.dagbag import DagBag

    dagbag = DagBag(dag_folder=str(DAGS))

    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == EXAMPLES
    for dag in dagbag.dags.values():
        assert "example" in dag.tags and "bombora" in dag.tags
        assert dag.doc_md or dag.description or dag.dag_id in dagbag.dags
        assert any(isinstance(task, BomboraActivateAudienceOperator) for task in dag.tasks)


def expected_domains(path: Path, column: str = "xdm:accountOrganization.domain") -> set[str]:
    """The valid, normalised domains of a sample file, computed independently of the operator."""
    if path.suffix == ".csv":
        import csv

        values = [row[column] for row in csv.DictReader(path.open(encoding="utf-8"))]
    else:
        values = [json.loads(line)["accountOrganization"]["domain"] for line in path.open(encoding="utf-8")]
    domains = set()
    for value in values:
        try:
            domains.add(normalize_domain(value))
        except InvalidDomain:
            pass
    return domains


def lists_by_name(sandbox) -> dict[str, dict]:
    return {account_list["name"]: account_list for account_list in sandbox.account_lists()}


def test_dsp_integration(sandbox, run_dag_file):
    outcome = run_dag_file(DAGS / "example_bombora_dsp_integration.py", "example_bombora_dsp_integration")

    assert outcome.task_states == {"activate_high_intent": "success", "wait_for_export": "success"}
    activation = outcome.xcom["activate_high_intent"]
    assert activation["rejected_by_reason"] == {"email": 1, "ip_address": 1, "single_label": 1}
    account_list = lists_by_name(sandbox)["High intent - customer data platform"]
    assert set(account_list["domains"]) == expected_domains(DAGS / "data" / "high_intent_accounts.jsonl")
    assert outcome.xcom["wait_for_export"]["account_total"] == activation["accounts_valid"] == 36


def test_abm(sandbox, run_dag_file):
    outcome = run_dag_file(DAGS / "example_bombora_abm.py", "example_bombora_abm")

    assert outcome.task_states == {
        "build_target_accounts": "success",
        "activate_abm_audience": "success",
        "wait_for_export": "success",
    }
    activation = outcome.xcom["activate_abm_audience"]
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
    high_intent = expected_domains(DAGS / "data" / "high_intent_accounts.jsonl")
    assert set(lists["High intent - paid social"]["domains"]) == high_intent
    assert set(lists["High intent - advanced TV"]["domains"]) == high_intent
    assert set(lists["Existing customers - suppression"]["domains"]) == expected_domains(
        DAGS / "data" / "existing_customers.csv"
    )
    assert lists["High intent - paid social"]["id"] != lists["High intent - advanced TV"]["id"]


def test_backfill_reruns_are_no_ops_and_older_days_never_overwrite_newer(sandbox, run_dag_file):
    def run(day: int):
        return run_dag_file(
            DAGS / "example_bombora_backfill.py",
            "example_bombora_backfill",
            datetime(2026, 11, day, tzinfo=timezone.utc),
        )

    def writes():
        return [e for e in sandbox.request_log() if e["method"] != "GET" and e["path"] != "/oauth/token"]

    def members():
        return set(lists_by_name(sandbox)["High intent - daily"]["domains"])

    day_25 = expected_domains(DAGS / "data" / "daily" / "high_intent_2026-11-25.jsonl")
    day_26 = expected_domains(DAGS / "data" / "daily" / "high_intent_2026-11-26.jsonl")

    assert run(25).task_states == {"activate_daily_snapshot": "success"}
    assert members() == day_25
    assert run(26).task_states == {"activate_daily_snapshot": "success"}
    assert members() == day_26

    sandbox.clear_request_log()
    older = run(25)
    assert older.task_states == {"activate_daily_snapshot": "skipped"}
    assert "newer than this run's" in older.output
    assert writes() == [] and members() == day_26

    rerun = run(26)
    assert rerun.task_states == {"activate_daily_snapshot": "success"}
    assert writes() == []
    assert rerun.xcom["activate_daily_snapshot"]["unchanged"] == len(day_26)
