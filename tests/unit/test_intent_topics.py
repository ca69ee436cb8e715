"""Topic names or ids to the taxonomy's ids (intent_topics), without Airflow or HTTP."""

from __future__ import annotations

import pytest

from airflow_provider_bombora.exceptions import BomboraValidationError
from airflow_provider_bombora.intent_topics import resolve_topics, validate_topics

TAXONOMY = [
    {"id": 4268665, "name": "Customer Data Platform", "theme": "Marketing"},
    {"id": 1974669, "name": "Account Based Marketing", "theme": "Marketing"},
    {"id": 3300001, "name": "Account Based Advertising", "theme": "Marketing"},
    {"id": 8162152, "name": "Data Warehouse", "theme": "Technology"},
    {"id": 8162153, "name": "Data Warehousing", "theme": "Technology"},
    {"id": 5550001, "name": "Kubernetes", "theme": "Technology"},
]
CDP = {"id": 4268665, "name": "Customer Data Platform"}
ABM = {"id": 1974669, "name": "Account Based Marketing"}


def problem(requested, taxonomy=TAXONOMY) -> str:
    with pytest.raises(BomboraValidationError) as info:
        resolve_topics(requested, taxonomy)
    assert info.value.field == "topics"
    return info.value.problem


@pytest.mark.parametrize(
    "requested",
    [
        ["Customer Data Platform"],
        ["customer data platform"],
        ["  CUSTOMER DATA PLATFORM "],
        [4268665],
        ["4268665"],
    ],
)
def test_a_topic_is_found_by_name_ignoring_case_or_by_id(requested):
    assert resolve_topics(requested, TAXONOMY) == [CDP]


def test_topics_come_in_the_order_asked_each_once():
    assert resolve_topics(["Account Based Marketing", 4268665, "account based marketing", "4268665"], TAXONOMY) == [
        ABM,
        CDP,
    ]


def test_string_ids_of_the_taxonomy_match_numbers_and_strings():
    taxonomy = [{"id": "42", "name": "Answers"}]
    assert resolve_topics([42, "42", "answers"], taxonomy) == [{"id": "42", "name": "Answers"}]


def test_a_name_is_matched_exactly_not_as_a_part():
    assert "no topic is named 'Data Ware'" in problem(["Data Ware"])
    assert resolve_topics(["Data Warehouse"], TAXONOMY) == [{"id": 8162152, "name": "Data Warehouse"}]


def test_an_unknown_name_suggests_the_closest_names():
    message = problem(["Account Based Marketting"])
    assert "did you mean 'Account Based Marketing', 'Account Based Advertising'?" in message
    assert "GET /reference/v1/topics" in message


def test_a_name_far_from_every_topic_says_so():
    message = problem(["Quantum Basket Weaving"])
    assert "no topic is named 'Quantum Basket Weaving' (no topic has a close name)" in message


def test_every_unknown_topic_is_named_at_once():
    message = problem(["Customer Data Platfrom", 123, "Kubernetes", "Data Warehoses"])
    assert "'Customer Data Platfrom' (did you mean 'Customer Data Platform'?)" in message
    assert "no topic has the id 123" in message
    assert "'Data Warehoses' (did you mean 'Data Warehouse', 'Data Warehousing'?)" in message
    assert "Kubernetes" not in message


def test_a_name_two_topics_share_asks_for_the_id():
    taxonomy = [*TAXONOMY, {"id": 9990001, "name": "customer data platform"}]
    message = problem(["Customer Data Platform"], taxonomy)
    assert "'Customer Data Platform' names 2 topics (ids 4268665, 9990001)" in message


def test_a_number_that_is_no_id_is_an_unknown_id():
    assert "no topic has the id 7" in problem(["7"])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["Customer Data Platform", 4268665], ["Customer Data Platform", 4268665]),
        ((" Intent Data ",), ["Intent Data"]),
    ],
)
def test_validate_topics_keeps_names_and_ids(value, expected):
    assert validate_topics(value) == expected


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("Customer Data Platform", "must be a list of topic names or ids"),
        (None, "must be a list of topic names or ids"),
        ([], "is empty"),
        (["Intent Data", ""], "every item must be a topic name or id"),
        ([True], "every item must be a topic name or id"),
        ([4.5], "every item must be a topic name or id"),
    ],
)
def test_validate_topics_refuses_what_is_not_a_list_of_names_or_ids(value, says):
    with pytest.raises(BomboraValidationError, match=says) as info:
        validate_topics(value)
    assert info.value.field == "topics"
