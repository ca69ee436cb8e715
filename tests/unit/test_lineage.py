"""OpenLineage of an activation: the input it read and the account list it wrote."""

from __future__ import annotations

import json

import pytest
from airflow.providers.common.compat.openlineage.facet import Dataset, SQLJobFacet
from airflow.sdk import ObjectStoragePath

from airflow_provider_bombora.assets import account_list_asset, convert_asset_to_openlineage
from airflow_provider_bombora.operators.bombora import BomboraActivateAudienceOperator

MAPPINGS = [
    {"source": "xdm:accountKey.sourceKey", "target": "identity:primaryId"},
    {"source": "xdm:accountOrganization.domain", "target": "xdm:companyWebsiteDomain"},
]
OUTPUT = Dataset(namespace="bombora://api.bombora.com", name="account-lists/High intent")


def lineage(**kwargs):
    kwargs.setdefault("accounts", None)
    operator = BomboraActivateAudienceOperator(
        task_id="activate", audience_name="High intent", mappings=MAPPINGS, **kwargs
    )
    return operator.get_openlineage_facets_on_complete(task_instance=None)


@pytest.mark.parametrize(
    ("accounts", "expected"),
    [
        ("s3://exports/audiences/2026-11-27/", Dataset(namespace="s3://exports", name="audiences/2026-11-27/")),
        ("gs://bucket/high_intent.jsonl.gz", Dataset(namespace="gs://bucket", name="high_intent.jsonl.gz")),
        ("file:///data/high_intent.jsonl", Dataset(namespace="file", name="/data/high_intent.jsonl")),
        ("/data/high_intent.csv", Dataset(namespace="file", name="/data/high_intent.csv")),
    ],
)
def test_a_file_or_object_store_input_and_the_account_list_output(accounts, expected):
    result = lineage(accounts=accounts)
    assert result.inputs == [expected]
    assert result.outputs == [OUTPUT]


def test_an_object_storage_path_is_named_by_its_url():
    result = lineage(accounts=ObjectStoragePath("file:///data/exports/"))
    assert result.inputs == [Dataset(namespace="file", name="/data/exports")]


def test_records_in_memory_have_no_input_dataset():
    result = lineage(accounts=[{"accountKey.sourceKey": "A-1", "accountOrganization.domain": "acme.com"}])
    assert (result.inputs, result.outputs) == ([], [OUTPUT])


def test_a_sql_input_is_the_connections_database_with_the_query(monkeypatch):
    pytest.importorskip("airflow.providers.common.sql")
    connection = {"conn_type": "postgres", "host": "warehouse.internal", "port": 5432, "schema": "crm"}
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps(connection))
    query = 'SELECT key AS "accountKey.sourceKey", site AS "accountOrganization.domain" FROM high_intent'
    result = lineage(sql=query, sql_conn_id="warehouse")
    assert result.inputs == [Dataset(namespace="postgres://warehouse.internal:5432", name="crm")]
    assert result.job_facets == {"sql": SQLJobFacet(query=query)}
    assert result.outputs == [OUTPUT]


def test_the_asset_converter_names_the_list_like_the_operator():
    assert convert_asset_to_openlineage(account_list_asset("High intent"), lineage_context=None) == OUTPUT
