"""The Digital Audience Builder's rules (pure): the exchange table, the operator's inputs checked
per exchange, the request body, what a rerun changes, and whether an audience is active.

No request is sent: the modules under test import no HTTP library, and the reads go to doubles.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from airflow_provider_bombora.digital_audience_parameters import EXCHANGES, FILTER_IDS
from airflow_provider_bombora.digital_audiences import (
    AUDIENCE_RESULT_KEYS,
    DigitalAudienceTarget,
    audience_body,
    build_audience_spec,
    changed_fields,
    evaluate_audience_status,
    missing_audience_message,
)
from airflow_provider_bombora.exceptions import (
    BomboraDigitalAudienceError,
    BomboraDigitalAudienceTimeoutError,
    BomboraNotFoundError,
    BomboraValidationError,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
THIRTEEN_MONTHS_LATER = datetime(2028, 1, 1, 12, 0, tzinfo=timezone.utc)
CONTRACT_EXCHANGES = (
    "adobe",
    "appnexus",
    "blue_kai",
    "eyeota",
    "liveramp",
    "lotame",
    "measure",
    "media_math_direct",
    "taboola_direct",
    "trade_desk_direct",
    "rtvi",
)
# Valid ids and price of each exchange whose rules differ from the general ones.
IDS = {
    "adobe": {"partner_id": "1234567"},
    "appnexus": {"partner_id": "7654321", "cpm_price": "1.25"},
    "media_math_direct": {"external_id": "1234567"},
    "trade_desk_direct": {"partner_id": "ttd_partner-1", "cpm_price": "1.50"},
}


def inputs(data_exchange: str = "trade_desk_direct", **changes: object) -> dict:
    """The operator's inputs for a valid audience on ``data_exchange``, with ``changes``."""
    given: dict[str, object] = {
        "data_exchange": data_exchange,
        "audience_name": "High intent",
        "end_date": "2027-02-25",
        "external_id": "hi-intent-ttd",
        "partner_id": "partner-1",
        "cpm_price": None,
        "topics": ["1503561"],
        "now": NOW,
        **IDS.get(data_exchange, {}),
    }
    given.update(changes)
    return given


def build(data_exchange: str = "trade_desk_direct", **changes: object):
    return build_audience_spec(**inputs(data_exchange, **changes))


# --- The exchange table -----------------------------------------------------------------------


def test_the_table_holds_every_exchange_of_the_contract_with_its_required_fields():
    assert tuple(EXCHANGES) == CONTRACT_EXCHANGES
    assert EXCHANGES["adobe"].required_on_create == ("name", "endDate", "partnerId")
    assert EXCHANGES["appnexus"].required_on_create == ("name", "endDate", "externalId", "partnerId", "cpmPrice")
    assert EXCHANGES["trade_desk_direct"].required_on_create == ("name", "endDate", "partnerId", "cpmPrice")
    others = set(CONTRACT_EXCHANGES) - {"adobe", "appnexus", "trade_desk_direct"}
    assert {EXCHANGES[name].required_on_create for name in others} == {("name", "endDate")}
    assert [name for name, exchange in EXCHANGES.items() if exchange.test_only] == ["measure"]
    assert EXCHANGES["trade_desk_direct"].describe() == "The Trade Desk (trade_desk_direct)"


# --- Refusals ---------------------------------------------------------------------------------

REQUIRED_IDS = [
    pytest.param(name, {key: missing}, key, "is required for every data exchange", id=f"{name}-no-{key}")
    for name in CONTRACT_EXCHANGES
    for key, missing in (("external_id", None), ("partner_id", "None"))
]

