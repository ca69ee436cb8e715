"""The push policy (pure), on an in-memory Digital Audience Builder: create, rerun, update, conflicts."""

from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

from airflow_provider_bombora.digital_audience_push import push_digital_audience
from airflow_provider_bombora.digital_audiences import build_audience_spec
from airflow_provider_bombora.exceptions import (
    BomboraApiError,
    BomboraConflictError,
    BomboraDigitalAudienceError,
    BomboraNotFoundError,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
EXCHANGE, EXTERNAL_ID, PARTNER_ID = "trade_desk_direct", "hi-intent-ttd", "1234567"


class FakeDigitalAudiences:
    """The hook's digital audience calls in memory; every call recorded as ``(method, ...)``."""

    def __init__(self) -> None:
        self.audiences: dict[tuple[str, str, str], dict] = {}
        self.calls: list[str] = []
        self.lose_create_answer = False
        self.estimate_count = 0

    def create_digital_audience(self, data_exchange, body):
        self.calls.append("create")
        key = (data_exchange, body["externalId"], body["partnerId"])
        if any(other[:2] == key[:2] for other in self.audiences):
            raise BomboraConflictError("externalId in use", status=409, method="POST", path="/x")
        self.audiences[key] = {**copy.deepcopy(body), "status": "Pending"}
        if self.lose_create_answer:
            self.lose_create_answer = False
            raise BomboraApiError("connection dropped", method="POST", path="/x")
        return None

    def get_digital_audience(self, data_exchange, external_id, partner_id):
        self.calls.append("get")
        audience = self.audiences.get((data_exchange, external_id, partner_id))
        if audience is None:
            raise BomboraNotFoundError(None, status=404, method="GET", path="/x")
        return copy.deepcopy(audience)

    def update_digital_audience(self, data_exchange, external_id, partner_id, body):
        self.calls.append("update")
        self.audiences[(data_exchange, external_id, partner_id)] = {**copy.deepcopy(body), "status": "Pending"}

    def activate_digital_audience(self, data_exchange, external_id, partner_id):
        self.calls.append("activate")
        self.audiences[(data_exchange, external_id, partner_id)]["status"] = "Active"

    def estimate_digital_audience(self, data_exchange, body):
        self.calls.append("estimate")
        return self.estimate_count


def spec(**changes):
    parameters = {
        "data_exchange": EXCHANGE,
        "audience_name": "High intent accounts - TTD",
        "end_date": "2027-02-25",
        "partner_id": PARTNER_ID,
        "external_id": EXTERNAL_ID,
        "cpm_price": "1.25",
        "domains": ["acme.com", "globex.com"],
        **changes,
    }
    return build_audience_spec(**parameters, now=NOW)


def test_a_first_push_creates_the_audience():
    api = FakeDigitalAudiences()
    result = push_digital_audience(api, spec())
    assert api.calls == ["get", "create", "get"]
    assert (result["action"], result["status"], result["domain_count"]) == ("created", "Pending", 2)
    stored = api.audiences[(EXCHANGE, EXTERNAL_ID, PARTNER_ID)]
    assert stored["domains"] == ["acme.com", "globex.com"]
    assert stored["cpmPrice"] == "1.25"


def test_a_rerun_with_the_same_inputs_changes_nothing():
    api = FakeDigitalAudiences()
    push_digital_audience(api, spec())
    api.calls.clear()
    result = push_digital_audience(api, spec())
    assert api.calls == ["get"]
    assert (result["action"], result["changed_fields"]) == ("unchanged", [])


def test_a_changed_input_updates_only_by_overwrite():
    api = FakeDigitalAudiences()
    push_digital_audience(api, spec())
    api.calls.clear()
    result = push_digital_audience(api, spec(domains=["acme.com", "globex.com", "initech.com"], cpm_price="1.5"))
    assert api.calls == ["get", "update", "get"]
    assert result["action"] == "updated"
    assert set(result["changed_fields"]) == {"cpmPrice", "domains"}
    assert len(api.audiences) == 1
    assert api.audiences[(EXCHANGE, EXTERNAL_ID, PARTNER_ID)]["domains"] == ["acme.com", "globex.com", "initech.com"]


def test_a_create_whose_answer_was_lost_is_not_duplicated():
    api = FakeDigitalAudiences()
    api.lose_create_answer = True
    with pytest.raises(BomboraApiError):
        push_digital_audience(api, spec())
    # The task's retry: the audience exists, with the same body, so nothing changes.
    result = push_digital_audience(api, spec())
    assert result["action"] == "unchanged"
    assert len(api.audiences) == 1


def test_a_409_for_our_own_audience_goes_on_as_an_update():
    api = FakeDigitalAudiences()
    push_digital_audience(api, spec())
    reads = iter([None])

    original_get = api.get_digital_audience

    def first_read_misses(*args):
        if next(reads, "found") is None:  # an earlier read that raced the create
            api.calls.append("get")
            raise BomboraNotFoundError(None, status=404)
        return original_get(*args)

    api.get_digital_audience = first_read_misses  # type: ignore[method-assign]
    result = push_digital_audience(api, spec(cpm_price="2"))
    assert result["action"] == "updated"
    assert len(api.audiences) == 1


def test_an_external_id_used_by_another_partner_is_a_clear_error():
    api = FakeDigitalAudiences()
    push_digital_audience(api, spec(partner_id="7654321"))
    with pytest.raises(BomboraDigitalAudienceError, match="used on The Trade Desk by another partner") as info:
        push_digital_audience(api, spec())
    assert "Choose another external_id" in str(info.value)
    assert len(api.audiences) == 1


def test_a_suspended_audience_is_activated_when_asked():
    api = FakeDigitalAudiences()
    push_digital_audience(api, spec())
    api.audiences[(EXCHANGE, EXTERNAL_ID, PARTNER_ID)]["status"] = "SUSPENDED"
    result = push_digital_audience(api, spec())
    assert (result["activated"], result["status"]) == (True, "Active")


def test_a_suspended_audience_stays_suspended_without_activate():
    api = FakeDigitalAudiences()
    push_digital_audience(api, spec())
    api.audiences[(EXCHANGE, EXTERNAL_ID, PARTNER_ID)]["status"] = "Suspended"
    result = push_digital_audience(api, spec(), activate=False)
    assert (result["activated"], result["status"]) == (False, "Suspended")
    assert "activate" not in api.calls


def test_a_dry_run_estimates_and_returns_the_payload_and_writes_nothing():
    api = FakeDigitalAudiences()
    api.estimate_count = 1200
    domains = [f"company{number:02d}.com" for number in range(25)]
    result = push_digital_audience(api, spec(domains=domains), dry_run=True)
    assert api.calls == ["estimate", "get"]
    assert api.audiences == {}
    assert (result["action"], result["estimate"], result["domain_count"]) == ("dry_run", 1200, 25)
    assert result["payload"]["domains"] == domains[:10]
    assert result["payload"]["domains_total"] == 25
    assert result["payload"]["partnerId"] == PARTNER_ID


def test_a_dry_run_says_what_a_real_run_would_change():
    api = FakeDigitalAudiences()
    push_digital_audience(api, spec())
    result = push_digital_audience(api, spec(cpm_price="3"), dry_run=True)
    assert result["changed_fields"] == ["cpmPrice"]
    assert api.audiences[(EXCHANGE, EXTERNAL_ID, PARTNER_ID)]["cpmPrice"] == "1.25"


def test_an_estimate_is_only_asked_for_when_wanted():
    api = FakeDigitalAudiences()
    assert push_digital_audience(api, spec())["estimate"] is None
    api.estimate_count = 7
    assert push_digital_audience(api, spec(), estimate=True)["estimate"] == 7


def test_an_audience_activated_by_someone_else_meanwhile_is_not_an_error():
    api = FakeDigitalAudiences()
    push_digital_audience(api, spec())
    api.audiences[(EXCHANGE, EXTERNAL_ID, PARTNER_ID)]["status"] = "Suspended"

    def activated_meanwhile(data_exchange, external_id, partner_id):
        api.audiences[(data_exchange, external_id, partner_id)]["status"] = "Active"
        raise BomboraConflictError("not Suspended", status=409, method="PUT", path="/x")

    api.activate_digital_audience = activated_meanwhile  # type: ignore[method-assign]
    result = push_digital_audience(api, spec())
    assert (result["activated"], result["status"]) == (False, "Active")


def test_a_409_on_activate_of_a_still_suspended_audience_is_raised():
    api = FakeDigitalAudiences()
    push_digital_audience(api, spec())
    api.audiences[(EXCHANGE, EXTERNAL_ID, PARTNER_ID)]["status"] = "Suspended"

    def refused(data_exchange, external_id, partner_id):
        raise BomboraConflictError("refused", status=409, method="PUT", path="/x")

    api.activate_digital_audience = refused  # type: ignore[method-assign]
    with pytest.raises(BomboraConflictError):
        push_digital_audience(api, spec())
