"""The sandbox's topic taxonomy and intent data (requests, rows, filters, paging, page tokens,
determinism), exercised over HTTP with plain ``requests``; fixtures in conftest.py."""

from __future__ import annotations

import time

import pytest
import requests

DATA = "/intent/v1/data"
TOPICS = "/reference/v1/topics"
DEFINITIONS = "/intent/v1/signal-definitions"
LABEL_THRESHOLDS = (("Strong", 80), ("Medium", 60), ("Weak", 0))


# Topic taxonomy


def test_topics_are_a_fixed_taxonomy(api, server):
    response = api.call("GET", TOPICS)
    assert response.status_code == 200
    topics = response.json()["topics"]
    assert len(topics) >= 250
    assert all(set(topic) == {"id", "name", "theme", "category", "description"} for topic in topics)
    assert len({topic["id"] for topic in topics}) == len(topics)
    assert all(isinstance(topic["id"], int) and 1_000_000 <= topic["id"] <= 9_999_999 for topic in topics)
    names = {topic["name"] for topic in topics}
    assert {
        "Customer Data Platform", "Account Based Marketing", "Intent Data", "Marketing Automation",
        "Data Warehouse", "Cloud Security", "Predictive Analytics",
        "Account Based Advertising", "Data Warehousing", "Predictive Modeling",  # near-duplicates
    } <= names  # fmt: skip
    assert server.intent_topics() == topics
    # Derived from the names with a fixed salt: the same on every machine and in every run.
    assert server.topic_ids("Intent Data", "Data Warehouse") == [7471064, 8162152]


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"name": "intent data"}, {"Intent Data", "Intent Data Providers"}),
        ({"name": "ACCOUNT BASED ADV,data warehousing"}, {"Account Based Advertising", "Data Warehousing"}),
        ({"category": "account based marketing", "name": "Predictive Analytics"}, {
            "Account Based Marketing", "Account Based Advertising", "Account Based Selling", "ABM Platforms",
            "Intent Data", "Buyer Intent", "Intent Data Providers", "Target Account Selection", "Account Engagement",
            "Predictive Analytics",
        }),
        ({"theme": "energy"}, {
            "Carbon Accounting", "Renewable Energy", "Energy Management", "Electric Vehicles (EV)",
            "Sustainability Reporting", "Circular Economy",
        }),
        ({"description": "pharmacovigilance"}, {"Pharmacovigilance"}),
        ({"name": "no such topic"}, set()),
    ],
    ids=["name", "names", "or-across-filters", "theme", "description", "none"],
)  # fmt: skip
def test_topic_filters(api, params, names):
    response = api.call("GET", TOPICS, params=params)
    assert response.status_code == 200
    assert {topic["name"] for topic in response.json()["topics"]} == names


def test_topic_id_filter(api, server):
    ids = server.topic_ids("Cloud Security", "Intent Data")
    response = api.call("GET", TOPICS, params={"id": f"{ids[0]}, {ids[1]},"})
    assert sorted(topic["id"] for topic in response.json()["topics"]) == sorted(ids)
    assert api.call("GET", TOPICS, params={"id": "Cloud Security"}).status_code == 400


def test_intent_calls_need_a_token(server):
    for method, path in (("GET", TOPICS), ("POST", DATA), ("GET", DATA), ("GET", DEFINITIONS)):
        response = requests.request(method, server.url + path, timeout=10)
        assert (response.status_code, set(response.json())) == (401, {"message"})


# POST /intent/v1/data validation


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 400),
        (["not", "an", "object"], 400),
        ({"topics": "TOPICS", "signalDefinitionId": "00000000-0000-4000-8000-000000000000"}, 400),
        ({"topics": []}, 400),
        ({"topics": "TOPICS", "filters": {"a": "domain", "neq": "*.edu"}}, 400),
        ({"topics": "TOPICS", "attributes": "domain"}, 400),
        ({"signalDefinitionId": 5}, 400),
        ({"topics": ["1"]}, 422),
        ({"topics": ["Intent Data"]}, 422),
        ({"topics": "51 TOPICS"}, 422),
        ({"signalDefinitionId": "00000000-0000-4000-8000-000000000000"}, 422),
        ({"topics": "TOPICS", "attributes": ["domain", "revenue"]}, 422),
        ({"topics": "TOPICS", "attributes": ["researchCountry"]}, 422),
        ({"topics": "TOPICS", "attributes": ["topic", "topics.score"]}, 422),
    ],
    ids=[
        "empty", "not-an-object", "both", "no-topics", "unknown-field", "attributes-not-an-array",
        "definition-id-not-a-string", "unknown-topic-id", "topic-name-for-id", "too-many-topics",
        "unknown-definition", "unknown-attribute", "unmodelled-attribute", "topic-with-topics",
    ],
)  # fmt: skip
def test_bad_data_requests(api, server, topic_ids, body, status):
    all_ids = [topic["id"] for topic in server.intent_topics()]
    stand_ins = {"TOPICS": [str(topic_id) for topic_id in topic_ids], "51 TOPICS": all_ids[:51]}
    if isinstance(body, dict) and isinstance(body.get("topics"), str):
        body = {**body, "topics": stand_ins[body["topics"]]}
    response = api.call("POST", DATA, json=body)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"message"}


