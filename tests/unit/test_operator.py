"""BomboraActivateAudienceOperator at DAG-parse time: checks, templating, no network."""

from __future__ import annotations

import pytest

from airflow_provider_bombora.exceptions import BomboraValidationError
from airflow_provider_bombora.operators.bombora import BomboraActivateAudienceOperator

MAPPINGS = [
    {"source": "xdm:accountKey.sourceKey", "target": "identity:primaryId"},
    {"source": "xdm:accountOrganization.domain", "target": "xdm:companyWebsiteDomain"},
]


def make(**overrides):
    kwargs = {"task_id": "activate", "audience_name": "High intent", "accounts": [], "mappings": MAPPINGS}
    return BomboraActivateAudienceOperator(**{**kwargs, **overrides})


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"audience_origin": "custom_upload"}, "audience_origin", "Bombora does not support custom upload audiences"),
        ({"audience_origin": "crm"}, "audience_origin", "segmentation_service"),
        ({"sync_mode": "replace"}, "sync_mode", "'mirror', 'delta'"),
        ({"batch_size": 0}, "batch_size", "1 to 10,000"),
        ({"batch_size": 20_000}, "batch_size", "1 to 10,000"),
        ({"max_rejected_ratio": 2}, "max_rejected_ratio", "0 to 1"),
        ({"poll_interval": 0}, "poll_interval", "positive"),
        ({"pending_update_timeout": -1}, "pending_update_timeout", "positive"),
        ({"status_field": ""}, "status_field", "membership status"),
        ({"audience_name": ""}, "audience_name", "non-empty"),
        ({"audience_name": "a\tb"}, "audience_name", "control characters"),
        ({"dataflow_id": "a\nb"}, "dataflow_id", "single-line"),
        ({"mappings": MAPPINGS[:1]}, "mappings", "xdm:companyWebsiteDomain"),
        ({"mappings": MAPPINGS[1:]}, "mappings", "identity:primaryId"),
    ],
)
def test_static_parameters_are_checked_when_the_dag_is_parsed(overrides, field, fragment):
    with pytest.raises(BomboraValidationError) as error:
        make(**overrides)
    assert error.value.field == field
    assert fragment in str(error.value)


@pytest.mark.parametrize(
    "overrides",
    [
        {"audience_name": "{{ params.audience }}"},
        {"mappings": "{{ params.mappings }}"},
        {"mappings": [{"source": "{{ params.key }}", "target": "identity:primaryId"}, MAPPINGS[1]]},
        {"dataflow_id": "{{ dag.dag_id }}-{{ task.task_id }}"},
        {"accounts": "{{ ti.xcom_pull(task_ids='extract') }}"},
    ],
)
def test_templated_values_wait_for_rendering(overrides):
    operator = make(**overrides)
    for name, value in overrides.items():
        assert getattr(operator, name) == value


def test_templated_fields_and_defaults():
    operator = make()
    assert set(operator.template_fields) == {
        "audience_name",
        "audience_description",
        "accounts",
        "mappings",
        "dataflow_id",
        "plan_file",
        "snapshot",
        "sql",
    }
    assert (operator.sync_mode, operator.batch_size, operator.max_rejected_ratio) == ("mirror", 1000, 0.1)
    assert (operator.allow_empty, operator.allow_stale, operator.adopt_existing, operator.dry_run) == (False,) * 4
    assert operator.bombora_conn_id == "bombora_default"


def test_constructing_reads_no_connection_and_no_file(monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        raise AssertionError("no connection may be read at parse time")

    monkeypatch.setattr("airflow.sdk.BaseHook.get_connection", refuse)
    operator = make(accounts=str(tmp_path / "does-not-exist-yet.jsonl"))
    assert operator.accounts.endswith("does-not-exist-yet.jsonl")