REFUSALS = [
    # Bombora's own required fields, and the exchanges' id rules.
    pytest.param("appnexus", {"cpm_price": None}, "cpm_price", "is required on Xandr", id="appnexus-no-cpm"),
    pytest.param("trade_desk_direct", {"cpm_price": ""}, "cpm_price", "required on The Trade Desk", id="ttd-blank-cpm"),
    pytest.param("adobe", {"partner_id": "abc123"}, "partner_id", "digits only", id="adobe-partner-not-numeric"),
    pytest.param("appnexus", {"partner_id": "12a"}, "partner_id", "digits only", id="appnexus-partner-not-numeric"),
    pytest.param("trade_desk_direct", {"partner_id": "ttd partner"}, "partner_id", "letters, digits, '-' and '_'",
                 id="ttd-partner-space"),
    pytest.param("media_math_direct", {"external_id": "123456"}, "external_id", "at least 7", id="mediamath-6-digits"),
    pytest.param("media_math_direct", {"external_id": "1234567a"}, "external_id", "digits only",
                 id="mediamath-letter"),
    pytest.param("eyeota", {"external_id": "hi intent!"}, "external_id", "letters, digits, '-' and '_'",
                 id="eyeota-external-id-characters"),
    pytest.param("liveramp", {"external_id": "é-audience"}, "external_id", "letters, digits", id="non-ascii-id"),
    pytest.param("lotame", {"partner_id": True}, "partner_id", "is not valid", id="boolean-partner"),
    # CPM prices.
    pytest.param("appnexus", {"cpm_price": "1.30"}, "cpm_price", "nearest valid prices are 1.25 or 1.50",
                 id="appnexus-not-a-quarter"),
    pytest.param("appnexus", {"cpm_price": 0.1}, "cpm_price", "nearest valid prices are 0.25", id="appnexus-below"),
    pytest.param("trade_desk_direct", {"cpm_price": "0"}, "cpm_price", "positive price", id="cpm-zero"),
    pytest.param("trade_desk_direct", {"cpm_price": "-1"}, "cpm_price", "positive price", id="cpm-negative"),
    pytest.param("trade_desk_direct", {"cpm_price": "nan"}, "cpm_price", "positive price", id="cpm-nan-text"),
    pytest.param("trade_desk_direct", {"cpm_price": float("inf")}, "cpm_price", "positive price", id="cpm-infinite"),
    pytest.param("trade_desk_direct", {"cpm_price": "cheap"}, "cpm_price", "such as '1.25'", id="cpm-word"),
    pytest.param("trade_desk_direct", {"cpm_price": True}, "cpm_price", "positive price", id="cpm-boolean"),
    pytest.param("trade_desk_direct", {"cpm_price": "1.255"}, "cpm_price", "more than 2 decimals", id="cpm-mills"),
    # Data exchange, name.
    pytest.param("tradedesk", {}, "data_exchange", "did you mean 'trade_desk_direct'", id="did-you-mean-tradedesk"),
    pytest.param("xandr", {}, "data_exchange", "did you mean 'appnexus'", id="did-you-mean-xandr"),
    pytest.param("Media Math", {}, "data_exchange", "did you mean 'media_math_direct'", id="did-you-mean-mediamath"),
    pytest.param("bluekai", {}, "data_exchange", "did you mean 'blue_kai'", id="did-you-mean-bluekai"),
    pytest.param("facebook", {}, "data_exchange", "The data exchanges are adobe, appnexus", id="unknown-exchange"),
    pytest.param("None", {}, "data_exchange", "is not a Bombora data exchange", id="templated-none-exchange"),
    pytest.param("eyeota", {"audience_name": "  "}, "audience_name", "non-empty", id="blank-name"),
    pytest.param("eyeota", {"audience_name": "None"}, "audience_name", "non-empty", id="templated-none-name"),
    # End date.
    pytest.param("eyeota", {"end_date": NOW}, "end_date", "is not in the future", id="end-exactly-now"),
    pytest.param("eyeota", {"end_date": "2026-11-30"}, "end_date", "is not in the future", id="end-yesterday"),
    pytest.param("eyeota", {"end_date": THIRTEEN_MONTHS_LATER + timedelta(seconds=1)}, "end_date",
                 "more than 13 months ahead", id="end-just-over-13-months"),
    pytest.param("eyeota", {"end_date": "2028-01-01"}, "end_date", "the last date that fits is 2027-12-31",
                 id="end-date-13-months-ahead-ends-too-late"),
    pytest.param("eyeota", {"end_date": "next friday"}, "end_date", "ISO 8601", id="end-not-a-date"),
    pytest.param("eyeota", {"end_date": 20270225}, "end_date", "ISO 8601", id="end-a-number"),
    pytest.param("eyeota", {"end_date": "None"}, "end_date", "is required", id="end-templated-none"),
    # Targeting.
    pytest.param("eyeota", {"topics": "1503561"}, "topics", "must be a list of ids", id="topics-a-string"),
    pytest.param("eyeota", {"topics": ["1503561", ""]}, "topics", "non-empty strings", id="topics-blank-id"),
    pytest.param("eyeota", {"topics": [None]}, "topics", "non-empty strings", id="topics-none-id"),
    pytest.param("eyeota", {"granular_install_data": {"id": 1}}, "granular_install_data", "must be a list",
                 id="install-data-a-dict"),
    pytest.param("eyeota", {"filters": [{"id": "ccm_industri", "values": ["Software"]}]}, "filters",
                 "did you mean 'ccm_industry'", id="filter-id-typo"),
    pytest.param("eyeota", {"filters": [{"id": "industry", "values": ["Software"]}]}, "filters",
                 "not one of b2c_interest", id="filter-id-unknown"),
    pytest.param("eyeota", {"filters": [{"id": "country", "values": []}]}, "filters", "filters[0] values must be a "
                 "non-empty list", id="filter-no-values"),
    pytest.param("eyeota", {"filters": [{"id": "country"}]}, "filters", "'id' and 'values' only", id="filter-no-key"),
    pytest.param("eyeota", {"filters": [{"id": "state", "values": ["Ohio"]}, {"id": "state", "values": ["Iowa"]}]},
                 "filters", "put all its values in one filter", id="filter-twice"),
    pytest.param("eyeota", {"filters": {"id": "state", "values": ["Ohio"]}}, "filters", "must be a list of filters",
                 id="filters-not-a-list"),
    pytest.param("eyeota", {"topics": None}, "domains",
                 "at least one of domains (non-empty), topics, filters, surge_id or granular_install_data",
                 id="no-targeting"),
    pytest.param("eyeota", {"topics": "None", "domains": []}, "domains", "domains is empty", id="empty-domains"),
    pytest.param("eyeota", {"surge_id": "42", "domains": ["acme.com"]}, "surge_id", "surgeId overrides them",
                 id="surge-id-with-domains"),
    pytest.param("eyeota", {"domains": ["WWW.Acme.com"]}, "domains", "is not normalised", id="domain-not-normal"),
    pytest.param("eyeota", {"domains": ["not a domain"]}, "domains", "is not a domain (invalid_character)",
                 id="domain-invalid"),
    pytest.param("eyeota", {"domains": "acme.com"}, "domains", "must be a list of domains", id="domains-a-string"),
    pytest.param("eyeota", {"surge_id": ["42"]}, "surge_id", "an id as a string", id="surge-id-a-list"),
    # Options.
    pytest.param("eyeota", {"entity_party": 2}, "entity_party", "1 (first party only) or 3", id="entity-party-2"),
    pytest.param("eyeota", {"entity_party": "third"}, "entity_party", "or 3 (third party)", id="entity-party-word"),
    pytest.param("eyeota", {"filter_or": "yes"}, "filter_or", "true or false", id="filter-or-word"),
]


