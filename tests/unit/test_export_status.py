"""The export status decision (pure): when an account list's export is live, and what a wait returns."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_bombora.exceptions import (
    BomboraApiError,
    BomboraExportStatusError,
    BomboraExportTimeoutError,
    BomboraNotFoundError,
    BomboraValidationError,
)
from airflow_provider_bombora.export_status import RESULT_KEYS, ExportTarget, evaluate_export_status
from airflow_provider_bombora.polling import Status, failure_event, result_from_event, success_event, timeout_message

LIST_ID = "0b7d7c3e-1111-4e2a-9f00-000000000001"
MODIFIED = "2024-01-27T05:06:07.123456"  # Bombora's form: UTC, without zone


def definition(*, pending=False, total=3, modified=MODIFIED, name="High intent") -> dict:
    """An AccountListDefinition (GET /account-list/{id}): name, total and pending under metadata."""
    return {
        "id": LIST_ID,
        "type": "Manual",
        "parentId": None,
        "metadata": {"name": name, "description": None, "accountTotal": total, "pendingUpdate": pending},
        "specification": {},
        "accountsLastModified": modified,
    }


def summary(*, pending=False, total=3, modified=MODIFIED, name="High intent") -> dict:
    """An AccountListSummary (GET /account-list): the same fields at the top level."""
    return {
        "id": LIST_ID,
        "parentId": None,
        "type": "Manual",
        "name": name,
        "description": None,
        "accountsLastModified": modified,
        "accountTotal": total,
        "pendingUpdate": pending,
        "createdDate": "2024-01-01T00:00:00",
        "modifiedDate": "2024-01-01T00:00:00",
    }


def target(**parameters) -> ExportTarget:
    parameters.setdefault("account_list_id", LIST_ID)
    return ExportTarget.from_parameters(**parameters)


SHAPES = pytest.mark.parametrize("shape", [definition, summary], ids=["definition", "summary"])


# --- Parameters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, None),
        ("", None),
        ("None", None),  # what "{{ ... }}" renders for a missing value
        ("2026-11-27T10:00:00.123456+00:00", datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=timezone.utc)),
        ("2026-11-27T11:00:00+01:00", datetime(2026, 11, 27, 10, tzinfo=timezone.utc)),
        ("2026-11-27T10:00:00Z", datetime(2026, 11, 27, 10, tzinfo=timezone.utc)),
        ("2026-11-27T10:00:00", datetime(2026, 11, 27, 10, tzinfo=timezone.utc)),  # no zone: UTC
        (datetime(2026, 11, 27, 10), datetime(2026, 11, 27, 10, tzinfo=timezone.utc)),
        (
            datetime(2026, 11, 27, 5, tzinfo=timezone(timedelta(hours=-5))),
            datetime(2026, 11, 27, 10, tzinfo=timezone.utc),
        ),
    ],
)
def test_submitted_after_is_read_as_utc(given, expected):
    parsed = target(submitted_after=given).submitted_after
    assert parsed == expected
    if parsed is not None:
        assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("given", ["yesterday", "27/11/2026", 1795859335, ["2026-11-27"]])
def test_an_unreadable_submitted_after_names_the_parameter(given):
    with pytest.raises(BomboraValidationError, match="submitted_after") as info:
        target(submitted_after=given)
    assert info.value.field == "submitted_after"


@pytest.mark.parametrize(
    ("given", "expected"), [(None, None), ("", None), ("None", None), (0, 0), (12, 12), (" 12 ", 12)]
)
def test_expected_account_total_accepts_numbers_and_their_text(given, expected):
    assert target(expected_account_total=given).expected_account_total == expected


@pytest.mark.parametrize("given", [-1, 2.5, "twelve", "-3", True])
def test_an_invalid_expected_account_total_names_the_parameter(given):
    with pytest.raises(BomboraValidationError, match="expected_account_total"):
        target(expected_account_total=given)


@pytest.mark.parametrize(("list_id", "name"), [(None, None), ("", "None"), ("None", None)])
def test_a_target_needs_a_list_id_or_a_name(list_id, name):
    with pytest.raises(BomboraValidationError, match="neither account_list_id nor audience_name"):
        ExportTarget.from_parameters(account_list_id=list_id, audience_name=name)


def test_a_list_id_that_is_not_text_is_refused():
    with pytest.raises(BomboraValidationError, match="account_list_id: must be a string"):
        ExportTarget.from_parameters(account_list_id=42)


def test_parameters_round_trip_through_json_values():
    original = target(
        audience_name="High intent", submitted_after="2026-11-27T11:00:00+01:00", expected_account_total="7"
    )
    parameters = original.to_parameters()
    assert parameters == {
        "account_list_id": LIST_ID,
        "audience_name": "High intent",
        "submitted_after": "2026-11-27T10:00:00+00:00",
        "expected_account_total": 7,
    }
    assert ExportTarget.from_parameters(**parameters) == original


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({"account_list_id": LIST_ID}, f"Bombora account list {LIST_ID}"),
        ({"audience_name": "High intent"}, "Bombora account list 'High intent'"),
        (
            {"account_list_id": LIST_ID, "audience_name": "High intent"},
            f"Bombora account list {LIST_ID} ('High intent')",
        ),
    ],
)
def test_messages_name_the_list_by_what_is_known(parameters, expected):
    assert ExportTarget.from_parameters(**parameters).describe() == expected


# --- The decision -------------------------------------------------------------------------------


@SHAPES
@pytest.mark.parametrize(
    ("submitted_after", "modified", "done"),
    [
        (None, MODIFIED, True),
        (None, None, True),  # nothing to wait for but the pending flag
        ("2024-01-27T05:06:07.123455+00:00", MODIFIED, True),  # applied after the submission
        ("2024-01-27T05:06:07.123456+00:00", MODIFIED, True),  # equal counts as applied
        ("2024-01-27T05:06:07.123457+00:00", MODIFIED, False),  # applied before: an older upload
        ("2024-01-27T06:06:07.123456+01:00", MODIFIED, True),  # the same instant in another zone
        ("2024-01-27T05:06:07.123457", MODIFIED, False),  # both without zone: both UTC
        ("2024-01-27T04:06:07.123457-01:00", MODIFIED, False),  # zone-less UTC vs aware, 1 µs later
        ("2024-01-27T05:06:07.9+00:00", "2024-01-27T05:06:07", True),  # whole seconds: same second
        ("2024-01-27T05:06:08+00:00", "2024-01-27T05:06:07", False),
        ("2024-01-27T05:06:07+00:00", None, False),  # nothing applied yet
    ],
)
def test_a_list_without_pending_update_is_live_unless_older_than_the_submission(shape, submitted_after, modified, done):
    status = evaluate_export_status(shape(modified=modified), target(submitted_after=submitted_after))
    assert status.done is done
    assert (status.waiting_for is None) is done


@SHAPES
def test_a_pending_update_is_not_live_whatever_the_times_say(shape):
    status = evaluate_export_status(shape(pending=True), target(submitted_after="2000-01-01T00:00:00+00:00"))
    assert not status.done
    assert status.waiting_for is not None
    assert "pendingUpdate is true" in status.waiting_for
    assert status.result["pending_update"] is True


def test_an_older_list_says_which_times_it_compared():
    status = evaluate_export_status(definition(), target(submitted_after="2024-01-27T06:00:00+00:00"))
    assert not status.done
    assert status.waiting_for is not None
    assert MODIFIED in status.waiting_for
    assert "2024-01-27T06:00:00+00:00" in status.waiting_for


@SHAPES
def test_the_result_is_the_same_for_a_definition_and_a_summary(shape):
    status = evaluate_export_status(
        shape(total=5), ExportTarget.from_parameters(audience_name="Ignored when Bombora names it")
    )
    assert status == Status(
        done=True,
        result={
            "account_list_id": LIST_ID,
            "audience_name": "High intent",
            "account_total": 5,
            "accounts_last_modified": MODIFIED,
            "pending_update": False,
        },
    )
    assert tuple(status.result) == RESULT_KEYS


def test_a_definition_without_id_takes_the_targets():
    answer = definition()
    del answer["id"]  # the contract's AccountListDefinition has no id
    assert evaluate_export_status(answer, target()).result["account_list_id"] == LIST_ID


@SHAPES
@pytest.mark.parametrize("expected_total", [2, 4, 0])
def test_a_live_list_with_another_total_fails_with_both_numbers(shape, expected_total):
    with pytest.raises(BomboraExportStatusError) as info:
        evaluate_export_status(shape(total=3), target(expected_account_total=expected_total))
    message = str(info.value)
    assert "accountTotal 3" in message
    assert f"expected_account_total is {expected_total}" in message
    assert LIST_ID in message


def test_the_expected_total_is_checked_only_once_live():
    status = evaluate_export_status(definition(pending=True, total=3), target(expected_account_total=5))
    assert not status.done
    assert evaluate_export_status(definition(total=5), target(expected_account_total="5")).done


@pytest.mark.parametrize("modified", ["last Tuesday", 1706331967, ""])
def test_an_unreadable_accounts_last_modified_is_an_error_naming_it(modified):
    with pytest.raises(BomboraExportStatusError, match="accountsLastModified"):
        evaluate_export_status(definition(modified=modified), target(submitted_after="2024-01-01T00:00:00+00:00"))


# --- Reading through a client -----------------------------------------------------------------


class FakeClient:
    """Answers like BomboraHook: a definition by id, a summary (or None) by name."""

    def __init__(self, definition_answer=None, summaries=()):
        self.definition_answer = definition_answer
        self.summaries = list(summaries)
        self.calls: list[tuple[str, str]] = []

    def get_account_list(self, list_id):
        self.calls.append(("get_account_list", list_id))
        if isinstance(self.definition_answer, Exception):
            raise self.definition_answer
        return self.definition_answer

    def find_account_list(self, name):
        self.calls.append(("find_account_list", name))
        return next((item for item in self.summaries if item["name"] == name), None)


class FakeAsyncClient(FakeClient):
    async def get_account_list(self, list_id):
        return FakeClient.get_account_list(self, list_id)

    async def find_account_list(self, name):
        return FakeClient.find_account_list(self, name)


def read_one_way(reader, target_, **answers):
    """The status read through a sync (``reader="sync"``) or an async client answering ``answers``."""
    if reader == "sync":
        return target_.read(FakeClient(**answers))
    return asyncio.run(target_.aread(FakeAsyncClient(**answers)))


def read_both_ways(target_, **answers):
    """The status read through a sync and an async client (which must agree), and the sync client."""
    sync_client, async_client = FakeClient(**answers), FakeAsyncClient(**answers)
    sync_status = target_.read(sync_client)
    return sync_status, asyncio.run(target_.aread(async_client)), sync_client


def test_a_list_is_read_by_id_when_the_id_is_known():
    sync_status, async_status, client = read_both_ways(target(), definition_answer=definition())
    assert sync_status == async_status
    assert sync_status.done
    assert client.calls == [("get_account_list", LIST_ID)]


def test_a_list_is_found_by_name_and_its_summary_evaluated():
    name_only = ExportTarget.from_parameters(audience_name="High intent")
    sync_status, async_status, client = read_both_ways(
        name_only, summaries=[summary(name="Other"), summary(pending=True)]
    )
    assert sync_status == async_status
    assert not sync_status.done
    assert sync_status.result["account_list_id"] == LIST_ID
    assert client.calls == [("find_account_list", "High intent")]


@pytest.mark.parametrize("reader", ["sync", "async"])
def test_no_list_of_that_name_is_an_error(reader):
    name_only = ExportTarget.from_parameters(audience_name="Gone")
    with pytest.raises(BomboraExportStatusError, match="No Bombora account list is named 'Gone'"):
        read_one_way(reader, name_only, summaries=[summary()])


@pytest.mark.parametrize("reader", ["sync", "async"])
def test_a_deleted_list_is_an_error_saying_so(reader):
    missing = BomboraNotFoundError(
        "Account list not found", status=404, method="GET", path="/account-list/v1/account-list/x"
    )
    with pytest.raises(
        BomboraExportStatusError, match=rf"{LIST_ID} does not exist \(HTTP 404\): it was deleted"
    ) as info:
        read_one_way(reader, target(), definition_answer=missing)
    assert info.value.__cause__ is missing


def test_other_api_errors_pass_through_for_the_caller_to_judge():
    unavailable = BomboraApiError("down", status=503, method="GET", path="/x")
    with pytest.raises(BomboraApiError) as info:
        target().read(FakeClient(definition_answer=unavailable))
    assert info.value is unavailable


# --- Events -------------------------------------------------------------------------------------


def test_a_success_event_carries_the_result_back():
    status = evaluate_export_status(definition(total=4), target())
    event = success_event(status, target())
    assert event["status"] == "success"
    assert "is live: 4 accounts" in event["message"]
    assert result_from_event(event, ExportTarget) == status.result


def test_an_error_event_raises_its_message():
    with pytest.raises(BomboraExportStatusError, match=r"^the list vanished$") as info:
        result_from_event(failure_event("error", "the list vanished", target()), ExportTarget)
    assert not isinstance(info.value, BomboraExportTimeoutError)


def test_a_timeout_event_raises_a_timeout_error_with_its_message():
    message = timeout_message(target(), "within 60 s", "Bombora has not applied the last upload yet")
    assert message == (
        f"Bombora account list {LIST_ID} was not live within 60 s: Bombora has not applied the last upload yet."
    )
    with pytest.raises(BomboraExportTimeoutError, match="was not live within 60 s"):
        result_from_event(failure_event("timeout", message, target()), ExportTarget)


def test_an_unknown_event_is_an_error():
    with pytest.raises(BomboraExportStatusError, match="'cancelled'"):
        result_from_event({"status": "cancelled"}, ExportTarget)


def test_a_timeout_without_any_finished_check_says_so():
    assert timeout_message(target(), "by the deadline", None).endswith("no check finished in time.")


def test_a_target_is_identified_by_what_a_check_found_keeping_what_was_given():
    found = evaluate_export_status(
        summary(name="Bombora's name"), ExportTarget.from_parameters(audience_name="Given")
    ).result
    assert ExportTarget.from_parameters(audience_name="Given").identified_by(found) == ExportTarget(LIST_ID, "Given")
    assert target().identified_by(found) == ExportTarget(LIST_ID, "Bombora's name")