@pytest.mark.parametrize(
    "spec",
    [
        "domain != *.edu",
        {"a": "domain"},
        {"a": "domain", "like": "*.edu"},
        {"a": "domain", "eq": "acme.com", "neq": "globex.com"},
        {"eq": "acme.com"},
        {"a": "domain", "gt": "acme.com"},
        {"a": "score", "gte": "high"},
        {"a": "score", "in": 60},
        {"a": "domain", "in": []},
        {"and": []},
        {"or": [{"a": "score", "gte": 60}, {"a": "nope", "eq": "x"}]},
        {"and": [{"a": "score", "gte": 60}], "a": "domain"},
        {"a": "revenue", "eq": "$1M - $10M"},
        {"a": "topic", "eq": "Intent Data"},
        {"a": "domain", "eq": "accountList:00000000-0000-4000-8000-000000000000"},
    ],
    ids=[
        "not-an-object", "no-comparison", "unknown-comparison", "two-comparisons", "no-attribute",
        "gt-on-text", "gte-not-a-number", "in-not-an-array", "in-empty", "and-empty", "nested-unknown-attribute",
        "and-with-other-keys", "unknown-attribute", "topic-without-topic-attribute", "unknown-account-list",
    ],
)  # fmt: skip
def test_malformed_filters_are_422(api, topic_ids, spec):
    response = api.call("POST", DATA, json={"topics": topic_ids, "filter": spec})
    assert response.status_code == 422, response.text
    assert set(response.json()) == {"message"}


# Rows


def label_of(score: int) -> str:
    return next(label for label, threshold in LABEL_THRESHOLDS if score >= threshold)


def test_default_rows_are_domain_score_and_label_in_domain_order(api, server, topic_ids):
    rows = api.rows({"topics": topic_ids}, limit=10000)
    assert 0.3 * 1500 < len(rows) < 1500  # a deterministic subset of the companies
    assert all(list(row) == ["domain", "score", "scoreLabel"] for row in rows)
    assert all(0 <= row["score"] <= 100 and row["scoreLabel"] == label_of(row["score"]) for row in rows)
    assert {row["scoreLabel"] for row in rows} == {"Strong", "Medium", "Weak"}
    domains = [row["domain"] for row in rows]
    assert domains == sorted(domains) and len(set(domains)) == len(domains)
    assert {domain.split(".", 1)[1] for domain in domains} >= {"com", "io", "co.uk", "edu"}
    assert rows == server.intent_rows(topic_ids)
    assert api.rows({"topics": topic_ids, "attributes": []}, limit=10000) == rows


def test_every_attribute(api, topic_ids):
    attributes = ["score", "topicsCount", "topics", "areasOfInterest", "company"]
    [row, *_] = api.page(api.start({"topics": topic_ids, "attributes": attributes})).json()["data"]
    assert list(row) == ["domain", *attributes]
    assert set(row["company"]) == {"name", "industry", "size", "revenue", "hq"}
    assert set(row["company"]["hq"]) == {"address", "address2", "country", "state", "city", "zip"}
    assert row["topicsCount"] == len(row["topics"]) >= 1
    assert {topic["id"] for topic in row["topics"]} <= set(topic_ids)
    assert row["score"] == max(topic["score"] for topic in row["topics"])
    by_score = sorted(row["topics"], key=lambda topic: -topic["score"])
    assert row["areasOfInterest"] == [topic["name"] for topic in by_score]

    nested = api.rows({"topics": topic_ids, "attributes": ["company.hq.country", "company.size", "topics.id"]})
    assert set(nested[0]) == {"domain", "company", "topics"}
    assert set(nested[0]["company"]) == {"hq", "size"} and set(nested[0]["company"]["hq"]) == {"country"}
    assert all(set(topic) == {"id"} for topic in nested[0]["topics"])


def test_topic_attribute_gives_a_row_per_company_and_topic(api, server, topic_ids):
    per_company = api.rows({"topics": topic_ids, "attributes": ["topicsCount"]}, limit=10000)
    per_topic = api.rows({"topics": topic_ids, "attributes": ["topic", "score"]}, limit=70)
    assert len(per_topic) == sum(row["topicsCount"] for row in per_company)
    assert all(list(row) == ["domain", "topic", "score"] for row in per_topic)
    names = [topic["name"] for topic in server.intent_topics() if topic["id"] in topic_ids]
    assert {row["topic"] for row in per_topic} == set(names)
    keys = [(row["domain"], row["topic"]) for row in per_topic]
    assert len(set(keys)) == len(keys)
    assert per_topic == server.intent_rows(topic_ids, attributes=["topic", "score"])