@pytest.mark.parametrize(("data_exchange", "changes", "field", "fragment"), REQUIRED_IDS + REFUSALS)
def test_a_refusal_names_the_parameter_and_the_rule(data_exchange, changes, field, fragment):
    with pytest.raises(BomboraValidationError) as raised:
        build(data_exchange, **changes)
    assert raised.value.field == field
    assert fragment in raised.value.problem


def test_every_problem_is_reported_at_once_under_the_first_field():
    with pytest.raises(BomboraValidationError) as raised:
        build("appnexus", external_id=None, cpm_price="-1", entity_party=2)
    assert raised.value.field == "external_id"
    assert "also cpm_price: must be a positive price" in raised.value.problem
    assert "also entity_party: must be 1" in raised.value.problem


def test_an_unknown_exchange_still_has_its_ids_checked_by_the_general_rule():
    with pytest.raises(BomboraValidationError) as raised:
        build("tradedesk", partner_id="ttd partner")
    assert raised.value.field == "data_exchange"
    assert "also partner_id" in raised.value.problem


def test_now_must_be_aware():
    with pytest.raises(ValueError, match="aware"):
        build(now=NOW.replace(tzinfo=None))


# --- Accepted inputs --------------------------------------------------------------------------

ACCEPTED = [
    pytest.param("trade_desk_direct", {"cpm_price": "1.5"}, "cpm_price", "1.50", id="cpm-text"),
    pytest.param("trade_desk_direct", {"cpm_price": 2}, "cpm_price", "2.00", id="cpm-int"),
    pytest.param("trade_desk_direct", {"cpm_price": 1.1}, "cpm_price", "1.10", id="cpm-float"),
    pytest.param("trade_desk_direct", {"cpm_price": " 1.250 "}, "cpm_price", "1.25", id="cpm-padded"),
    pytest.param("appnexus", {"cpm_price": Decimal("0.75")}, "cpm_price", "0.75", id="appnexus-quarter-decimal"),
    pytest.param("appnexus", {"cpm_price": "3"}, "cpm_price", "3.00", id="appnexus-whole-dollars"),
    pytest.param("eyeota", {"cpm_price": "0.40"}, "cpm_price", "0.40", id="optional-cpm-given"),
    pytest.param("eyeota", {"cpm_price": "None"}, "cpm_price", None, id="optional-cpm-templated-none"),
    pytest.param("adobe", {"partner_id": 1234567}, "partner_id", "1234567", id="adobe-partner-int"),
    pytest.param("media_math_direct", {"external_id": 12345678}, "external_id", "12345678", id="mediamath-int"),
    pytest.param("rtvi", {"external_id": " hi_intent-2 "}, "external_id", "hi_intent-2", id="external-id-trimmed"),
    pytest.param(" Trade_Desk_Direct ", {"cpm_price": "1"}, "data_exchange", "trade_desk_direct",
                 id="exchange-case-and-blanks"),
    pytest.param("eyeota", {"end_date": THIRTEEN_MONTHS_LATER}, "end_date", THIRTEEN_MONTHS_LATER,
                 id="end-exactly-13-months"),
    pytest.param("eyeota", {"end_date": NOW + timedelta(seconds=1)}, "end_date", NOW + timedelta(seconds=1),
                 id="end-a-second-from-now"),
    pytest.param("eyeota", {"end_date": "2027-12-31"}, "end_date",
                 datetime(2027, 12, 31, 23, 59, 59, tzinfo=timezone.utc), id="end-last-date-that-fits"),
    pytest.param("eyeota", {"end_date": date(2027, 2, 25)}, "end_date",
                 datetime(2027, 2, 25, 23, 59, 59, tzinfo=timezone.utc), id="end-a-date-object"),
    pytest.param("eyeota", {"end_date": "2027-02-25T10:00:00"}, "end_date",
                 datetime(2027, 2, 25, 10, tzinfo=timezone.utc), id="end-without-zone-is-utc"),
    pytest.param("eyeota", {"end_date": "2027-02-25T10:00:00+02:00"}, "end_date",
                 datetime(2027, 2, 25, 8, tzinfo=timezone.utc), id="end-with-offset"),
    pytest.param("eyeota", {"end_date": "2027-02-25T10:00:00.750Z"}, "end_date",
                 datetime(2027, 2, 25, 10, tzinfo=timezone.utc), id="end-z-and-fraction"),
    pytest.param("eyeota", {"topics": [1503561, "1503565", 1503561]}, "topics", ("1503561", "1503565"),
                 id="topics-ints-deduplicated"),
    pytest.param("eyeota", {"topics": "None", "surge_id": 123}, "surge_id", "123", id="surge-id-int"),
    pytest.param("eyeota", {"topics": "", "granular_install_data": ["10000", 10001]}, "granular_install_data",
                 ("10000", "10001"), id="granular-install-data"),
    pytest.param("eyeota", {"domains": ["b.com", "a.com", "b.com"]}, "domains", ("a.com", "b.com"),
                 id="domains-sorted-distinct"),
    pytest.param("eyeota", {"filters": [{"id": " CCM_Industry ", "values": ["Software"]}]}, "filters",
                 ("ccm_industry",), id="filter-id-any-case"),
    pytest.param("eyeota", {"entity_party": "1"}, "entity_party", 1, id="entity-party-text"),
    pytest.param("eyeota", {"entity_party": 3}, "entity_party", 3, id="entity-party-int"),
    pytest.param("eyeota", {"entity_party": "None"}, "entity_party", None, id="entity-party-templated-none"),
    pytest.param("eyeota", {"filter_or": "True"}, "filter_or", True, id="filter-or-text"),
    pytest.param("eyeota", {"filter_or": False}, "filter_or", False, id="filter-or-bool"),
    pytest.param("eyeota", {"filter_or": ""}, "filter_or", None, id="filter-or-blank"),
]


