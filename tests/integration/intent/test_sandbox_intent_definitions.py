"""The sandbox's signal definitions, and the Intent API's settings, reset and faults, exercised
over HTTP with plain ``requests``; fixtures in conftest.py."""

from __future__ import annotations

import time

import pytest

from airflow_provider_bombora.sandbox import SandboxServer

DATA = "/intent/v1/data"
DEFINITIONS = "/intent/v1/signal-definitions"
DEFINITION = "/intent/v1/signal-definition"


# Signal definitions


def test_signal_definition_lifecycle(api, server, topic_ids):
    server.configure(processing_delay=0.3)
    created = api.create_definition("Product X", [{"id": topic_ids[0], "weighting": 0.9}, {"id": str(topic_ids[1])}])
    definition_id = created["signalDefinitionId"]
    assert created["status"] == "Processing"
    assert created["topicCount"] == 2 and created["metadata"] == {"name": "Product X"}
    weightings = [(topic["id"], topic["weighting"]) for topic in created["topics"]]
    assert weightings == [(topic_ids[0], 0.9), (topic_ids[1], 1.0)]
    # Intent data may be asked for while it is Processing.
    assert api.call("POST", DATA, json={"signalDefinitionId": definition_id}).status_code == 200

    time.sleep(0.35)
    fetched = api.call("GET", f"{DEFINITION}/{definition_id}").json()
    assert fetched == {**created, "status": "Available"}
    [summary] = api.call("GET", DEFINITIONS).json()["signalDefinitions"]
    assert summary == {key: value for key, value in fetched.items() if key != "topics"}
    assert server.signal_definitions() == [fetched]

    renamed = {**fetched, "metadata": {"name": "Product X v2", "description": "for sales"}}
    response = api.call("PUT", f"{DEFINITION}/{definition_id}", json=renamed)
    assert response.status_code == 200
    assert response.json()["status"] == "Available"  # the same topics: nothing to process
    assert response.json()["metadata"] == {"name": "Product X v2", "description": "for sales"}

    retopic = {"metadata": {"name": "Product X v2"}, "topics": [{"id": topic_ids[2], "weighting": 0.4}]}
    response = api.call("PUT", f"{DEFINITION}/{definition_id}", json=retopic)
    assert (response.json()["status"], response.json()["topicCount"]) == ("Processing", 1)
    assert response.json()["createdDate"] == created["createdDate"]

    assert api.call("DELETE", f"{DEFINITION}/{definition_id}").status_code == 200
    assert api.call("GET", f"{DEFINITION}/{definition_id}").status_code == 404
    assert api.call("GET", DEFINITIONS).json() == {"signalDefinitions": []}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (["not", "an", "object"], 400),
        ({"topics": [{"id": "TOPIC", "weighting": 1}]}, 422),
        ({"metadata": {"name": ""}, "topics": [{"id": "TOPIC", "weighting": 1}]}, 422),
        ({"metadata": {"name": "x"}, "topics": []}, 422),
        ({"metadata": {"name": "x"}, "topics": [{"id": 1, "weighting": 1}]}, 422),
        ({"metadata": {"name": "x"}, "topics": [{"id": "TOPIC", "weighting": 0}]}, 422),
        ({"metadata": {"name": "x"}, "topics": [{"id": "TOPIC", "weighting": 1.5}]}, 422),
        ({"metadata": {"name": "x"}, "topics": [{"id": "TOPIC", "weighting": "high"}]}, 422),
        ({"metadata": {"name": "x"}, "topics": [{"id": "TOPIC"}, {"id": "TOPIC"}]}, 422),
        ({"metadata": {"name": "x"}, "domain": "example.com", "keywords": ["manufacturing"]}, 422),
    ],
    ids=[
        "not-an-object", "no-metadata", "empty-name", "no-topics", "unknown-topic", "zero-weighting",
        "weighting-above-1", "weighting-not-a-number", "topic-twice", "product-definition",
    ],
)  # fmt: skip
def test_bad_signal_definitions(api, topic_ids, body, status):
    if isinstance(body, dict) and "topics" in body:
        topics = [{**topic, "id": topic_ids[0]} if topic["id"] == "TOPIC" else topic for topic in body["topics"]]
        body = {**body, "topics": topics}
    for method, path in (("POST", DEFINITION), ("PUT", None)):
        if path is None:
            existing = api.create_definition("Existing", [{"id": topic_ids[0], "weighting": 1}])
            path = f"{DEFINITION}/{existing['signalDefinitionId']}"
        response = api.call(method, path, json=body)
        assert response.status_code == status, (method, response.text)
        assert set(response.json()) == {"message"}


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_unknown_signal_definition_is_404(api, topic_ids, method):
    body = {"metadata": {"name": "x"}, "topics": [{"id": topic_ids[0], "weighting": 1}]}
    response = api.call(method, f"{DEFINITION}/00000000-0000-4000-8000-000000000000", json=body)
    assert (response.status_code, set(response.json())) == (404, {"message"})


# Settings, reset, faults


def test_data_settings_defaults():
    with SandboxServer(port=0) as fresh:
        settings = fresh.configure()
    defaults = {
        "intent_seed": 20240101,
        "intent_companies": 40000,
        "intent_date": None,
        "page_token_lifetime": 900,
        "max_page_bytes": 10_000_000,
    }
    assert {name: settings[name] for name in defaults} == defaults


@pytest.mark.parametrize(
    "changes",
    [
        {"intent_seed": -1},
        {"intent_seed": "7"},
        {"intent_companies": 0},
        {"intent_companies": 1_000_001},
        {"intent_companies": True},
        {"intent_date": "2024-13-01"},
        {"intent_date": "20240605"},
        {"intent_date": 20240605},
        {"page_token_lifetime": 0},
        {"max_page_bytes": 16383},
        {"max_page_bytes": 10_000_001},
        {"intent_seed": 8, "max_page_bytes": 1},
    ],
)
def test_bad_data_settings_change_nothing(server, changes):
    before = server.configure()
    with pytest.raises(ValueError, match="HTTP 400"):
        server.configure(**changes)
    assert server.configure() == before


def test_reset_forgets_definitions_and_page_tokens(api, server, topic_ids):
    definition = api.create_definition("Before reset", [{"id": topic_ids[0], "weighting": 1}])
    token = api.start({"topics": topic_ids})
    server.reset()
    api.authenticate()  # reset forgets access tokens too
    assert api.call("GET", DEFINITIONS).json() == {"signalDefinitions": []}
    assert api.page(token).status_code == 400
    assert api.call("POST", DATA, json={"signalDefinitionId": definition["signalDefinitionId"]}).status_code == 422


def test_a_fault_on_the_data_call_leaves_the_token_usable(api, server, topic_ids):
    token = api.start({"topics": topic_ids})
    server.inject_fault("GET", DATA, status=503, retry_after=1)
    failed = api.page(token, 20)
    assert (failed.status_code, failed.headers["Retry-After"]) == (503, "1")
    retried = api.page(token, 20)
    assert retried.status_code == 200
    assert retried.json()["data"] == server.intent_rows(topic_ids)[:20]
    server.inject_fault("POST", DATA, status=429)
    assert api.call("POST", DATA, json={"topics": topic_ids}).status_code == 429
    assert [entry["fault"] is not None for entry in server.request_log() if entry["path"] == DATA] == [
        False, True, False, True,
    ]  # fmt: skip
