"""BomboraIntentToStorageOperator under the sandbox's faults: each kind at the first, a middle and the
last page converges to exactly the full file; a failure leaves no file, or the previous one, and
never a temporary one."""

from __future__ import annotations

from typing import Any

import pytest
from intent_files_read import TOPIC_NAMES, jsonl_rows, leftovers, load, served

from airflow_provider_bombora.exceptions import BomboraApiError, IntentPageTokenError
from airflow_provider_bombora.hooks.intent import IntentCalls
from airflow_provider_bombora.transfers.intent_copy import MAX_RESTARTS

DATA = "/intent/v1/data"
PAGE_SIZE = 100
# Each fault: inject_fault's arguments (status, action, retry_after); the expected restarts.
FAULTS: dict[str, tuple[dict[str, Any], int]] = {
    "429": ({"status": 429, "retry_after": 1}, 0),
    "503": ({"status": 503}, 0),
    "drop": ({"action": "drop"}, 0),
    "expired-access-token": ({"action": "expire_tokens"}, 0),
    "expired-page-token": ({"status": 400, "message": "Page token expired or unknown"}, 1),
}


@pytest.fixture
def body(server) -> dict:
    return {"topics": server.topic_ids(*TOPIC_NAMES)}


@pytest.fixture
def expected(api, body) -> list[dict]:
    return served(api, body)


def page_index(where: str, expected: list[dict]) -> int:
    """The read (0-based) that the fault hits: the first page, one in the middle, or the last."""
    pages = -(-len(expected) // PAGE_SIZE)
    assert pages >= 5, "the data set should have several pages"
    return {"first": 0, "middle": pages // 2, "last": pages - 1}[where]


def intent_calls(sandbox) -> list[str]:
    return [f"{e['method']} {e['path']}" for e in sandbox.request_log() if e["path"].startswith("/intent/")]


@pytest.mark.parametrize("where", ["first", "middle", "last"])
@pytest.mark.parametrize("fault", FAULTS)
def test_a_fault_on_a_page_converges_to_the_full_file(sandbox, expected, tmp_path, fault, where):
    arguments, restarts = FAULTS[fault]
    sandbox.inject_fault("GET", DATA, after=page_index(where, expected), **arguments)
    sandbox.clear_request_log()

    result = load(f"file://{tmp_path}/surge.jsonl", page_size=PAGE_SIZE)

    assert jsonl_rows(tmp_path / "surge.jsonl") == expected
    assert (result["rows"], result["restarts"]) == (len(expected), restarts)
    assert intent_calls(sandbox).count(f"POST {DATA}") == 1 + restarts
    assert leftovers(tmp_path) == []


def test_a_page_token_that_really_expires_mid_way_restarts_from_the_first_page(
    sandbox, server, expected, tmp_path, monkeypatch
):
    reads: list[str] = []
    read_page = IntentCalls.get_intent_page

    def expire_before_the_fourth_read(self, page_token, limit=1000):
        reads.append(page_token)
        if len(reads) == 4:
            server.expire_page_tokens()  # every token issued so far: the next read is answered 400
        return read_page(self, page_token, limit)

    monkeypatch.setattr(IntentCalls, "get_intent_page", expire_before_the_fourth_read)
    result = load(f"file://{tmp_path}/surge.jsonl", page_size=PAGE_SIZE)
    assert result["restarts"] == 1
    assert jsonl_rows(tmp_path / "surge.jsonl") == expected  # the three pages before are not written twice
    assert leftovers(tmp_path) == []


def test_a_page_token_that_keeps_expiring_fails_leaving_no_file(sandbox, expected, tmp_path):
    sandbox.inject_fault("GET", DATA, status=400, count=MAX_RESTARTS + 1, after=2)
    sandbox.clear_request_log()
    with pytest.raises(IntentPageTokenError):
        load(f"file://{tmp_path}/surge.jsonl", page_size=PAGE_SIZE)
    assert intent_calls(sandbox).count(f"POST {DATA}") == MAX_RESTARTS + 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_retries_running_out_leave_no_file_and_no_temporary_one(sandbox, expected, tmp_path, where):
    sandbox.inject_fault("GET", DATA, status=503, count=1000, after=page_index(where, expected))
    with pytest.raises(BomboraApiError, match="HTTP 503"):
        load(f"file://{tmp_path}/day/surge.jsonl.gz", page_size=PAGE_SIZE)
    assert [path.name for path in (tmp_path / "day").iterdir()] == []


def test_a_failed_rerun_leaves_the_previous_file_intact(sandbox, server, expected, tmp_path):
    load(f"file://{tmp_path}/surge.jsonl", page_size=PAGE_SIZE)
    before = (tmp_path / "surge.jsonl").read_bytes()
    server.configure(intent_date="2024-06-12")
    sandbox.inject_fault("GET", DATA, action="drop", count=1000, after=page_index("middle", expected))
    with pytest.raises(BomboraApiError):
        load(f"file://{tmp_path}/surge.jsonl", page_size=PAGE_SIZE)
    assert (tmp_path / "surge.jsonl").read_bytes() == before
    assert [path.name for path in tmp_path.iterdir()] == ["surge.jsonl"]


def test_a_fault_on_the_request_itself_is_retried(sandbox, expected, tmp_path):
    sandbox.inject_fault("POST", DATA, status=502)
    sandbox.inject_fault("GET", "/reference/v1/topics", action="drop")
    assert load(f"file://{tmp_path}/surge.jsonl")["rows"] == len(expected)
    assert jsonl_rows(tmp_path / "surge.jsonl") == expected