@pytest.mark.parametrize(("data_exchange", "changes", "attribute", "expected"), ACCEPTED)
def test_an_accepted_input_is_normalised(data_exchange, changes, attribute, expected):
    value = getattr(build(data_exchange, **changes), attribute)
    if attribute == "filters":
        value = tuple(item.filter_id for item in value)
    assert value == expected


@pytest.mark.parametrize("data_exchange", CONTRACT_EXCHANGES)
def test_every_exchange_accepts_its_valid_inputs(data_exchange):
    assert build(data_exchange).data_exchange == data_exchange


@pytest.mark.parametrize("filter_id", FILTER_IDS)
def test_every_filter_id_is_accepted(filter_id):
    spec = build("eyeota", topics=None, filters=[{"id": filter_id, "values": ["a value", 7]}])
    assert [(item.filter_id, item.values) for item in spec.filters] == [(filter_id, ("a value", "7"))]


# --- The body ---------------------------------------------------------------------------------


def test_the_body_holds_every_field_given_in_the_api_names():
    spec = build(
        cpm_price=1.5,
        domains=["b.com", "a.com"],
        topics=[1503561],
        filters=[{"id": "country", "values": ["US"]}],
        granular_install_data=["10000"],
        filter_or="false",
        entity_party="1",
    )
    assert audience_body(spec) == {
        "name": "High intent",
        "endDate": "2027-02-25T23:59:59Z",
        "externalId": "hi-intent-ttd",
        "partnerId": "ttd_partner-1",
        "cpmPrice": "1.50",
        "domains": ["a.com", "b.com"],
        "topics": ["1503561"],
        "filters": [{"id": "country", "values": ["US"]}],
        "granularInstallData": ["10000"],
        "filterOr": False,
        "entityParty": 1,
    }


