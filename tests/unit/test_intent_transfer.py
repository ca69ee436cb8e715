"""BomboraIntentToStorageOperator without a server: its checks at parse time and after rendering, its
asset outlet, its snapshot date, and the copy's restarts and atomic file, against an in-memory hook."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from airflow.sdk import Asset, AssetAlias, ObjectStoragePath
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_bombora.exceptions import BomboraApiError, BomboraValidationError
from airflow_provider_bombora.hooks.intent import IntentPageTokenError
from airflow_provider_bombora.intent_topics import resolve_topics
from airflow_provider_bombora.transfers.intent import BomboraIntentToStorageOperator, intent_data_alias
from airflow_provider_bombora.transfers.intent_copy import MAX_RESTARTS

TAXONOMY = [{"id": 4268665, "name": "Customer Data Platform"}, {"id": 1974669, "name": "Account Based Marketing"}]
PAGES = [
    [{"domain": "acme.com", "score": 91, "scoreLabel": "Strong"}, {"domain": "globex.io", "score": 62}],
    [{"domain": "initech.com", "score": 12, "scoreLabel": "Weak"}],
]
DAY = "2026-11-27"


class FakeIntentHook:
    """The intent calls of BomboraHook, in memory: ``pages`` served in order for every POST; the
    page reads numbered in ``expired`` (1-based, counted over the whole run) answer an expired token."""

    def __init__(self, pages=PAGES, expired=(), refuse_post: BomboraApiError | None = None) -> None:
        self.pages = pages
        self.expired = set(expired)
        self.refuse_post = refuse_post
        self.calls: list[str] = []
        self.reads = 0

    def resolve_topics(self, topics):
        self.calls.append("GET /reference/v1/topics")
        return resolve_topics(topics, TAXONOMY)

    def request_intent_data(self, **request):
        self.calls.append(f"POST {json.dumps(request, sort_keys=True)}")
        if self.refuse_post is not None:
            raise self.refuse_post
        return "page-0" if self.pages else "empty"

    def get_intent_page(self, page_token, limit):
        self.calls.append(f"GET {page_token} {limit}")
        self.reads += 1
        if self.reads in self.expired:
            raise IntentPageTokenError("Page token expired", status=400, method="GET", path="/intent/v1/data")
        if page_token == "empty":
            return [], None
        index = int(page_token.split("-")[1])
        return self.pages[index], (f"page-{index + 1}" if index + 1 < len(self.pages) else None)


def operator(hook=None, **kwargs) -> BomboraIntentToStorageOperator:
    kwargs.setdefault("task_id", "load_intent")
    if "signal_definition_id" not in kwargs:
        kwargs.setdefault("topics", ["Customer Data Platform"])
    task = BomboraIntentToStorageOperator(**kwargs)
    if hook is not None:
        task.__dict__["hook"] = hook  # the cached_property's slot
    return task


def failure(task, context=None) -> str:
    with pytest.raises(AirflowFailException) as info:
        task.execute(context or {"ds": DAY})
    return str(info.value)


def parse_error(**kwargs) -> BomboraValidationError:
    with pytest.raises(BomboraValidationError) as info:
        operator(**kwargs)
    return info.value


def files_in(folder) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


# --- Checks when the DAG is parsed ---


@pytest.mark.parametrize(
    ("kwargs", "field", "says"),
    [
        ({"destination": "s3://intent/surge.parquet"}, "destination", "must end with .jsonl, .jsonl.gz, .csv, .csv.gz"),
        ({"destination": "s3://intent/2026/"}, "destination", "must end with"),
        ({"destination": "intent/surge.jsonl"}, "destination", "is relative"),
        ({"destination": ""}, "destination", "must be an ObjectStoragePath or a URL"),
        ({"destination": "/d/s.jsonl", "topics": None}, "topics", "got neither"),
        ({"destination": "/d/s.jsonl", "signal_definition_id": "517134f7", "topics": ["x"]}, "topics", "got both"),
        ({"destination": "/d/s.jsonl", "topics": []}, "topics", "is empty"),
        ({"destination": "/d/s.jsonl", "topics": "Intent Data"}, "topics", "must be a list"),
        ({"destination": "/d/s.jsonl", "signal_definition_id": ""}, "signal_definition_id", "must be a signal"),
        ({"destination": "/d/s.jsonl", "page_size": 0}, "page_size", "from 1 to 10,000"),
        ({"destination": "/d/s.jsonl", "page_size": 10_001}, "page_size", "from 1 to 10,000"),
        ({"destination": "/d/s.jsonl", "attributes": "domain"}, "attributes", "must be a list of attribute names"),
        ({"destination": "/d/s.jsonl", "filter": "domain != *.edu"}, "filter", "filter object"),
    ],
)
def test_bad_parameters_fail_when_the_dag_is_parsed(kwargs, field, says):
    error = parse_error(**kwargs)
    assert error.field == field
    assert says in error.problem


def test_an_object_storage_path_with_an_unknown_suffix_fails_when_parsed():
    assert parse_error(destination=ObjectStoragePath("file:///data/surge.txt")).field == "destination"


def test_templated_values_wait_for_rendering():
    task = operator(
        destination="s3://intent/{{ ds }}/surge.jsonl.gz",
        topics="{{ var.json.intent_topics }}",
        attributes="{{ var.json.intent_attributes }}",
        filter="{{ var.json.intent_filter }}",
    )
    assert task.outlets == [intent_data_alias(task.dag_id, task.task_id)]


@pytest.mark.parametrize(
    ("destination", "uri"),
    [
        ("s3://aws_intent@intent/bombora/surge.jsonl.gz", "s3://intent/bombora/surge.jsonl.gz"),
        ("/data/intent/surge.csv", "file:///data/intent/surge.csv"),
        (ObjectStoragePath("file:///data/intent/surge.jsonl"), "file:///data/intent/surge.jsonl"),
    ],
)
def test_a_fixed_destination_is_the_tasks_asset(destination, uri):
    assert operator(destination=destination).outlets == [Asset(uri)]


def test_a_templated_object_storage_path_is_announced_through_the_alias():
    task = operator(destination=ObjectStoragePath("file:///data/{{ ds }}/surge.jsonl"))
    assert task.outlets == [AssetAlias("bombora-intent-data:adhoc_airflow.load_intent")]


# --- Checks once rendered, before any call ---


@pytest.mark.parametrize(
    ("rendered", "says"),
    [
        ({"destination": "s3://intent/2026-11-27/surge.xlsx"}, "destination: "),
        ({"topics": []}, "topics: is empty"),
        ({"topics": "Intent Data"}, "topics: must be a list"),
        ({"attributes": "domain,score"}, "attributes: must be a list"),
        ({"filter": '{"a": "domain"}'}, "filter: must be the API's filter object"),
    ],
)
def test_bad_rendered_values_fail_the_task_before_any_call(tmp_path, rendered, says):
    hook = FakeIntentHook()
    task = operator(hook, destination=f"{tmp_path}/{{{{ ds }}}}/surge.jsonl", topics="{{ var.json.topics }}")
    task.topics = ["Customer Data Platform"]
    for name, value in rendered.items():
        setattr(task, name, value)
    assert says in failure(task)
    assert hook.calls == []
    assert files_in(tmp_path) == []


def test_an_unknown_topic_fails_before_any_intent_call_with_close_names(tmp_path):
    hook = FakeIntentHook()
    message = failure(operator(hook, destination=f"{tmp_path}/surge.jsonl", topics=["Customer Data Platfrom"]))
    assert "did you mean 'Customer Data Platform'" in message
    assert hook.calls == ["GET /reference/v1/topics"]
    assert files_in(tmp_path) == []


def test_a_destination_connection_that_is_not_defined_fails_naming_the_destination(tmp_path):
    task = operator(FakeIntentHook(), destination=f"file://{tmp_path}/surge.jsonl", destination_conn_id="no_such_conn")
    message = failure(task)
    assert message.startswith("destination: ") and "'no_such_conn' is not defined" in message
    assert "fix destination_conn_id" in message


def test_a_request_the_api_refuses_fails_without_retries(tmp_path):
    refused = BomboraApiError("Unknown attribute 'colour'", status=422, method="POST", path="/intent/v1/data")
    task = operator(FakeIntentHook(refuse_post=refused), destination=f"{tmp_path}/surge.jsonl", attributes=["colour"])
    assert "Unknown attribute 'colour'" in failure(task)
    assert files_in(tmp_path) == []


# --- The copy ---


def test_the_rows_and_the_summary(tmp_path):
    hook = FakeIntentHook()
    result = operator(hook, destination=f"file://{tmp_path}/intent/surge.jsonl.gz", page_size=2).execute({"ds": DAY})
    assert result == {
        "destination": f"file://{tmp_path}/intent/surge.jsonl.gz",
        "rows": 3,
        "pages": 2,
        "snapshot_date": DAY,
        "format": "jsonl",
        "compression": "gzip",
        "topics": [{"id": 4268665, "name": "Customer Data Platform"}],
        "signal_definition_id": None,
        "restarts": 0,
    }
    lines = gzip.decompress((tmp_path / "intent" / "surge.jsonl.gz").read_bytes()).decode().splitlines()
    assert [json.loads(line) for line in lines] == [{**row, "snapshotDate": DAY} for page in PAGES for row in page]
    post = '{"attributes": null, "filter": null, "signal_definition_id": null, "topics": [4268665]}'
    assert hook.calls[1] == f"POST {post}"
    assert hook.calls[2:] == ["GET page-0 2", "GET page-1 2"]
    assert files_in(tmp_path / "intent") == ["surge.jsonl.gz"]


def test_a_signal_definition_needs_no_taxonomy(tmp_path):
    hook = FakeIntentHook()
    result = operator(hook, destination=f"{tmp_path}/surge.csv", signal_definition_id="517134f7").execute({"ds": DAY})
    assert (result["topics"], result["signal_definition_id"]) == (None, "517134f7")
    assert hook.calls[0].startswith("POST ") and '"signal_definition_id": "517134f7"' in hook.calls[0]


@pytest.mark.parametrize("expired_read", [1, 2], ids=["first-page", "last-page"])
def test_an_expired_page_token_starts_again_from_the_first_page(tmp_path, expired_read):
    hook = FakeIntentHook(expired=[expired_read])
    result = operator(hook, destination=f"{tmp_path}/surge.jsonl").execute({"ds": DAY})
    assert (result["rows"], result["pages"], result["restarts"]) == (3, 2, 1)
    assert [call.split()[0] for call in hook.calls].count("POST") == 2
    assert len((tmp_path / "surge.jsonl").read_text().splitlines()) == 3  # nothing twice
    assert files_in(tmp_path) == ["surge.jsonl"]


def test_a_page_token_that_keeps_expiring_fails_and_leaves_the_previous_file(tmp_path):
    (tmp_path / "surge.jsonl").write_text("the previous run's file\n")
    hook = FakeIntentHook(expired=range(2, 100, 2))  # every second page read
    with pytest.raises(IntentPageTokenError):
        operator(hook, destination=f"{tmp_path}/surge.jsonl").execute({"ds": DAY})
    assert [call.split()[0] for call in hook.calls].count("POST") == MAX_RESTARTS + 1
    assert (tmp_path / "surge.jsonl").read_text() == "the previous run's file\n"
    assert files_in(tmp_path) == ["surge.jsonl"]


def test_no_rows_is_an_empty_file(tmp_path):
    result = operator(FakeIntentHook(pages=[]), destination=f"{tmp_path}/surge.csv").execute({"ds": DAY})
    assert (result["rows"], result["pages"]) == (0, 1)
    assert (tmp_path / "surge.csv").read_text() == "domain,score,scoreLabel,snapshotDate\n"


def test_a_rerun_replaces_the_file(tmp_path):
    (tmp_path / "surge.jsonl").write_text('{"domain": "stale.com"}\n' * 10)
    operator(FakeIntentHook(), destination=f"{tmp_path}/surge.jsonl").execute({"ds": DAY})
    assert [json.loads(line)["domain"] for line in (tmp_path / "surge.jsonl").read_text().splitlines()] == [
        "acme.com",
        "globex.io",
        "initech.com",
    ]


# --- Snapshot date and asset event ---


def test_without_a_logical_date_the_snapshot_is_the_day_the_run_was_triggered(tmp_path):
    run = SimpleNamespace(run_after=datetime(2026, 11, 28, 23, 30, tzinfo=timezone.utc))
    result = operator(FakeIntentHook(), destination=f"{tmp_path}/surge.jsonl").execute({"dag_run": run})
    assert result["snapshot_date"] == "2026-11-28"
    assert json.loads((tmp_path / "surge.jsonl").read_text().splitlines()[0])["snapshotDate"] == "2026-11-28"


class OutletEvents(dict):
    """Airflow's outlet events, as the operator uses them: ``extra`` set, or ``add(asset, extra)``."""

    def __missing__(self, key):
        added: list = []
        self[key] = SimpleNamespace(extra=None, added=added, add=lambda asset, extra: added.append((asset, extra)))
        return self[key]


def test_the_asset_event_carries_the_summary(tmp_path):
    events = OutletEvents()
    task = operator(FakeIntentHook(), destination=f"file://{tmp_path}/surge.jsonl")
    result = task.execute({"ds": DAY, "outlet_events": events})
    assert events[task.outlets[0]].extra == result


def test_through_the_alias_the_event_names_the_rendered_destination(tmp_path):
    events = OutletEvents()
    task = operator(FakeIntentHook(), destination=f"file://{tmp_path}/{{{{ ds }}}}/surge.jsonl")
    task.destination = f"file://{tmp_path}/{DAY}/surge.jsonl"
    result = task.execute({"ds": DAY, "outlet_events": events})
    assert events[intent_data_alias(task.dag_id, task.task_id)].added == [
        (Asset(f"file://{tmp_path}/{DAY}/surge.jsonl"), result)
    ]
