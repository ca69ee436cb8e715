"""BomboraHook's Intent API calls, against requests-mock: topics, intent data pages, signal definitions."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from hook_doubles import BASE, TOKEN_2, paths, raised, token_answer

from airflow_provider_bombora.exceptions import (
    BomboraApiError,
    BomboraAuthError,
    BomboraNotFoundError,
    BomboraValidationError,
)
from airflow_provider_bombora.hooks.bombora import BomboraHook
from airflow_provider_bombora.hooks.intent import IntentPageTokenError

TOPICS_URL = f"{BASE}/reference/v1/topics"
DATA_URL = f"{BASE}/intent/v1/data"
DEFINITIONS_URL = f"{BASE}/intent/v1/signal-definitions"
DEFINITION_URL = f"{BASE}/intent/v1/signal-definition"
DEFINITION_ID = "517134f7-1e3b-4a5d-9c2f-000000000001"
TAXONOMY = [
    {"id": 4268665, "name": "Customer Data Platform", "theme": "Marketing", "category": "Marketing Technology"},
    {"id": 1974669, "name": "Account Based Marketing", "theme": "Marketing", "category": "Account Based Marketing"},
    {"id": 3300001, "name": "Account Based Advertising", "theme": "Marketing", "category": "Account Based Marketing"},
]
LAST_PAGE = {"json": {"data": [{"domain": "acme.com", "score": 91}], "nextPageToken": None}}
ROWS = [{"domain": "acme.com", "score": 91, "scoreLabel": "Strong"}, {"domain": "globex.io", "score": 62}]


def query_of(request) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url).query)


# --- Topic taxonomy ---


def test_list_topics_without_filters_reads_the_whole_taxonomy(api):
    api.get(TOPICS_URL, json={"topics": TAXONOMY})
    assert BomboraHook().list_topics() == TAXONOMY
    assert urlsplit(api.request_history[-1].url).query == ""


def test_list_topics_also_takes_a_bare_array(api):
    api.get(TOPICS_URL, json=TAXONOMY)
    assert BomboraHook().list_topics() == TAXONOMY


def test_list_topics_sends_each_filter_as_a_comma_separated_list(api):
    api.get(TOPICS_URL, json={"topics": TAXONOMY[:1]})
    BomboraHook().list_topics(ids=[4268665, "1974669"], names=["Customer Data"], themes=["Marketing"], categories=[])
    assert query_of(api.request_history[-1]) == {
        "id": ["4268665,1974669"],
        "name": ["Customer Data"],
        "theme": ["Marketing"],
    }


def test_a_filter_value_with_a_comma_is_refused_before_any_request(api):
    error = raised(BomboraValidationError, BomboraHook().list_topics, names=["Data, Analytics"])
    assert error.field == "name"
    assert api.request_history == []


@pytest.mark.parametrize("answer", [{"topics": [{"name": "no id"}]}, {"topics": "all"}, {"items": []}])
def test_a_taxonomy_of_another_shape_is_an_api_error(api, answer):
    api.get(TOPICS_URL, json=answer)
    assert "topics" in str(raised(BomboraApiError, BomboraHook().list_topics))


def test_resolve_topics_matches_names_ignoring_case_and_keeps_ids(api):
    api.get(TOPICS_URL, json={"topics": TAXONOMY})
    resolved = BomboraHook().resolve_topics(["customer data PLATFORM", 1974669, "3300001"])
    assert resolved == [
        {"id": 4268665, "name": "Customer Data Platform"},
        {"id": 1974669, "name": "Account Based Marketing"},
        {"id": 3300001, "name": "Account Based Advertising"},
    ]


def test_an_unknown_topic_name_suggests_close_names(api):
    api.get(TOPICS_URL, json={"topics": TAXONOMY})
    error = raised(BomboraValidationError, BomboraHook().resolve_topics, ["Account Based Marketting"])
    assert error.field == "topics"
    assert "'Account Based Marketing'" in str(error)
    assert paths(api) == ["/oauth/token", "/reference/v1/topics"]


# --- Intent data ---


def test_request_intent_data_posts_the_topics_and_returns_the_page_token(api):
    api.post(DATA_URL, json={"pageToken": "tok-1"})
    token = BomboraHook().request_intent_data(
        topics=[4268665], attributes=["domain", "score", "topic"], filter={"a": "domain", "neq": "*.edu"}
    )
    assert token == "tok-1"
    assert json.loads(api.request_history[-1].body) == {
        "topics": [4268665],
        "attributes": ["domain", "score", "topic"],
        "filter": {"a": "domain", "neq": "*.edu"},
    }


def test_request_intent_data_of_a_signal_definition_sends_only_its_id(api):
    api.post(DATA_URL, json={"pageToken": "tok-1"})
    BomboraHook().request_intent_data(signal_definition_id=DEFINITION_ID, attributes=[])
    assert json.loads(api.request_history[-1].body) == {"signalDefinitionId": DEFINITION_ID}


@pytest.mark.parametrize(
    "arguments",
    [{}, {"topics": [1], "signal_definition_id": DEFINITION_ID}, {"topics": []}],
    ids=["neither", "both", "empty"],
)
def test_request_intent_data_refuses_both_neither_or_no_topics_before_any_request(api, arguments):
    error = raised(BomboraValidationError, BomboraHook().request_intent_data, **arguments)
    assert error.field == "topics"
    assert api.request_history == []


@pytest.mark.parametrize("answer", [{}, {"pageToken": ""}, {"pageToken": 7}, ["tok"]])
def test_an_answer_without_a_page_token_is_an_api_error(api, answer):
    api.post(DATA_URL, json=answer)
    assert '{"pageToken"}' in str(raised(BomboraApiError, BomboraHook().request_intent_data, topics=[1]))


def test_get_intent_page_returns_the_rows_and_the_next_token(api):
    api.get(DATA_URL, json={"data": ROWS, "nextPageToken": "tok-2"})
    assert BomboraHook().get_intent_page("tok 1/+", 250) == (ROWS, "tok-2")
    assert query_of(api.request_history[-1]) == {"pageToken": ["tok 1/+"], "limit": ["250"]}


def test_the_last_page_has_no_next_token(api):
    api.get(DATA_URL, json={"data": [], "nextPageToken": None})
    assert BomboraHook().get_intent_page("tok-9") == ([], None)
    assert query_of(api.request_history[-1])["limit"] == ["1000"]


@pytest.mark.parametrize(
    "answer",
    [
        {"nextPageToken": None},
        {"data": {"domain": "acme.com"}, "nextPageToken": None},
        {"data": ["acme.com"], "nextPageToken": None},
        {"data": [], "nextPageToken": ""},
        {"data": [], "nextPageToken": 3},
    ],
)
def test_a_page_of_another_shape_is_an_api_error(api, answer):
    api.get(DATA_URL, json=answer)
    error = raised(BomboraApiError, BomboraHook().get_intent_page, "tok-1")
    assert "nextPageToken" in str(error)
    assert not isinstance(error, IntentPageTokenError)


def test_a_page_pointing_at_itself_is_an_api_error(api):
    api.get(DATA_URL, json={"data": ROWS, "nextPageToken": "tok-1"})
    assert "never end" in str(raised(BomboraApiError, BomboraHook().get_intent_page, "tok-1"))


def test_a_page_answered_400_is_an_expired_page_token(api, no_real_waits):
    api.get(DATA_URL, status_code=400, json={"message": "Page token expired or unknown"})
    error = raised(IntentPageTokenError, BomboraHook().get_intent_page, "tok-1")
    assert error.status == 400
    assert "Page token expired" in str(error)
    assert no_real_waits == []  # asked once: the same token cannot succeed


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_a_page_answered_with_a_transient_status_is_asked_again(api, no_real_waits, status):
    api.get(DATA_URL, [{"status_code": status, "json": {"message": "busy"}}, LAST_PAGE])
    assert BomboraHook().get_intent_page("tok-1") == (LAST_PAGE["json"]["data"], None)
    assert len(no_real_waits) == 1


def test_a_refused_access_token_is_renewed_while_paging(api):
    api.post(f"{BASE}/oauth/token", [token_answer(), token_answer(TOKEN_2)])
    api.get(DATA_URL, [{"status_code": 401, "json": {"message": "expired"}}, LAST_PAGE])
    assert BomboraHook().get_intent_page("tok-1") == (LAST_PAGE["json"]["data"], None)
    assert api.request_history[-1].headers["Authorization"] == f"Bearer {TOKEN_2}"


@pytest.mark.parametrize(("token", "limit"), [("", 10), ("tok", 0), ("tok", 10_001), ("tok", True)])
def test_a_bad_page_token_or_limit_is_refused_before_any_request(api, token, limit):
    error = raised(BomboraValidationError, BomboraHook().get_intent_page, token, limit)
    assert error.field == ("page_token" if not token else "limit")
    assert api.request_history == []


def test_an_app_without_the_intent_product_is_an_auth_error(api):
    api.post(DATA_URL, status_code=403, json={"message": "Forbidden"})
    raised(BomboraAuthError, BomboraHook().request_intent_data, topics=[1])


# --- Signal definitions ---


def definition(topics=((4268665, 1),), description=None, name="CDP buyers") -> dict:
    metadata = {"name": name} if description is None else {"name": name, "description": description}
    return {
        "signalDefinitionId": DEFINITION_ID,
        "status": "Available",
        "metadata": metadata,
        "topics": [{"id": topic_id, "weighting": weighting} for topic_id, weighting in topics],
    }


def summary(name="CDP buyers", definition_id=DEFINITION_ID) -> dict:
    return {"signalDefinitionId": definition_id, "status": "Available", "metadata": {"name": name}}


def test_signal_definition_calls_use_their_paths(api):
    api.get(DEFINITIONS_URL, json={"signalDefinitions": [summary()]})
    api.get(f"{DEFINITION_URL}/{DEFINITION_ID}", json=definition())
    api.post(DEFINITION_URL, status_code=202, json=definition())
    api.put(f"{DEFINITION_URL}/{DEFINITION_ID}", json=definition())
    api.delete(f"{DEFINITION_URL}/{DEFINITION_ID}", json={})
    hook = BomboraHook()
    assert hook.list_signal_definitions() == [summary()]
    assert hook.get_signal_definition(DEFINITION_ID)["status"] == "Available"
    assert hook.create_signal_definition(definition())["signalDefinitionId"] == DEFINITION_ID
    assert hook.update_signal_definition(DEFINITION_ID, definition()) == definition()
    hook.delete_signal_definition(DEFINITION_ID)
    assert [request.method for request in api.request_history[1:]] == ["GET", "GET", "POST", "PUT", "DELETE"]


def test_a_missing_signal_definition_is_not_found(api):
    api.get(f"{DEFINITION_URL}/{DEFINITION_ID}", status_code=404, json={"message": "not found"})
    raised(BomboraNotFoundError, BomboraHook().get_signal_definition, DEFINITION_ID)


def test_a_created_definition_without_its_id_is_an_api_error(api):
    api.post(DEFINITION_URL, status_code=202, json={"status": "Processing"})
    assert "the created definition" in str(raised(BomboraApiError, BomboraHook().create_signal_definition, {}))


@pytest.fixture
def taxonomy(api):
    api.get(TOPICS_URL, json={"topics": TAXONOMY})
    return api


def test_ensure_creates_a_definition_with_the_resolved_topics(taxonomy):
    taxonomy.get(DEFINITIONS_URL, json={"signalDefinitions": [summary("Another one", "other-id")]})
    taxonomy.post(DEFINITION_URL, status_code=202, json=definition())
    created = BomboraHook().ensure_signal_definition("CDP buyers", ["Customer Data Platform"], "CDP research")
    assert created["signalDefinitionId"] == DEFINITION_ID
    assert json.loads(taxonomy.request_history[-1].body) == {
        "metadata": {"name": "CDP buyers", "description": "CDP research"},
        "topics": [{"id": 4268665, "weighting": 1}],
    }


def test_ensure_leaves_a_definition_that_is_already_as_asked(taxonomy):
    taxonomy.get(DEFINITIONS_URL, json={"signalDefinitions": [summary()]})
    taxonomy.get(f"{DEFINITION_URL}/{DEFINITION_ID}", json=definition(((4268665, 1.0),)))
    BomboraHook().ensure_signal_definition("CDP buyers", [4268665])
    assert [request.method for request in taxonomy.request_history] == ["POST", "GET", "GET", "GET"]


@pytest.mark.parametrize(
    ("current", "description"),
    [(definition(((4268665, 1), (1974669, 1))), None), (definition(((4268665, 0.5),)), None), (definition(), "new")],
    ids=["other-topics", "other-weighting", "other-description"],
)
def test_ensure_replaces_a_definition_that_differs(taxonomy, current, description):
    taxonomy.get(DEFINITIONS_URL, json=[summary()])
    taxonomy.get(f"{DEFINITION_URL}/{DEFINITION_ID}", json=current)
    taxonomy.put(f"{DEFINITION_URL}/{DEFINITION_ID}", json=definition(description=description))
    BomboraHook().ensure_signal_definition("CDP buyers", ["customer data platform"], description)
    put = taxonomy.request_history[-1]
    assert put.method == "PUT"
    assert json.loads(put.body)["topics"] == [{"id": 4268665, "weighting": 1}]
    assert json.loads(put.body)["signalDefinitionId"] == DEFINITION_ID


def test_ensure_refuses_a_name_that_several_definitions_have(taxonomy):
    taxonomy.get(DEFINITIONS_URL, json={"signalDefinitions": [summary(), summary(definition_id="second-id")]})
    error = raised(BomboraApiError, BomboraHook().ensure_signal_definition, "CDP buyers", [4268665])
    assert "second-id" in str(error)
    assert [request.method for request in taxonomy.request_history] == ["POST", "GET", "GET"]


def test_ensure_with_an_unknown_topic_writes_nothing(taxonomy):
    hook = BomboraHook()
    error = raised(BomboraValidationError, hook.ensure_signal_definition, "CDP buyers", ["Customer Data Platfrm"])
    assert "did you mean 'Customer Data Platform'" in str(error)
    assert paths(taxonomy) == ["/oauth/token", "/reference/v1/topics"]
