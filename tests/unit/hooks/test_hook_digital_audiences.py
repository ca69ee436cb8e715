"""BomboraHook's Digital Audience Builder calls, against requests-mock: paths, bodies, answers, errors."""

from __future__ import annotations

import json

import pytest
from hook_doubles import BASE, TOKEN_2, raised, token_answer

from airflow_provider_bombora.exceptions import (
    BomboraApiError,
    BomboraAuthError,
    BomboraConflictError,
    BomboraNotFoundError,
    BomboraValidationError,
)
from airflow_provider_bombora.hooks.bombora import BomboraHook

TTD = f"{BASE}/digital-audiences/v1/trade_desk_direct"
AUDIENCE = f"{TTD}/hi-intent-ttd/1234567"
BODY = {"name": "High intent", "endDate": "2027-02-25T00:00:00Z", "partnerId": "1234567", "domains": ["acme.com"]}


def test_create_posts_the_body_to_the_exchange_and_returns_the_answer(api):
    api.post(TTD, status_code=201, json={**BODY, "externalId": "hi-intent-ttd", "status": "Pending"})
    created = BomboraHook().create_digital_audience("trade_desk_direct", BODY)
    assert created is not None
    assert created["status"] == "Pending"
    request = api.request_history[-1]
    assert json.loads(request.body) == BODY
    assert request.headers["Content-Type"] == "application/json"


def test_create_with_an_empty_answer_returns_none(api):
    api.post(TTD, status_code=201, content=b"")
    assert BomboraHook().create_digital_audience("trade_desk_direct", BODY) is None


def test_an_external_id_in_use_is_a_conflict(api):
    api.post(TTD, status_code=409, json={"message": "externalId in use"})
    error = raised(BomboraConflictError, BomboraHook().create_digital_audience, "trade_desk_direct", BODY)
    assert error.status == 409
    assert "externalId in use" in str(error)


def test_field_errors_of_a_422_are_in_the_message(api):
    api.post(TTD, status_code=422, json={"errors": {"cpmPrice": ["is required"]}, "message": "Invalid"})
    error = raised(BomboraApiError, BomboraHook().create_digital_audience, "trade_desk_direct", BODY)
    assert error.status == 422
    assert "cpmPrice" in str(error)
    assert "is required" in str(error)


def test_get_reads_the_audience_by_exchange_external_id_and_partner_id(api):
    api.get(AUDIENCE, json={**BODY, "status": "ACTIVE"})
    assert BomboraHook().get_digital_audience("trade_desk_direct", "hi-intent-ttd", "1234567")["status"] == "ACTIVE"


def test_a_missing_audience_is_not_found(api):
    api.get(AUDIENCE, status_code=404, json={"message": None})
    raised(BomboraNotFoundError, BomboraHook().get_digital_audience, "trade_desk_direct", "hi-intent-ttd", "1234567")


def test_an_answer_that_is_not_an_audience_is_an_api_error(api):
    api.get(AUDIENCE, json=["not", "an", "object"])
    error = raised(BomboraApiError, BomboraHook().get_digital_audience, "trade_desk_direct", "hi-intent-ttd", "1234567")
    assert "a digital audience" in str(error)


@pytest.mark.parametrize(
    ("call", "method", "suffix"),
    [
        ("delete_digital_audience", "DELETE", ""),
        ("activate_digital_audience", "PUT", "/activate"),
        ("suspend_digital_audience", "PUT", "/suspend"),
    ],
)
def test_lifecycle_calls_use_the_audience_path(api, call, method, suffix):
    api.register_uri(method, AUDIENCE + suffix, status_code=204)
    assert getattr(BomboraHook(), call)("trade_desk_direct", "hi-intent-ttd", "1234567") is None
    assert api.request_history[-1].method == method


def test_update_puts_the_whole_body(api):
    api.put(AUDIENCE, status_code=204)
    BomboraHook().update_digital_audience("trade_desk_direct", "hi-intent-ttd", "1234567", BODY)
    assert json.loads(api.request_history[-1].body) == BODY


def test_activating_an_audience_that_is_not_suspended_is_a_conflict(api):
    api.put(AUDIENCE + "/activate", status_code=409, json={"message": "not Suspended"})
    raised(
        BomboraConflictError, BomboraHook().activate_digital_audience, "trade_desk_direct", "hi-intent-ttd", "1234567"
    )


def test_estimate_returns_the_count(api):
    api.post(f"{TTD}/estimate", json={"count": 412})
    assert BomboraHook().estimate_digital_audience("trade_desk_direct", BODY) == 412


@pytest.mark.parametrize("answer", [{}, {"count": "412"}, {"count": True}, [412]])
def test_an_estimate_without_a_count_is_an_api_error(api, answer):
    api.post(f"{TTD}/estimate", json=answer)
    error = raised(BomboraApiError, BomboraHook().estimate_digital_audience, "trade_desk_direct", BODY)
    assert '{"count": <number of accounts>}' in str(error)


def test_an_estimate_answered_502_is_retried(api, no_real_waits):
    api.post(f"{TTD}/estimate", [{"status_code": 502, "json": {"message": "upstream"}}, {"json": {"count": 3}}])
    assert BomboraHook().estimate_digital_audience("trade_desk_direct", BODY) == 3
    assert len(no_real_waits) == 1


def test_a_refused_token_is_renewed_once(api):
    api.post(f"{BASE}/oauth/token", [token_answer(), token_answer(TOKEN_2)])
    api.get(AUDIENCE, [{"status_code": 401, "json": {"message": "expired"}}, {"json": {**BODY, "status": "Active"}}])
    assert BomboraHook().get_digital_audience("trade_desk_direct", "hi-intent-ttd", "1234567")["status"] == "Active"
    assert api.request_history[-1].headers["Authorization"] == f"Bearer {TOKEN_2}"


def test_an_app_without_the_product_is_an_auth_error(api):
    api.post(TTD, status_code=403, json={"message": "Forbidden"})
    raised(BomboraAuthError, BomboraHook().create_digital_audience, "trade_desk_direct", BODY)


def test_path_segments_are_quoted_so_that_an_id_cannot_reach_another_resource(api):
    api.get(f"{TTD}/a%2F..%2Fb/1", json={"status": "Active"})
    BomboraHook().get_digital_audience("trade_desk_direct", "a/../b", "1")
    assert api.request_history[-1].path == "/digital-audiences/v1/trade_desk_direct/a%2f..%2fb/1"


@pytest.mark.parametrize("field", ["data_exchange", "external_id", "partner_id"])
def test_an_empty_identity_part_is_refused_before_any_request(api, field):
    identity = {"data_exchange": "adobe", "external_id": "x1", "partner_id": "7"}
    identity[field] = ""
    error = raised(BomboraValidationError, BomboraHook().get_digital_audience, **identity)
    assert error.field == field
    assert api.request_history == []
