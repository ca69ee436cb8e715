"""The activation policy alone, against an in-memory fake of the hook's account list calls:
ownership, snapshots, the 422 on create, the 409 resume, the audience policies, dry runs."""

from __future__ import annotations

import json
import re
import time

import pytest
from fakes import NAME, FakeAccountLists

from airflow_provider_bombora.activation import ActivationRequest, activate_audience, check_audience, read_audience
from airflow_provider_bombora.exceptions import (
    BomboraAudienceConflictError,
    BomboraPendingUpdateError,
    BomboraValidationError,
    StaleSnapshotError,
)
from airflow_provider_bombora.ownership import ListOwnership, parse_description
from airflow_provider_bombora.plan import DesiredAudience

DATAFLOW = "abm.activate"
SNAPSHOT = "2026-11-27T00:00:00+00:00"
OLDER = "2026-11-26T00:00:00+00:00"
NEWER = "2026-11-28T00:00:00+00:00"


def desired(
    *domains: str, received: int | None = None, rejected: dict | None = None, hints=(), duplicates=0, remove=()
) -> DesiredAudience:
    rejected = rejected or {}
    valid = len(domains) + len(remove)
    return DesiredAudience(
        received=received if received is not None else valid + sum(rejected.values()) + duplicates,
        valid=valid,
        duplicates=duplicates,
        to_add_candidates=set(domains),
        to_remove_candidates=set(remove),
        rejected_by_reason=rejected,
        rejected_sample=[{"record": 3, "reason": reason, "value": "j***@acme.com"} for reason in rejected],
        hints=list(hints),
    )


def request(**overrides) -> ActivationRequest:
    return ActivationRequest(
        **{"audience_name": NAME, "dataflow_id": DATAFLOW, "snapshot": SNAPSHOT, "poll_interval": 0.01, **overrides}
    )


def no_sleep(seconds: float) -> None:
    pass


def ownership_of(client: FakeAccountLists, list_id: str) -> ListOwnership | None:
    return parse_description(client.lists[list_id]["description"])[1]


# --- Creating, reusing, owning ----------------------------------------------------------------


def test_a_new_audience_gets_a_list_that_records_its_dataflow_and_snapshot():
    client = FakeAccountLists()
    summary = activate_audience(client, request(), desired("acme.com", "globex.com", duplicates=1), sleep=no_sleep)
    (list_id,) = client.lists
    assert client.lists[list_id]["domains"] == {"acme.com", "globex.com"}
    assert ownership_of(client, list_id) == ListOwnership(DATAFLOW, SNAPSHOT)
    assert summary["account_list_id"] == list_id
    assert (summary["added"], summary["removed"], summary["unchanged"], summary["duplicates"]) == (2, 0, 0, 1)
    assert summary["accounts_received"] == 3
    assert sorted(summary["plan_sample"]["to_add"]) == ["acme.com", "globex.com"]
    assert summary["submitted_at"] is not None


def test_an_owned_list_is_mirrored_exactly():
    client = FakeAccountLists()
    list_id = client.seed(["acme.com", "gone.com"], ownership=ListOwnership(DATAFLOW, OLDER))
    summary = activate_audience(client, request(), desired("acme.com", "new.com"), sleep=no_sleep)
    assert client.lists[list_id]["domains"] == {"acme.com", "new.com"}
    assert (summary["added"], summary["removed"], summary["unchanged"]) == (1, 1, 1)
    ownership = ownership_of(client, list_id)
    assert ownership is not None
    assert ownership.snapshot == SNAPSHOT


def test_delta_mode_adds_entries_and_removes_exits_only():
    client = FakeAccountLists()
    list_id = client.seed(["acme.com", "gone.com", "kept.com"], ownership=ListOwnership(DATAFLOW, OLDER))
    activate_audience(client, request(sync_mode="delta"), desired("new.com", remove=["gone.com"]), sleep=no_sleep)
    assert client.lists[list_id]["domains"] == {"acme.com", "kept.com", "new.com"}


def test_a_rerun_with_nothing_to_change_writes_nothing():
    client = FakeAccountLists()
    client.seed(["acme.com"], ownership=ListOwnership(DATAFLOW, SNAPSHOT))
    summary = activate_audience(client, request(), desired("acme.com"), sleep=no_sleep)
    assert client.writes() == []
    assert summary["submitted_at"] is None


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        ({"ownership": ListOwnership("other.dataflow", OLDER)}, "already activated to Bombora account list"),
        ({"description": "made by hand"}, "not activated by airflow-provider-bombora"),
        ({"type": "Surge", "ownership": ListOwnership(DATAFLOW)}, "only Manual lists accept account uploads"),
    ],
)
def test_a_list_this_dataflow_does_not_own_is_refused_with_nothing_written(seed, message):
    client = FakeAccountLists()
    client.seed(["acme.com"], **seed)
    with pytest.raises(BomboraAudienceConflictError, match=message):
        activate_audience(client, request(), desired("new.com"), sleep=no_sleep)
    assert client.writes() == []


