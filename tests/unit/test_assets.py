"""bombora:// assets: URIs, the provider's factory and normaliser, and the operator's outlets."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from airflow.sdk import DAG, Asset, AssetAlias

from airflow_provider_bombora.assets import (
    account_list_asset,
    account_list_uri,
    create_asset,
    digital_audience_asset,
    digital_audience_uri,
    sanitize_uri,
)
from airflow_provider_bombora.operators.bombora import BomboraActivateAudienceOperator

MAPPINGS = [
    {"source": "xdm:accountKey.sourceKey", "target": "identity:primaryId"},
    {"source": "xdm:accountOrganization.domain", "target": "xdm:companyWebsiteDomain"},
]


def test_an_account_list_uri_quotes_the_audience_name():
    assert account_list_uri("High intent / EMEA") == "bombora://account-lists/High%20intent%20%2F%20EMEA"
    asset = account_list_asset("High intent / EMEA")
    assert asset.uri == "bombora://account-lists/High%20intent%20%2F%20EMEA"
    assert asset.name == "Bombora account list High intent / EMEA"
    assert create_asset(audience_name="High intent / EMEA") == asset


def test_a_digital_audience_uri_is_its_identity_quoted():
    assert digital_audience_uri("trade_desk_direct", "hi/ttd", "1234567") == (
        "bombora://digital-audiences/trade_desk_direct/hi%2Fttd/1234567"
    )
    asset = digital_audience_asset("trade_desk_direct", "hi-ttd", "1234567")
    assert asset.uri == "bombora://digital-audiences/trade_desk_direct/hi-ttd/1234567"
    assert asset.name == "Bombora digital audience hi-ttd (partner 1234567) on trade_desk_direct"
    assert create_asset(data_exchange="trade_desk_direct", external_id="hi-ttd", partner_id="1234567") == asset
    with pytest.raises(ValueError, match="give audience_name, or data_exchange, external_id and partner_id"):
        create_asset(data_exchange="adobe")


@pytest.mark.parametrize(
    "uri",
    [
        "bombora://account-lists/High%20intent",
        "bombora://account-lists/x",
        "bombora://digital-audiences/appnexus/hi-intent/42",
    ],
)
def test_sanitize_uri_keeps_bombora_uris(uri):
    assert sanitize_uri(urlsplit(uri)).geturl() == uri


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("bombora://lists/High", "bombora://account-lists/<name>"),
        ("bombora://account-lists/", "must end with the audience's name"),
        ("bombora://digital-audiences/appnexus/hi-intent", "<data exchange>/<external id>/<partner id>"),
        ("bombora://digital-audiences/appnexus//42", "<data exchange>/<external id>/<partner id>"),
    ],
)
def test_sanitize_uri_refuses_other_uris(uri, message):
    with pytest.raises(ValueError, match=message):
        sanitize_uri(urlsplit(uri))


def operator(**kwargs) -> BomboraActivateAudienceOperator:
    with DAG("assets_dag", schedule=None):
        return BomboraActivateAudienceOperator(
            task_id="activate",
            audience_name=kwargs.pop("audience_name", "High intent"),
            accounts=[],
            mappings=MAPPINGS,
            **kwargs,
        )


def test_the_operator_announces_its_account_list_as_an_outlet():
    expected = Asset(uri="bombora://account-lists/High%20intent", name="Bombora account list High intent")
    assert operator().outlets == [expected]


def test_a_templated_audience_name_is_announced_through_an_alias():
    (outlet,) = operator(audience_name="High intent {{ ds }}").outlets
    assert outlet == AssetAlias("bombora-account-list:assets_dag.activate")


def test_the_users_own_outlets_are_kept_and_a_dry_run_announces_nothing():
    report = Asset(uri="s3://reports/activation.json")
    assert operator(outlets=[report]).outlets[0] == report
    assert len(operator(outlets=[report]).outlets) == 2
    assert operator(dry_run=True).outlets == []
