"""The sandbox's Digital Audience Builder API, exercised over HTTP with plain ``requests``
(never the provider's hook): every route, status code and per-exchange rule."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from unittest.mock import ANY

import pytest
import requests

from airflow_provider_bombora.sandbox import SandboxServer
from airflow_provider_bombora.sandbox.digital_audience_rules import DATA_EXCHANGES, FILTER_IDS

AUDIENCES = "/digital-audiences/v1"
# Every route below AUDIENCES; "{exchange}" is filled in, the audience is "q3" of partner "0".
ROUTES = [
    ("POST", "/{exchange}"),
    ("POST", "/{exchange}/estimate"),
    ("GET", "/{exchange}/q3/0"),
    ("PUT", "/{exchange}/q3/0"),
    ("DELETE", "/{exchange}/q3/0"),
    ("PUT", "/{exchange}/q3/0/activate"),
    ("PUT", "/{exchange}/q3/0/suspend"),
]
# What each exchange requires on create beyond name and endDate, with valid values.
IDENTITY_AND_PRICE = {
    "adobe": {"partnerId": "123"},
    "appnexus": {"externalId": "xandr-1", "partnerId": "456", "cpmPrice": "1.25"},
    "trade_desk_direct": {"partnerId": "ttd", "cpmPrice": "0.8"},
}


def end_date(days: float = 30) -> str:
    return (datetime.now(timezone.utc) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def valid_body(exchange: str = "lotame", **fields) -> dict:
    """The smallest body ``exchange`` accepts on create, with ``fields`` over it."""
    required = {"name": "Q3 in-market", "endDate": end_date(), **IDENTITY_AND_PRICE.get(exchange, {})}
    return {**required, "domains": ["acme.com"], **fields}


@pytest.fixture(scope="module")
def server():
    with SandboxServer(port=0) as sandbox:
        yield sandbox


@pytest.fixture(autouse=True)
def fresh_sandbox(server):
    server.reset()
    server.configure(processing_delay=0.0)


def authorize(session: requests.Session, server: SandboxServer) -> None:
    """Send a fresh access token with every call of ``session``."""
    token = session.post(
        f"{server.url}/oauth/token",
        json={"client_id": server.client_id, "client_secret": server.client_secret},
        timeout=10,
    )
    assert token.status_code == 200, token.text
    session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"


@pytest.fixture
def http(server):
    with requests.Session() as session:
        session.trust_env = False  # never through a proxy from the environment
        authorize(session, server)
        yield session


class Audiences:
    """Calls to the sandbox's /digital-audiences/v1."""

    def __init__(self, server: SandboxServer, http: requests.Session):
        self.url = server.url + AUDIENCES
        self.http = http

    def call(self, method: str, path: str, body=None, **kwargs) -> requests.Response:
        return self.http.request(method, self.url + path, json=body, timeout=10, **kwargs)

    def create(self, exchange: str, body: dict) -> dict:
        response = self.call("POST", f"/{exchange}", body)
        assert response.status_code == 201, response.text
        return response.json()

    def get(self, exchange: str, external_id: str, partner_id: str) -> requests.Response:
        return self.call("GET", f"/{exchange}/{external_id}/{partner_id}")

    def status(self, exchange: str, external_id: str, partner_id: str) -> str:
        response = self.get(exchange, external_id, partner_id)
        assert response.status_code == 200, response.text
        return response.json()["status"]

    def errors(self, method: str, path: str, body) -> dict:
        """The field errors of a 422 answer."""
        response = self.call(method, path, body)
        assert response.status_code == 422, response.text
        answer = response.json()
        assert set(answer) == {"errors", "message"}
        return answer["errors"]


@pytest.fixture
def audiences(server, http):
    return Audiences(server, http)


