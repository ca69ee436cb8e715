"""BomboraIntentToStorageOperator against the sandbox: paging, formats, destinations, topic resolution,
signal definitions, the rerun, and memory at 200,000 rows. The expected rows are read from the
sandbox with plain requests (the ``api`` fixture), never with the provider's code."""

from __future__ import annotations

import gzip
import json
import tracemalloc
import uuid
from itertools import islice

import pytest
from airflow.sdk import ObjectStoragePath
from airflow.sdk.exceptions import AirflowFailException
from intent_files_read import DAY, TOPIC_NAMES, csv_rows, jsonl_rows, leftovers, load, served, served_pages

from airflow_provider_bombora.hooks.bombora import BomboraHook
from airflow_provider_bombora.transfers.intent import BomboraIntentToStorageOperator


@pytest.fixture
def body(server) -> dict:
    return {"topics": server.topic_ids(*TOPIC_NAMES)}


# --- Paging ---


def test_many_pages_with_a_short_last_page(sandbox, api, body, tmp_path):
    expected = served(api, body)
    assert len(expected) % 100 != 0, "the data set should end on a short page"
    sandbox.clear_request_log()
    result = load(f"file://{tmp_path}/surge.jsonl", page_size=100)
    assert jsonl_rows(tmp_path / "surge.jsonl") == expected
    assert (result["rows"], result["pages"], result["restarts"]) == (len(expected), len(expected) // 100 + 1, 0)
    pages = [e for e in sandbox.request_log() if e["method"] == "GET" and e["path"] == "/intent/v1/data"]
    assert len(pages) == result["pages"] and all("limit=100" in entry["query"] for entry in pages)


def test_a_full_last_page_ends_the_data(sandbox, api, body, tmp_path):
    count = len(served(api, body))
    page_size = next(size for size in range(2, 200) if count % size == 0)
    result = load(f"file://{tmp_path}/surge.jsonl", page_size=page_size)
    assert (result["rows"], result["pages"]) == (count, count // page_size)


def test_one_page(sandbox, api, body, tmp_path):
    result = load(f"file://{tmp_path}/surge.jsonl", page_size=10_000)
    assert result["pages"] == 1
    assert jsonl_rows(tmp_path / "surge.jsonl") == served(api, body)


def test_no_rows_gives_an_empty_file(sandbox, api, body, tmp_path):
    nothing = {"a": "domain", "eq": "no-such-company.example"}
    assert served(api, {**body, "filter": nothing}) == []
    result = load(f"file://{tmp_path}/surge.jsonl.gz", filter=nothing)
    assert (result["rows"], result["pages"]) == (0, 1)
    assert gzip.decompress((tmp_path / "surge.jsonl.gz").read_bytes()) == b""


def test_pages_cut_short_by_the_size_cap_lose_nothing(sandbox, api, body, tmp_path):
    sandbox.configure(max_page_bytes=16_384)
    expected = served(api, body)
    result = load(f"file://{tmp_path}/surge.jsonl", page_size=10_000)
    assert result["pages"] > 1
    assert jsonl_rows(tmp_path / "surge.jsonl") == expected


# --- Attributes, filter, formats, destinations ---


def test_attributes_and_filter_go_to_the_api(sandbox, api, body, tmp_path):
    attributes = ["domain", "topic", "score", "company.size", "company.hq.country"]
    edu = {"a": "domain", "neq": "*.edu"}
    expected = served(api, {**body, "attributes": attributes, "filter": edu})
    load(f"file://{tmp_path}/surge.jsonl", attributes=attributes, filter=edu)
    rows = jsonl_rows(tmp_path / "surge.jsonl")
    assert rows == expected
    assert rows[0]["company"].keys() == {"size", "hq"}
    assert not any(row["domain"].endswith(".edu") for row in rows)


def test_csv_has_the_attributes_as_columns(sandbox, api, body, tmp_path):
    attributes = ["domain", "score", "scoreLabel", "company.size"]
    expected = served(api, {**body, "attributes": attributes})
    result = load(f"file://{tmp_path}/surge.csv.gz", attributes=attributes)
    assert (result["format"], result["compression"]) == ("csv", "gzip")
    assert csv_rows(tmp_path / "surge.csv.gz") == [
        {
            "domain": row["domain"],
            "score": str(row["score"]),
            "scoreLabel": row["scoreLabel"],
            "company.size": row["company"]["size"],
            "snapshotDate": DAY,
        }
        for row in expected
    ]


def test_a_local_path_and_an_object_storage_path(sandbox, api, body, tmp_path):
    expected = served(api, body)
    assert load(f"{tmp_path}/plain/surge.jsonl")["destination"] == f"file://{tmp_path}/plain/surge.jsonl"
    assert jsonl_rows(tmp_path / "plain" / "surge.jsonl") == expected
    load(ObjectStoragePath(f"file://{tmp_path}/path/surge.jsonl"))
    assert jsonl_rows(tmp_path / "path" / "surge.jsonl") == expected


@pytest.fixture
def memory_bucket():
    """A bucket of fsspec's memory filesystem, attached to Airflow's object storage for the test."""
    from airflow.sdk.io import attach
    from airflow.sdk.io.store import _STORE_CACHE
    from fsspec.implementations.memory import MemoryFileSystem  # type: ignore[import-untyped]

    filesystem = MemoryFileSystem()
    attach("memory", fs=filesystem)
    bucket = f"intent-{uuid.uuid4().hex[:12]}"
    yield filesystem, bucket
    filesystem.rm(f"/{bucket}", recursive=True)
    _STORE_CACHE.pop("memory", None)


def test_a_memory_store_destination(sandbox, api, body, memory_bucket):
    filesystem, bucket = memory_bucket
    result = load(f"memory://{bucket}/intent/{DAY}/surge.jsonl.gz", page_size=250)
    assert result["destination"] == f"memory://{bucket}/intent/{DAY}/surge.jsonl.gz"
    assert filesystem.ls(f"/{bucket}/intent/{DAY}", detail=False) == [f"/{bucket}/intent/{DAY}/surge.jsonl.gz"]
    with filesystem.open(f"/{bucket}/intent/{DAY}/surge.jsonl.gz", "rb") as file:
        lines = gzip.decompress(file.read()).decode().splitlines()
    assert [json.loads(line) for line in lines] == served(api, body)


# --- Topics and signal definitions ---


def test_topic_names_are_resolved_ignoring_case_and_ids_kept(sandbox, server, tmp_path):
    ids = server.topic_ids(*TOPIC_NAMES)
    sandbox.clear_request_log()
    result = load(f"file://{tmp_path}/surge.jsonl", topics=["customer data platform", str(ids[1]), ids[2]])
    assert result["topics"] == [{"id": topic_id, "name": name} for topic_id, name in zip(ids, TOPIC_NAMES, strict=True)]
    posted = [e for e in sandbox.request_log() if e["method"] == "POST" and e["path"] == "/intent/v1/data"]
    assert [entry["body"] for entry in posted] == [{"topics": ids}]


def test_an_unknown_topic_fails_before_any_intent_call_with_close_names(sandbox, tmp_path):
    with pytest.raises(AirflowFailException) as info:
        load(f"file://{tmp_path}/surge.jsonl", topics=["Customer Data Platform", "Account Based Marketting"])
    assert "no topic is named 'Account Based Marketting'" in str(info.value)
    assert "did you mean 'Account Based Marketing', 'Account Based Advertising'" in str(info.value)
    assert [entry["path"] for entry in sandbox.request_log()] == ["/oauth/token", "/reference/v1/topics"]
    assert list(tmp_path.iterdir()) == []


def test_a_signal_definition_ensured_by_name_then_loaded(sandbox, server, api, tmp_path):
    hook = BomboraHook()
    definition = hook.ensure_signal_definition("CDP buyers", TOPIC_NAMES[:2], "CDP research")
    again = hook.ensure_signal_definition("CDP buyers", [name.upper() for name in TOPIC_NAMES[:2]], "CDP research")
    assert again["signalDefinitionId"] == definition["signalDefinitionId"]
    assert [d["metadata"]["name"] for d in server.signal_definitions()] == ["CDP buyers"]
    changed = hook.ensure_signal_definition("CDP buyers", TOPIC_NAMES, "CDP research")
    assert {topic["id"] for topic in changed["topics"]} == set(server.topic_ids(*TOPIC_NAMES))

    definition_id = definition["signalDefinitionId"]
    result = load(f"file://{tmp_path}/surge.jsonl", signal_definition_id=definition_id)
    assert result["signal_definition_id"] == definition_id
    assert jsonl_rows(tmp_path / "surge.jsonl") == served(api, {"signalDefinitionId": definition_id})


# --- The rerun ---


def test_a_rerun_replaces_the_file_with_the_data_of_now(sandbox, server, api, body, tmp_path):
    destination = f"file://{tmp_path}/surge.jsonl.gz"
    load(destination)
    server.configure(intent_date="2024-06-12")  # the next week: other scores
    expected = served(api, body)
    load(destination)
    rows = jsonl_rows(tmp_path / "surge.jsonl.gz")
    assert rows == expected
    assert [entry.name for entry in tmp_path.iterdir()] == ["surge.jsonl.gz"]


# --- Memory ---


def test_200000_rows_stream_in_bounded_memory(sandbox, server, api, body, tmp_path):
    server.configure(intent_companies=221_000)
    path = tmp_path / "surge.jsonl.gz"
    tracemalloc.start()
    try:
        result = load(f"file://{path}", page_size=5000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rows = result["rows"]
    assert rows >= 200_000

    with gzip.open(path, "rt") as lines:
        tracemalloc.start()
        sample = [json.loads(line) for line in islice(lines, 10_000)]
        held_per_row = tracemalloc.get_traced_memory()[0] / len(sample)
        tracemalloc.stop()
    holding_all = held_per_row * rows
    print(f"200k rows: peak {peak / 2**20:.1f} MiB; holding the {rows} rows would take {holding_all / 2**20:.0f} MiB")
    assert peak < holding_all / 5

    with gzip.open(path, "rt") as lines:  # and every row is the sandbox's, page by page
        for page in served_pages(api, body, 10_000):
            assert [json.loads(line) for line in islice(lines, len(page))] == [
                {**row, "snapshotDate": DAY} for row in page
            ]
        assert next(lines, None) is None
    assert leftovers(tmp_path) == []


# --- Secrets ---


def test_no_credential_reaches_the_log_or_the_return_value(sandbox, tmp_path, caplog, capfd):
    sandbox.inject_fault("GET", "/intent/v1/data", action="expire_tokens", after=1)  # a second token mid-way
    task = BomboraIntentToStorageOperator(
        task_id="load_intent", topics=TOPIC_NAMES, destination=f"file://{tmp_path}/surge.jsonl", page_size=200
    )
    result = task.execute({"ds": DAY})
    token = task.hook._token
    assert token is not None
    shown = caplog.text + "".join(capfd.readouterr()) + json.dumps(result)
    assert "Page 2:" in shown, "the log was not captured: its absence of secrets would prove nothing"
    assert sandbox.client_secret not in shown and token.value not in shown