def test_the_body_leaves_out_what_was_not_given():
    spec = build("eyeota", topics=None, surge_id="42", end_date=datetime(2027, 2, 25, 6, 30, 15, 999, timezone.utc))
    assert audience_body(spec) == {
        "name": "High intent",
        "endDate": "2027-02-25T06:30:15Z",
        "externalId": "hi-intent-ttd",
        "partnerId": "partner-1",
        "surgeId": "42",
    }


# --- What a rerun changes ---------------------------------------------------------------------

BODY = audience_body(
    build(domains=["a.com", "b.com"], topics=["1", "2"], filters=[{"id": "state", "values": ["Ohio", "Iowa"]}])
)


def read_back(**changes: object) -> dict:
    """The audience as Bombora could give it back: another form of BODY, plus the fields it writes."""
    stored = {
        **BODY,
        "endDate": "2027-02-25T23:59:59.000Z",
        "cpmPrice": "1.5",
        "domains": ["b.com", "a.com"],
        "topics": ["2", "1"],
        "filters": [{"id": "state", "values": ["Iowa", "Ohio"]}],
        "filterOr": False,
        "entityParty": "3",
        "surgeId": None,
        "status": "ACTIVE",
        "createdDate": "2026-12-01T12:00:00",
    }
    stored.update(changes)
    return stored


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({}, id="reordered-and-reformatted"),
        pytest.param({"endDate": "2027-02-25T23:59:59"}, id="end-date-without-zone"),
        pytest.param({"endDate": "2027-02-25T18:59:59-05:00"}, id="end-date-with-offset"),
        pytest.param({"cpmPrice": 1.50}, id="cpm-a-number"),
        pytest.param({"entityParty": None, "filterOr": None}, id="defaults-as-null"),
        pytest.param({"granularInstallData": [], "externalId": "HI-INTENT-TTD"}, id="empty-list-and-identity"),
    ],
)
def test_a_rerun_with_the_same_inputs_changes_nothing(changes):
    assert changed_fields(read_back(**changes), BODY) == []


@pytest.mark.parametrize(
    ("changes", "changed"),
    [
        pytest.param({"domains": ["a.com"]}, ["domains"], id="domain-added"),
        pytest.param({"endDate": "2027-02-25T00:00:00"}, ["endDate"], id="end-date-moved"),
        pytest.param({"cpmPrice": "1.75", "name": "Old name"}, ["name", "cpmPrice"], id="name-and-price"),
        pytest.param({"filterOr": True}, ["filterOr"], id="filter-or-back-to-default"),
        pytest.param({"surgeId": "42"}, ["surgeId"], id="surge-id-dropped"),
        pytest.param({"filters": [{"id": "state", "values": ["Ohio"]}]}, ["filters"], id="filter-value-added"),
        pytest.param({"endDate": "soon"}, ["endDate"], id="unreadable-end-date"),
    ],
)
def test_a_difference_is_named_by_its_api_field(changes, changed):
    assert changed_fields(read_back(**changes), BODY) == changed


def test_domains_are_not_compared_when_a_surge_id_overrides_them():
    body = audience_body(build("eyeota", topics=None, surge_id="42"))
    assert changed_fields({**body, "domains": ["acme.com"]}, body) == []