def wait_for_status(audiences: Audiences, key: tuple[str, str, str], wanted: str, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    while (status := audiences.status(*key)) != wanted and time.monotonic() < deadline:
        time.sleep(0.05)
    return status


# Create


def test_create_answers_201_with_the_stored_audience(audiences):
    body = valid_body(
        "appnexus",
        topics=["1234", "5678"],
        filters=[{"id": "country", "values": ["US", "CA"]}],
        filterOr=True,
        entityParty=1,
    )
    created = audiences.create("appnexus", body)
    assert {name: created[name] for name in body} == body
    assert created["status"] == "Pending"
    assert created["createdDate"] == created["modifiedDate"]
    datetime.fromisoformat(created["createdDate"])
    assert audiences.get("appnexus", "xandr-1", "456").json() == {**created, "status": "Active"}


@pytest.mark.parametrize("exchange", DATA_EXCHANGES)
def test_every_exchange_accepts_its_smallest_body(audiences, exchange):
    created = audiences.create(exchange, valid_body(exchange))
    assert audiences.get(exchange, created["externalId"], created["partnerId"]).status_code == 200


@pytest.mark.parametrize("exchange", DATA_EXCHANGES)
def test_required_fields_on_create_by_exchange(audiences, exchange):
    errors = audiences.errors("POST", f"/{exchange}", {"domains": ["acme.com"]})
    required = {"name", "endDate", *IDENTITY_AND_PRICE.get(exchange, {})}
    assert errors == {name: ["is required"] for name in required}


def test_absent_fields_get_the_defaults_and_an_external_id_is_assigned(audiences):
    audiences.create("lotame", valid_body(externalId="bmb-2"))
    first = audiences.create("lotame", valid_body())
    defaults = {"externalId": "bmb-1", "partnerId": "0", "filterOr": False, "entityParty": 3}
    assert {name: first[name] for name in defaults} == defaults
    assert audiences.create("lotame", valid_body())["externalId"] == "bmb-3"  # bmb-2 is in use
    assert audiences.status("lotame", "bmb-1", "0") == "Active"


def test_media_math_direct_gets_a_numeric_external_id(audiences):
    external_id = audiences.create("media_math_direct", valid_body())["externalId"]
    assert external_id.isdigit() and len(external_id) >= 7


def test_an_external_id_in_use_on_the_exchange_is_409_whatever_the_partner(audiences, server):
    audiences.create("lotame", valid_body(externalId="q3", partnerId="1"))
    server.seed_digital_audience("eyeota", "seeded", "7")
    for exchange, external_id in (("lotame", "q3"), ("eyeota", "seeded")):
        response = audiences.call("POST", f"/{exchange}", valid_body(externalId=external_id, partnerId="2"))
        assert response.status_code == 409
        assert set(response.json()) == {"message"}
    audiences.create("liveramp", valid_body(externalId="q3", partnerId="1"))  # another exchange: free


# Body rules


@pytest.mark.parametrize(
    ("exchange", "fields", "field"),
    [
        ("lotame", {"name": ""}, "name"),
        ("lotame", {"name": 3}, "name"),
        ("lotame", {"endDate": end_date(days=-1)}, "endDate"),
        ("lotame", {"endDate": end_date()[:10]}, "endDate"),  # a date without a time
        ("lotame", {"endDate": "next year"}, "endDate"),
        ("lotame", {"endDate": 1767225600}, "endDate"),
        ("lotame", {"endDate": end_date(days=400)}, "endDate"),  # 13 calendar months are 393 to 397 days
        ("lotame", {"externalId": "q3 audience"}, "externalId"),
        ("lotame", {"externalId": "q3.audience"}, "externalId"),
        ("lotame", {"externalId": 12345}, "externalId"),
        ("media_math_direct", {"externalId": "123456"}, "externalId"),
        ("media_math_direct", {"externalId": "abc1234567"}, "externalId"),
        ("adobe", {"partnerId": "abc"}, "partnerId"),
        ("appnexus", {"partnerId": "45a"}, "partnerId"),
        ("lotame", {"partnerId": 12}, "partnerId"),
        ("trade_desk_direct", {"cpmPrice": 1.5}, "cpmPrice"),
        ("trade_desk_direct", {"cpmPrice": "-1"}, "cpmPrice"),
        ("trade_desk_direct", {"cpmPrice": "0.00"}, "cpmPrice"),
        ("trade_desk_direct", {"cpmPrice": "1,50"}, "cpmPrice"),
        ("appnexus", {"cpmPrice": "1.10"}, "cpmPrice"),
        ("lotame", {"domains": "acme.com"}, "domains"),
        ("lotame", {"domains": ["acme.com", 7]}, "domains"),
        ("lotame", {"topics": [1234]}, "topics"),
        ("lotame", {"filters": {"id": "country", "values": ["US"]}}, "filters"),
        ("lotame", {"filters": ["country"]}, "filters"),
        ("lotame", {"filters": [{"id": "planet", "values": ["Mars"]}]}, "filters"),
        ("lotame", {"filters": [{"id": "country", "values": []}]}, "filters"),
        ("lotame", {"filters": [{"id": "country"}]}, "filters"),
        ("lotame", {"filters": [{"id": "country", "values": ["US"], "not": True}]}, "filters"),
        ("lotame", {"surgeId": 5}, "surgeId"),
        ("lotame", {"granularInstallData": "salesforce"}, "granularInstallData"),
        ("lotame", {"entityParty": 2}, "entityParty"),
        ("lotame", {"entityParty": "3"}, "entityParty"),
        ("lotame", {"entityParty": True}, "entityParty"),
        ("lotame", {"filterOr": "yes"}, "filterOr"),
        ("lotame", {"audienceSize": 10}, "audienceSize"),  # unknown fields too
        ("lotame", {"status": "Active"}, "status"),  # read-only
        ("lotame", {"domains": []}, "targeting"),  # none of the targeting fields left
    ],
)
def test_field_rules(audiences, exchange, fields, field):
    errors = audiences.errors("POST", f"/{exchange}", valid_body(exchange, **fields))
    assert list(errors) == [field]
    assert all(isinstance(message, str) for message in errors[field])


@pytest.mark.parametrize(
    ("exchange", "fields"),
    [
        ("lotame", {"endDate": end_date(days=390)}),
        ("lotame", {"endDate": end_date().rstrip("Z")}),  # no zone: UTC
        ("lotame", {"endDate": end_date().replace("Z", "+02:00")}),
        ("media_math_direct", {"externalId": "1234567"}),
        ("lotame", {"externalId": "Q3_in-market-2"}),
        ("trade_desk_direct", {"partnerId": "abc", "cpmPrice": "1.10"}),
        ("appnexus", {"cpmPrice": "2.75"}),
        ("lotame", {"domains": [], "topics": ["1234"]}),
        ("lotame", {"domains": [], "surgeId": "surge-7"}),
        ("lotame", {"domains": [], "granularInstallData": [{"vendor": "salesforce"}]}),
        ("lotame", {"domains": [], "filters": [{"id": filter_id, "values": ["x"]} for filter_id in FILTER_IDS]}),
        ("lotame", {"entityParty": 1, "filterOr": True}),
    ],
)
def test_values_the_rules_accept(audiences, exchange, fields):
    audiences.create(exchange, valid_body(exchange, **fields))


def test_every_field_error_is_reported_at_once(audiences):
    body = {"endDate": "soon", "externalId": "a b", "partnerId": "x", "cpmPrice": "0.3", "colour": "red"}
    errors = audiences.errors("POST", "/appnexus", body)
    assert set(errors) == {"name", "endDate", "externalId", "partnerId", "cpmPrice", "colour", "targeting"}


def test_a_body_that_is_not_an_object_is_422_and_no_body_is_400(audiences):
    assert audiences.errors("POST", "/lotame", ["acme.com"]) == {"body": ["must be a JSON object"]}
    response = audiences.call("POST", "/lotame")
    assert response.status_code == 400
    assert set(response.json()) == {"message"}


# Read, overwrite, delete


def test_get_an_absent_audience_is_404(audiences):
    audiences.create("adobe", valid_body("adobe", externalId="q3"))
    for path in ("/adobe/q3/999", "/adobe/other/123", "/lotame/q3/123"):
        response = audiences.call("GET", path)
        assert response.status_code == 404
        assert set(response.json()) == {"message"}


def test_put_overwrites_the_whole_audience(audiences):
    created = audiences.create("lotame", valid_body(externalId="q3", partnerId="5", topics=["1234"], filterOr=True))
    replacement = {"name": "Q4", "endDate": end_date(60), "domains": ["globex.com"]}
    response = audiences.call("PUT", "/lotame/q3/5", replacement)
    assert response.status_code == 204
    assert response.content == b""
    stored = audiences.get("lotame", "q3", "5").json()
    # What was left out is gone (topics) or back to its default (filterOr).
    kept = {"externalId": "q3", "partnerId": "5", "filterOr": False, "entityParty": 3, "status": "Active"}
    assert stored == {**replacement, **kept, "createdDate": created["createdDate"], "modifiedDate": ANY}


def test_put_accepts_the_identity_of_its_path_and_refuses_another(audiences):
    audiences.create("adobe", valid_body("adobe", externalId="q3"))
    same = valid_body("adobe", externalId="q3", partnerId="123")
    assert audiences.call("PUT", "/adobe/q3/123", same).status_code == 204
    errors = audiences.errors("PUT", "/adobe/q3/123", {**same, "externalId": "q4", "partnerId": "124"})
    assert set(errors) == {"externalId", "partnerId"}


def test_put_applies_the_field_rules_but_takes_the_identity_from_the_path(audiences):
    audiences.create("appnexus", valid_body("appnexus"))
    path = "/appnexus/xandr-1/456"
    replacement = {"name": "Q4", "endDate": end_date(), "topics": ["1"], "cpmPrice": "1"}
    assert audiences.call("PUT", path, replacement).status_code == 204
    errors = audiences.errors("PUT", path, {"endDate": end_date(-1), "domains": ["a.com"], "bogus": 1})
    assert errors.keys() == {"name", "endDate", "cpmPrice", "bogus"}


def test_delete_answers_204_and_forgets_the_audience(audiences, server):
    audiences.create("lotame", valid_body(externalId="q3"))
    response = audiences.call("DELETE", "/lotame/q3/0")
    assert response.status_code == 204
    assert audiences.get("lotame", "q3", "0").status_code == 404
    assert server.digital_audiences() == []
    audiences.create("lotame", valid_body(externalId="q3"))  # the external id is free again


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_an_unknown_data_exchange_is_404(audiences, server, method, path):
    server.seed_digital_audience("lotame", "q3", "0")
    response = audiences.call(method, path.format(exchange="dv360"), valid_body())
    assert response.status_code == 404
    assert set(response.json()) == {"message"}


@pytest.mark.parametrize(("method", "path"), [route for route in ROUTES if route[1].count("/") > 2])
def test_every_call_on_an_absent_audience_is_404(audiences, method, path):
    response = audiences.call(method, path.format(exchange="lotame"), valid_body())
    assert response.status_code == 404
    assert set(response.json()) == {"message"}


# Status lifecycle


def test_an_audience_is_pending_until_the_processing_delay_has_passed(audiences, server):
    server.configure(processing_delay=60)
    audiences.create("lotame", valid_body(externalId="slow"))
    assert audiences.status("lotame", "slow", "0") == "Pending"
    server.configure(processing_delay=0.2)
    audiences.create("lotame", valid_body(externalId="quick"))
    assert wait_for_status(audiences, ("lotame", "quick", "0"), "Active") == "Active"
    assert audiences.status("lotame", "slow", "0") == "Pending"  # its delay was set when it was made


def test_an_update_makes_the_audience_pending_again(audiences, server):
    audiences.create("lotame", valid_body(externalId="q3"))
    assert audiences.status("lotame", "q3", "0") == "Active"
    server.configure(processing_delay=60)
    assert audiences.call("PUT", "/lotame/q3/0", valid_body(name="Q4")).status_code == 204
    assert audiences.status("lotame", "q3", "0") == "Pending"


def test_suspend_then_activate(audiences, server):
    audiences.create("lotame", valid_body(externalId="q3"))
    key = ("lotame", "q3", "0")
    response = audiences.call("PUT", "/lotame/q3/0/activate")
    assert response.status_code == 409  # Active, not Suspended
    assert set(response.json()) == {"message"}
    assert audiences.call("PUT", "/lotame/q3/0/suspend").status_code == 204
    assert audiences.status(*key) == "Suspended"
    assert audiences.call("PUT", "/lotame/q3/0/suspend").status_code == 204  # again: still Suspended
    server.configure(processing_delay=0.2)
    assert audiences.call("PUT", "/lotame/q3/0/activate").status_code == 204
    assert audiences.status(*key) in ("Pending", "Active")
    assert wait_for_status(audiences, key, "Active") == "Active"


def test_a_pending_audience_cannot_be_activated_but_can_be_suspended(audiences, server):
    server.configure(processing_delay=60)
    audiences.create("lotame", valid_body(externalId="q3"))
    assert audiences.call("PUT", "/lotame/q3/0/activate").status_code == 409
    assert audiences.call("PUT", "/lotame/q3/0/suspend").status_code == 204
    assert audiences.status("lotame", "q3", "0") == "Suspended"


def test_an_update_leaves_a_suspended_audience_suspended(audiences):
    audiences.create("lotame", valid_body(externalId="q3"))
    audiences.call("PUT", "/lotame/q3/0/suspend")
    assert audiences.call("PUT", "/lotame/q3/0", valid_body(name="Q4")).status_code == 204
    assert audiences.status("lotame", "q3", "0") == "Suspended"


def test_seeded_statuses_are_kept_verbatim_in_their_case(audiences, server):
    server.seed_digital_audience("lotame", "upper", "1", status="ACTIVE", name="Upper")
    server.seed_digital_audience("lotame", "waiting", "1", status="PENDING")
    server.seed_digital_audience("lotame", "paused", "1", status="SUSPENDED")
    assert audiences.status("lotame", "upper", "1") == "ACTIVE"
    assert audiences.status("lotame", "waiting", "1") == "ACTIVE"  # delay 0: settled on the first read
    assert audiences.call("PUT", "/lotame/paused/1/activate").status_code == 204  # compared case-insensitively
    assert audiences.status("lotame", "paused", "1") == "Active"


# Estimate


def estimate(audiences: Audiences, exchange: str = "lotame", **fields) -> int:
    body = {"name": "Q3", "endDate": end_date(), **fields}
    response = audiences.call("POST", f"/{exchange}/estimate", body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert list(answer) == ["count"]
    return answer["count"]


def test_estimate_counts_distinct_domains_without_regard_to_case(audiences, server):
    assert estimate(audiences, domains=["Acme.com", "acme.com", "globex.com"]) == 2
    assert server.digital_audiences() == []  # an estimate creates nothing


def test_estimate_of_topics_filters_and_surge_is_deterministic(audiences):
    topics = estimate(audiences, topics=["1234", "5678"])
    assert topics == estimate(audiences, topics=["1234", "5678"])
    assert 1000 <= topics <= 9999
    filtered = estimate(audiences, domains=["acme.com"], filters=[{"id": "country", "values": ["US"]}])
    assert 1001 <= filtered <= 10000
    surge = estimate(audiences, surgeId="surge-7")
    assert estimate(audiences, surgeId="surge-7", domains=["acme.com", "globex.com"]) == surge  # surgeId overrides


def test_estimate_needs_no_identity_but_the_other_rules_apply(audiences):
    assert estimate(audiences, "appnexus", cpmPrice="1.50", domains=["acme.com"]) == 1
    errors = audiences.errors("POST", "/appnexus/estimate", {"domains": ["acme.com"], "partnerId": "x"})
    assert errors == {
        "name": ["is required"],
        "endDate": ["is required"],
        "cpmPrice": ["is required"],
        "partnerId": ["must be numeric for appnexus"],
    }


# Tokens, faults, reset, admin


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_needs_a_token(audiences, method, path):
    audiences.create("lotame", valid_body(externalId="q3"))
    response = audiences.call(method, path.format(exchange="lotame"), valid_body(), headers={"Authorization": None})
    assert response.status_code == 401
    assert audiences.status("lotame", "q3", "0") == "Active"  # untouched


def test_injected_faults_take_the_new_routes(audiences, server):
    server.inject_fault("POST", "/digital-audiences/v1/*", status=503)
    server.inject_fault("POST", "/digital-audiences/v1/*/estimate", status=502, retry_after=1)
    assert audiences.call("POST", "/lotame", valid_body(externalId="q3")).status_code == 503
    assert server.digital_audiences() == []  # a faulted request is not processed
    faulted = audiences.call("POST", "/lotame/estimate", valid_body())
    assert (faulted.status_code, faulted.headers["Retry-After"]) == (502, "1")
    audiences.create("lotame", valid_body(externalId="q3"))
    log = [entry for entry in server.request_log() if entry["path"].startswith(AUDIENCES)]
    assert [(entry["path"], entry["status"]) for entry in log] == [
        ("/digital-audiences/v1/lotame", 503),
        ("/digital-audiences/v1/lotame/estimate", 502),
        ("/digital-audiences/v1/lotame", 201),
    ]
    assert log[0]["body"]["externalId"] == "q3"


def test_reset_forgets_every_audience(audiences, server):
    audiences.create("lotame", valid_body())
    server.seed_digital_audience("adobe", "q3", "123")
    server.reset()
    assert server.digital_audiences() == []
    assert audiences.get("adobe", "q3", "123").status_code == 401  # tokens are forgotten too


def test_reset_restarts_the_assigned_external_ids(audiences, server, http):
    audiences.create("lotame", valid_body())
    server.reset()
    authorize(http, server)
    assert audiences.create("lotame", valid_body())["externalId"] == "bmb-1"


def test_admin_lists_every_audience_with_its_exchange_and_status(audiences, server):
    created = audiences.create("adobe", valid_body("adobe", externalId="q3"))
    audiences.call("PUT", "/adobe/q3/123/suspend")
    [stored] = server.digital_audiences()
    assert stored == {**created, "dataExchange": "adobe", "status": "Suspended", "modifiedDate": stored["modifiedDate"]}


def test_seeded_audiences_are_not_validated_and_are_served(audiences, server):
    old_fields = {"name": "Old", "endDate": "2020-01-01", "colour": "red"}
    seeded = server.seed_digital_audience("appnexus", "legacy id", "abc", **old_fields)
    identity = {"externalId": "legacy id", "partnerId": "abc", "status": "Active"}
    dates = {"createdDate": seeded["createdDate"], "modifiedDate": seeded["createdDate"]}
    assert seeded == {"dataExchange": "appnexus", **old_fields, **identity, **dates}
    served = audiences.call("GET", "/appnexus/legacy%20id/abc")
    assert served.json() == {name: value for name, value in seeded.items() if name != "dataExchange"}


@pytest.mark.parametrize(
    ("arguments", "fields"),
    [
        (("dv360", "q3", "1"), {}),  # unknown exchange
        (("lotame", "", "1"), {}),
        (("lotame", "q3", "1"), {"status": ""}),
        (("lotame", "q3", "1"), {"createdDate": "2020-01-01T00:00:00"}),  # written by the sandbox
        (("lotame", "taken", "2"), {}),  # external id in use (409)
    ],
)
def test_seed_refuses_bad_shapes(server, arguments, fields):
    server.seed_digital_audience("lotame", "taken", "1")
    with pytest.raises(ValueError, match="HTTP 4"):
        server.seed_digital_audience(*arguments, **fields)