def test_adopt_existing_takes_over_an_unowned_manual_list():
    client = FakeAccountLists()
    list_id = client.seed(["acme.com"], description="made by hand")
    activate_audience(client, request(adopt_existing=True), desired("new.com"), sleep=no_sleep)
    assert client.lists[list_id]["domains"] == {"new.com"}
    assert ownership_of(client, list_id) == ListOwnership(DATAFLOW, SNAPSHOT)


# --- Snapshots --------------------------------------------------------------------------------


def test_an_older_snapshot_is_skipped_with_nothing_written():
    client = FakeAccountLists()
    client.seed(["acme.com"], ownership=ListOwnership(DATAFLOW, NEWER))
    with pytest.raises(
        StaleSnapshotError, match=re.escape(f"already holds snapshot {NEWER}, newer than this run's {SNAPSHOT}")
    ):
        activate_audience(client, request(), desired("old.com"), sleep=no_sleep)
    assert client.writes() == []


def test_allow_stale_applies_an_older_snapshot_but_keeps_the_newest_marker():
    client = FakeAccountLists()
    list_id = client.seed(["acme.com"], ownership=ListOwnership(DATAFLOW, NEWER))
    activate_audience(client, request(allow_stale=True), desired("old.com"), sleep=no_sleep)
    assert client.lists[list_id]["domains"] == {"old.com"}
    ownership = ownership_of(client, list_id)
    assert ownership is not None
    assert ownership.snapshot == NEWER


# --- Create answered 422 ----------------------------------------------------------------------


def test_a_create_whose_answer_was_lost_finds_its_own_list():
    client = FakeAccountLists()
    client.lose_create_answer = True  # the list is made, the answer says 422 (a retried POST)
    summary = activate_audience(client, request(), desired("acme.com"), sleep=no_sleep)
    (list_id,) = client.lists
    assert summary["account_list_id"] == list_id
    assert client.lists[list_id]["domains"] == {"acme.com"}


def test_a_422_for_a_list_another_dataflow_just_made_is_a_conflict():
    class RacedClient(FakeAccountLists):
        def create_account_list(self, name, description=None):
            self.seed(ownership=ListOwnership("other.dataflow", SNAPSHOT))  # made between lookup and create
            return super().create_account_list(name, description)

    client = RacedClient()
    with pytest.raises(BomboraAudienceConflictError, match=r"other.dataflow"):
        activate_audience(client, request(), desired("acme.com"), sleep=no_sleep)
    assert [call.split()[0] for call in client.writes()] == ["create"]


# --- 409 while an update is pending -----------------------------------------------------------


def test_a_409_waits_for_the_pending_update_and_resumes_where_it_stopped():
    client = FakeAccountLists(pending_reads=2, conflicts={"add": [3]})
    client.seed(ownership=ListOwnership(DATAFLOW, OLDER))
    domains = [f"company{i}.com" for i in range(5)]
    sleeps: list[float] = []
    activate_audience(client, request(batch_size=2), desired(*domains), sleep=sleeps.append)
    (list_id,) = client.lists
    assert client.lists[list_id]["domains"] == set(domains)
    # Batches 1 and 2 went through, 3 was refused, then it and only it was sent again.
    assert [call for call in client.calls if call.startswith("add")] == ["add 2", "add 2", "add 1"]
    assert sleeps and all(wait <= 0.01 for wait in sleeps)