# --- The status decision ----------------------------------------------------------------------

TARGET = DigitalAudienceTarget.from_parameters(
    data_exchange="trade_desk_direct", external_id="hi-intent-ttd", partner_id=1234567
)


@pytest.mark.parametrize("status", ["ACTIVE", "active", "Active", " Active "])
def test_an_active_audience_is_done(status):
    result = evaluate_audience_status({"name": "High intent", "status": status, "domains": ["a.com"]}, TARGET)
    assert result.done and result.waiting_for is None
    assert tuple(result.result) == AUDIENCE_RESULT_KEYS
    assert result.result == {
        "data_exchange": "trade_desk_direct",
        "external_id": "hi-intent-ttd",
        "partner_id": "1234567",
        "audience_name": "High intent",
        "audience_status": "Active",
        "domain_count": 1,
    }


@pytest.mark.parametrize(
    ("status", "fragment"),
    [("Pending", "not activated it yet"), ("PENDING", "not activated it yet"), ("Archived", "'Archived', not Active"),
     (None, "None, not Active")],
)
def test_a_pending_or_unknown_audience_is_waited_for(status, fragment):
    result = evaluate_audience_status({"status": status}, TARGET)
    assert not result.done
    assert result.waiting_for is not None and fragment in result.waiting_for
    assert result.result["domain_count"] is None


def test_a_suspended_audience_fails_saying_how_to_resume_it():
    with pytest.raises(BomboraDigitalAudienceError) as raised:
        evaluate_audience_status({"status": "Suspended"}, TARGET)
    message = str(raised.value)
    assert "is suspended" in message and "activate=True" in message
    assert "PUT /digital-audiences/v1/trade_desk_direct/hi-intent-ttd/1234567/activate" in message


def test_the_target_describes_itself_and_survives_serialisation():
    assert TARGET.describe() == (
        "Bombora digital audience hi-intent-ttd (partner 1234567) on The Trade Desk (trade_desk_direct)"
    )
    assert DigitalAudienceTarget.from_parameters(**TARGET.to_parameters()) == TARGET
    assert TARGET.identity() == TARGET.to_parameters()
    assert issubclass(TARGET.timeout, TARGET.failure)


@pytest.mark.parametrize(
    ("parameters", "field"),
    [({"data_exchange": "ttd"}, "data_exchange"), ({"external_id": "None"}, "external_id"),
     ({"partner_id": ""}, "partner_id"), ({"data_exchange": "adobe", "partner_id": "ab"}, "partner_id")],
)
def test_the_target_checks_templated_values(parameters, field):
    given = {**TARGET.to_parameters(), **parameters}
    with pytest.raises(BomboraValidationError) as raised:
        DigitalAudienceTarget.from_parameters(**given)
    assert raised.value.field == field


class AudienceReader:
    """A hook double: the audience it was given, or a 404."""

    def __init__(self, audience: dict | None) -> None:
        self.audience = audience
        self.reads: list[tuple[str, str, str]] = []

    def get_digital_audience(self, data_exchange: str, external_id: str, partner_id: str) -> dict:
        self.reads.append((data_exchange, external_id, partner_id))
        if self.audience is None:
            raise BomboraNotFoundError("not found", status=404)
        return self.audience


class AsyncAudienceReader:
    """The asynchronous hook's double."""

    def __init__(self, audience: dict | None) -> None:
        self.reader = AudienceReader(audience)

    async def get_digital_audience(self, data_exchange: str, external_id: str, partner_id: str) -> dict:
        return self.reader.get_digital_audience(data_exchange, external_id, partner_id)


def test_a_read_asks_by_the_three_ids_and_a_missing_audience_fails():
    reader = AudienceReader({"status": "Active"})
    assert TARGET.read(reader).done
    assert reader.reads == [("trade_desk_direct", "hi-intent-ttd", "1234567")]
    with pytest.raises(BomboraDigitalAudienceError, match="does not exist") as raised:
        TARGET.read(AudienceReader(None))
    assert str(raised.value) == missing_audience_message(TARGET)
    assert not isinstance(raised.value, BomboraDigitalAudienceTimeoutError)


def test_an_asynchronous_read_decides_the_same():
    assert not asyncio.run(TARGET.aread(AsyncAudienceReader({"status": "Pending"}))).done
    with pytest.raises(BomboraDigitalAudienceError, match="does not exist"):
        asyncio.run(TARGET.aread(AsyncAudienceReader(None)))