@pytest.mark.parametrize(
    ("spec", "keeps"),
    [
        ({"a": "domain", "neq": "*.edu"}, lambda row: not row["domain"].endswith(".edu")),
        ({"a": "domain", "eq": "*.EDU"}, lambda row: row["domain"].endswith(".edu")),
        ({"a": "score", "gte": 60}, lambda row: row["score"] >= 60),
        ({"a": "score", "lt": "40"}, lambda row: row["score"] < 40),
        ({"a": "company.hq.country", "in": ["GB", "ca"]}, lambda row: row["company"]["hq"]["country"] in ("GB", "CA")),
        ({"a": "company.hq.country", "nin": ["US"]}, lambda row: row["company"]["hq"]["country"] != "US"),
        (
            {"or": [{"and": [{"a": "score", "gt": 80}, {"a": "company.hq.country", "eq": "US"}]},
                    {"a": "topicsCount", "eq": 3}]},
            lambda row: (row["score"] > 80 and row["company"]["hq"]["country"] == "US") or row["topicsCount"] == 3,
        ),
    ],
    ids=["neq-wildcard", "eq-wildcard", "score-gte", "score-lt-string", "in", "nin", "or-and"],
)  # fmt: skip
def test_filters(api, topic_ids, spec, keeps):
    attributes = ["score", "topicsCount", "company.hq.country"]
    everything = api.rows({"topics": topic_ids, "attributes": attributes}, limit=10000)
    filtered = api.rows({"topics": topic_ids, "attributes": attributes, "filter": spec}, limit=10000)
    assert filtered == [row for row in everything if keeps(row)]
    assert 0 < len(filtered) < len(everything)


def test_account_list_filter(api, server, topic_ids):
    domains = [row["domain"] for row in server.intent_rows(topic_ids)[:50:5]]
    account_list = server.seed_account_list("Targets", domains=[*domains, "not-in-the-data.com"])
    value = f"accountList:{account_list['id']}"
    assert [row["domain"] for row in api.rows({"topics": topic_ids, "filter": {"a": "domain", "eq": value}})] == domains
    outside = api.rows({"topics": topic_ids, "filter": {"a": "domain", "nin": [value]}}, limit=10000)
    assert not {row["domain"] for row in outside} & set(domains)


def test_signal_definition_scores_are_weighted(api, server, topic_ids):
    definition = api.create_definition("Weighted", [{"id": topic_ids[0], "weighting": 0.5}])
    raw = server.intent_rows(topic_ids[:1])
    weighted = api.rows({"signalDefinitionId": definition["signalDefinitionId"]}, limit=10000)
    assert [row["domain"] for row in weighted] == [row["domain"] for row in raw]
    assert [row["score"] for row in weighted] == [round(row["score"] * 0.5) for row in raw]
    assert all(row["scoreLabel"] == label_of(row["score"]) for row in weighted)


# Paging


def test_no_rows(api, topic_ids):
    pages = api.pages({"topics": topic_ids, "filter": {"a": "domain", "eq": "nothing.invalid"}})
    assert pages == [{"data": [], "nextPageToken": None}]


def test_one_page_when_the_limit_covers_everything(api, server, topic_ids):
    total = len(server.intent_rows(topic_ids))
    for limit in (total, total + 1, 10000):  # a full last page still ends the result
        [page] = api.pages({"topics": topic_ids}, limit=limit)
        assert len(page["data"]) == total and page["nextPageToken"] is None


def test_many_pages_the_last_one_short(api, server, topic_ids):
    expected = server.intent_rows(topic_ids, attributes=["score", "company.size"])
    limit = 97 if len(expected) % 97 else 89
    pages = api.pages({"topics": topic_ids, "attributes": ["score", "company.size"]}, limit=limit)
    assert [row for page in pages for row in page["data"]] == expected
    assert [len(page["data"]) for page in pages[:-1]] == [limit] * (len(pages) - 1)
    assert 0 < len(pages[-1]["data"]) < limit
    assert len({page["nextPageToken"] for page in pages}) == len(pages)


def test_default_limit_is_100(api, topic_ids):
    response = api.page(api.start({"topics": topic_ids}))
    assert len(response.json()["data"]) == 100


@pytest.mark.parametrize("limit", ["0", "10001", "-1", "ten", "1.5", ""])
def test_limit_out_of_bounds_is_400(api, topic_ids, limit):
    response = api.page(api.start({"topics": topic_ids}), limit)
    assert (response.status_code, set(response.json())) == (400, {"message"})