def test_a_409_that_never_clears_fails_after_pending_update_timeout(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    client = FakeAccountLists(conflicts={"delete": list(range(1, 1000))})
    client.seed(["gone.com"], ownership=ListOwnership(DATAFLOW, OLDER))
    with pytest.raises(BomboraPendingUpdateError, match=r"kept answering 409 to account writes .* for 5 s"):
        activate_audience(client, request(pending_update_timeout=5, poll_interval=1), desired("acme.com"), sleep=sleep)
    assert 5 <= clock[0] - 1000 <= 7
    assert not any(call.startswith("add") for call in client.calls)


# --- The audience policies, before any call ---------------------------------------------------


def test_too_many_rejections_fail_before_any_call_with_reasons_sample_and_hints():
    client = FakeAccountLists()
    hint = "no record has the field 'xdm:accountKey.sourcekey' (mapped to identity:primaryId)"
    audience = desired("acme.com", rejected={"missing_primary_id": 9}, hints=[hint])
    with pytest.raises(BomboraValidationError) as info:
        activate_audience(client, request(), audience, sleep=no_sleep)
    message = str(info.value)
    assert info.value.field == "accounts"
    assert "9 of 10 records rejected (90.0%), more than max_rejected_ratio=0.1; nothing was sent" in message
    assert "record 3: missing_primary_id (j***@acme.com)" in message
    assert hint in message
    assert client.calls == []


def test_some_rejections_under_the_ratio_are_a_warning(caplog):
    client = FakeAccountLists()
    audience = desired(*[f"c{i}.com" for i in range(19)], rejected={"email": 1})
    activate_audience(client, request(), audience, sleep=no_sleep)
    assert "1 of 20 records rejected (email: 1): record 3: email (j***@acme.com)" in caplog.text


def test_a_mirror_of_no_valid_account_would_empty_the_list_and_is_refused():
    client = FakeAccountLists()
    client.seed(["acme.com"], ownership=ListOwnership(DATAFLOW, OLDER))
    with pytest.raises(BomboraValidationError, match=r"would empty the account list .* allow_empty=True"):
        activate_audience(client, request(), desired(), sleep=no_sleep)
    assert client.calls == []


def test_allow_empty_lets_an_empty_audience_empty_the_list():
    client = FakeAccountLists()
    list_id = client.seed(["acme.com"], ownership=ListOwnership(DATAFLOW, OLDER))
    activate_audience(client, request(allow_empty=True), desired(), sleep=no_sleep)
    assert client.lists[list_id]["domains"] == set()


def test_an_empty_delta_is_no_change_not_an_error():
    client = FakeAccountLists()
    client.seed(["acme.com"], ownership=ListOwnership(DATAFLOW, SNAPSHOT))
    summary = activate_audience(client, request(sync_mode="delta"), desired(), sleep=no_sleep)
    assert (summary["added"], summary["removed"]) == (0, 0)


def test_check_audience_alone_accepts_a_clean_audience():
    check_audience(desired("acme.com"), request())


# --- Dry runs ---------------------------------------------------------------------------------


def test_a_dry_run_writes_nothing_and_shows_a_sample_of_the_plan(caplog):
    client = FakeAccountLists()
    client.seed(["gone.com"], ownership=ListOwnership(DATAFLOW, OLDER))
    summary = activate_audience(client, request(dry_run=True), desired("acme.com"), sleep=no_sleep)
    assert client.writes() == []
    assert summary["plan_sample"] == {"to_add": ["acme.com"], "to_remove": ["gone.com"]}
    assert summary["plan_file"] is None  # the sample is the whole plan
    assert "Dry run: would add 1 accounts (acme.com) and remove 1 (gone.com); nothing sent." in caplog.text


def test_a_large_dry_run_writes_the_whole_plan_to_a_file():
    client = FakeAccountLists()
    client.seed([f"gone{i}.com" for i in range(3)], ownership=ListOwnership(DATAFLOW, OLDER))
    domains = [f"company{i}.com" for i in range(25)]
    summary = activate_audience(client, request(dry_run=True), desired(*domains), sleep=no_sleep)
    assert len(summary["plan_sample"]["to_add"]) == 10
    with open(summary["plan_file"], encoding="utf-8") as file:
        lines = [json.loads(line) for line in file]
    assert sorted(line["domain"] for line in lines if line["action"] == "add") == sorted(domains)
    removed = sorted(line["domain"] for line in lines if line["action"] == "remove")
    assert removed == ["gone0.com", "gone1.com", "gone2.com"]
    assert client.writes() == []


def test_a_dry_run_writes_its_plan_where_plan_file_says(tmp_path):
    target = tmp_path / "plan.jsonl"
    summary = activate_audience(
        FakeAccountLists(), request(dry_run=True, plan_file=str(target)), desired("acme.com"), sleep=no_sleep
    )
    assert summary["plan_file"] == str(target)
    assert target.read_text() == '{"action": "add", "domain": "acme.com"}\n'


# --- read_audience and check_audience together: the message a user gets ------------------------


def mappings_with(primary_id_source: str):
    from airflow_provider_bombora.mappings import validate_mappings

    return validate_mappings(
        [
            {"source": primary_id_source, "target": "identity:primaryId"},
            {"source": "xdm:accountOrganization.domain", "target": "xdm:companyWebsiteDomain"},
        ]
    )


def test_a_typo_in_a_mapping_source_is_named_with_the_field_the_records_have():
    records = [
        {"accountKey": {"sourceKey": f"A-{i}"}, "accountOrganization": {"domain": f"c{i}.com"}} for i in range(5)
    ]
    audience = read_audience(records, mappings_with("xdm:accountKey.sourcekey"), request())
    with pytest.raises(BomboraValidationError) as info:
        check_audience(audience, request())
    message = str(info.value)
    assert "5 of 5 records rejected" in message
    assert "no record has the field 'xdm:accountKey.sourcekey' (mapped to identity:primaryId)" in message
    assert "did you mean 'accountKey.sourceKey'?" in message


def test_rows_that_are_tuples_are_explained():
    rows = [("A-1", "umbrella.example"), ("A-2", "globex.example")]
    audience = read_audience(rows, mappings_with("xdm:accountKey.sourceKey"), request())
    with pytest.raises(BomboraValidationError) as info:
        check_audience(audience, request())
    message = str(info.value)
    assert "2 records are tuple, not dict: records are dicts keyed by the mapping sources" in message
    assert "dict(zip(columns, row))" in message
    assert "umbrella" not in message and "globex" not in message  # field names only, never the values


def test_the_policies_name_the_parameter_the_audience_came_from():
    with pytest.raises(BomboraValidationError) as info:
        check_audience(desired(rejected={"missing_domain": 5}), request(source_field="sql"))
    assert info.value.field == "sql"
    with pytest.raises(BomboraValidationError) as info:
        check_audience(desired(), request(source_field="sql"))
    assert info.value.field == "sql"