def test_a_page_token_is_required(api):
    assert api.call("GET", DATA).status_code == 400
    response = api.page("not-a-token")
    assert (response.status_code, set(response.json())) == (400, {"message"})


def test_a_page_token_can_be_read_again(api, topic_ids):
    token = api.start({"topics": topic_ids})
    first = api.page(token, 50)
    again = api.page(token, 50)
    assert first.status_code == again.status_code == 200
    assert first.content == again.content  # the same rows and the same next token
    assert api.page(first.json()["nextPageToken"], 50).json()["data"] != first.json()["data"]


def test_page_tokens_expire_after_their_lifetime(api, topic_ids):
    api.server.configure(page_token_lifetime=1)
    token = api.start({"topics": topic_ids})
    next_token = api.page(token, 10).json()["nextPageToken"]
    time.sleep(1.1)
    for stale in (token, next_token):
        response = api.page(stale, 10)
        assert (response.status_code, set(response.json())) == (400, {"message"})


def test_expire_page_tokens(api, server, topic_ids):
    token = api.start({"topics": topic_ids})
    next_token = api.page(token, 10).json()["nextPageToken"]
    server.expire_page_tokens()
    assert api.page(token, 10).status_code == 400
    assert api.page(next_token, 10).status_code == 400
    assert api.page(api.start({"topics": topic_ids}), 10).status_code == 200  # new ones work


def test_pages_never_exceed_max_page_bytes(api, server, topic_ids):
    server.configure(max_page_bytes=20000)
    body = {"topics": topic_ids, "attributes": ["company", "topics", "areasOfInterest"]}
    token = api.start(body)
    rows, sizes = [], []
    while token is not None:
        response = api.page(token, 10000)
        sizes.append(len(response.content))
        rows.extend(response.json()["data"])
        token = response.json()["nextPageToken"]
    assert len(sizes) > 3 and max(sizes) <= 20000 and max(sizes) > 15000
    assert rows == server.intent_rows(topic_ids, attributes=body["attributes"])


def test_a_full_limit_of_large_rows_is_cut_at_10_mb(api, server):
    server.configure(intent_companies=40000)
    fifty = [topic["id"] for topic in server.intent_topics()[:50]]
    response = api.page(api.start({"topics": fifty, "attributes": ["company", "topics", "areasOfInterest"]}), 10000)
    assert 9_000_000 < len(response.content) <= 10_000_000
    assert len(response.json()["data"]) < 10000 and response.json()["nextPageToken"] is not None


# Determinism


def test_the_same_request_gives_the_same_rows(api, topic_ids):
    body = {"topics": topic_ids, "attributes": ["score", "company"]}
    assert api.start(body) != api.start(body)
    assert api.rows(body, limit=500) == api.rows(body, limit=10000)


def test_scores_move_week_by_week(api, server, topic_ids):
    def scores() -> dict[str, int]:
        return {row["domain"]: row["score"] for row in api.rows({"topics": topic_ids}, limit=10000)}

    wednesday = scores()
    server.configure(intent_date="2024-06-03")  # the Monday of the same week
    assert scores() == wednesday
    server.configure(intent_date="2024-06-09")  # its Sunday
    assert scores() == wednesday
    server.configure(intent_date="2024-06-12")  # the next Wednesday
    next_week = scores()
    both = wednesday.keys() & next_week.keys()
    assert len(both) > 100
    assert sum(wednesday[domain] != next_week[domain] for domain in both) > 0.8 * len(both)
    assert next_week.keys() != wednesday.keys()  # who shows intent moves too


def test_the_seed_and_size_choose_the_companies(api, server, topic_ids):
    first = [row["domain"] for row in api.rows({"topics": topic_ids}, limit=10000)]
    server.configure(intent_seed=7)
    assert [row["domain"] for row in api.rows({"topics": topic_ids}, limit=10000)] != first


def test_a_token_keeps_the_data_of_its_post(api, server, topic_ids):
    token = api.start({"topics": topic_ids})
    before = api.page(token, 1000).json()
    server.configure(intent_date="2025-01-01", intent_seed=1, intent_companies=10)
    assert api.page(token, 1000).json() == before


def test_two_hundred_thousand_companies_are_paged_lazily(api, server, topic_ids):
    server.configure(intent_companies=200_000)
    started = time.monotonic()
    token = api.start({"topics": topic_ids})
    page = api.page(token, 10000).json()
    assert time.monotonic() - started < 5
    domains = [row["domain"] for row in page["data"]]
    assert len(domains) == 10000 and domains == sorted(set(domains))
    assert page["nextPageToken"] is not None
