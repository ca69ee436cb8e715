"""collect_desired, plan_mirror and plan_delta: from records to the domains to add and remove."""

from __future__ import annotations

import json

import pytest

from airflow_provider_bombora.exceptions import BomboraValidationError
from airflow_provider_bombora.mappings import validate_mappings
from airflow_provider_bombora.plan import DesiredAudience, Plan, collect_desired, plan_delta, plan_mirror
from airflow_provider_bombora.records import iter_records

MAPPINGS = validate_mappings(
    [
        {"source": "xdm:accountKey.sourceKey", "target": "identity:primaryId"},
        {"source": "xdm:accountOrganization.domain", "target": "xdm:companyWebsiteDomain"},
    ]
)
SECRET_ID = "crm-secret-0042"


def account(domain: object, primary_id: object = SECRET_ID, **extra: object) -> dict:
    return {"accountKey": {"sourceKey": primary_id}, "accountOrganization": {"domain": domain}, **extra}


def collect(accounts: list, sync_mode: str = "mirror", **options) -> DesiredAudience:
    return collect_desired(iter_records(accounts), MAPPINGS, sync_mode=sync_mode, **options)


# --- collect_desired: mirror -------------------------------------------------------------------


def test_mirror_collects_normalised_distinct_domains():
    desired = collect(
        [
            account("acme.com"),
            account("https://www.Acme.com/about"),  # the same account once normalised
            account("Beta.IO."),
            {"accountKey.sourceKey": "k9", "accountOrganization.domain": "gamma.org"},  # flat keys
            {"xdm:accountKey.sourceKey": "k10", "xdm:accountOrganization.domain": "delta.net"},
        ]
    )
    assert desired.received == 5
    assert desired.valid == 4
    assert desired.duplicates == 1
    assert desired.to_add_candidates == {"acme.com", "beta.io", "gamma.org", "delta.net"}
    assert desired.to_remove_candidates == set()
    assert desired.rejected_by_reason == {}
    assert desired.rejected_sample == []


def test_mirror_ignores_the_status_field():
    desired = collect([account("acme.com", status="exited"), account("beta.io", status="bogus")])
    assert desired.to_add_candidates == {"acme.com", "beta.io"}
    assert desired.rejected_by_reason == {}


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ("acme.com", "not_an_object"),
        (["k1", "acme.com"], "not_an_object"),
        (None, "not_an_object"),
        (account("acme.com", primary_id=None), "missing_primary_id"),
        (account("acme.com", primary_id=""), "missing_primary_id"),
        (account("acme.com", primary_id="   "), "missing_primary_id"),
        ({"accountOrganization": {"domain": "acme.com"}}, "missing_primary_id"),
        (account(None), "missing_domain"),
        (account(""), "missing_domain"),
        (account("  "), "missing_domain"),
        ({"accountKey": {"sourceKey": "k1"}}, "missing_domain"),
        (account("10.0.0.1"), "ip_address"),
        (account("sales@acme.com"), "email"),
        (account("localhost"), "single_label"),
        (account("my_company.com"), "invalid_character"),
        (account(42), "not_a_string"),
    ],
)
def test_rejections_are_counted_by_reason(record, reason):
    desired = collect([account("good.com"), record])
    assert desired.received == 2
    assert desired.valid == 1
    assert desired.to_add_candidates == {"good.com"}
    assert desired.rejected_by_reason == {reason: 1}
    (sample,) = desired.rejected_sample
    assert sample["record"] == 1
    assert sample["reason"] == reason


def test_a_primary_id_of_zero_is_present():
    assert collect([account("acme.com", primary_id=0)]).to_add_candidates == {"acme.com"}


def test_samples_show_the_domain_value_truncated_and_are_limited():
    long_value = "x" * 300 + "@acme.com"
    accounts = [account(long_value)] + [account(f"host{n}") for n in range(20)] + [account("ok.com")]
    desired = collect(accounts, sample_size=3)
    assert desired.rejected_by_reason == {"email": 1, "single_label": 20}
    assert desired.rejected_sample == [
        {"record": 0, "reason": "email", "value": "x***@acme.com"},
        {"record": 1, "reason": "single_label", "value": "ho***"},
        {"record": 2, "reason": "single_label", "value": "ho***"},
    ]


def test_non_string_sample_values_are_masked_as_text():
    desired = collect([account(["acme.com"])])
    assert desired.rejected_sample == [{"record": 0, "reason": "not_a_string", "value": "['***"}]


def test_sample_size_zero_keeps_counts_only():
    desired = collect([account("localhost")], sample_size=0)
    assert desired.rejected_by_reason == {"single_label": 1}
    assert desired.rejected_sample == []


def test_the_primary_id_never_appears_in_the_result():
    accounts = [
        account("acme.com"),
        account("localhost"),
        account("acme.com", primary_id=""),
        [SECRET_ID, "acme.com"],
        account("beta.io", status="bogus"),
        account(None),
    ]
    for sync_mode in ("mirror", "delta"):
        desired = collect(accounts, sync_mode=sync_mode)
        assert desired.rejected_sample, "the test needs rejections to inspect"
        assert SECRET_ID not in repr(desired)
        assert SECRET_ID not in json.dumps(desired.rejected_sample, default=str)


def test_positions_are_file_lines(tmp_path):
    path = tmp_path / "accounts.jsonl"
    path.write_text("\n".join(json.dumps(record) for record in [account("acme.com"), account("localhost")]) + "\n")
    desired = collect_desired(iter_records(path), MAPPINGS, sync_mode="mirror")
    assert desired.rejected_sample == [{"record": 2, "reason": "single_label", "value": "lo***"}]


def test_csv_end_to_end(tmp_path):
    path = tmp_path / "accounts.csv"
    path.write_text(
        "xdm:accountKey.sourceKey,xdm:accountOrganization.domain\nk1,WWW.Acme.com\nk2,\n,beta.io\nk3,acme.com\n"
    )
    records = iter_records(path, required_sources=(MAPPINGS.primary_id_source, MAPPINGS.domain_source))
    desired = collect_desired(records, MAPPINGS, sync_mode="mirror")
    assert desired.to_add_candidates == {"acme.com"}
    assert desired.received == 4
    assert desired.rejected_by_reason == {"missing_domain": 1, "missing_primary_id": 1}


# --- collect_desired: delta ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "added", "removed"),
    [
        ("realized", {"acme.com"}, set()),
        ("existing", {"acme.com"}, set()),
        ("exited", set(), {"acme.com"}),
        ("  Realized ", {"acme.com"}, set()),
        ("EXISTING", {"acme.com"}, set()),
        ("Exited\n", set(), {"acme.com"}),
    ],
)
def test_delta_statuses(status, added, removed):
    desired = collect([account("acme.com", status=status)], sync_mode="delta")
    assert desired.to_add_candidates == added
    assert desired.to_remove_candidates == removed
    assert desired.valid == 1
    assert desired.rejected_by_reason == {}


@pytest.mark.parametrize(
    ("status", "shown"),
    [
        (None, None),
        ("", "***"),
        ("active", "active"),
        (" Member\n", "Member"),
        (1, "1***"),
        (["realized"], "['***"),
        ("jane.doe@acme.com", "j***@acme.com"),  # a status field mapped to the wrong column
        ("10.1.2.3", "10.***"),
        ("Jane Doe", "Ja***"),
    ],
)
def test_delta_unknown_status_is_rejected_showing_a_word_status_and_masking_others(status, shown):
    record = account("acme.com") if status is None else account("acme.com", status=status)
    desired = collect([record], sync_mode="delta")
    assert desired.to_add_candidates == set()
    assert desired.to_remove_candidates == set()
    assert desired.rejected_by_reason == {"unknown_status": 1}
    (sample,) = desired.rejected_sample
    assert sample["value"] == "ac***"
    assert sample["status"] == shown


def test_delta_reads_a_custom_status_field():
    record = account("acme.com", segmentMembership={"status": "exited"})
    desired = collect([record], sync_mode="delta", status_field="xdm:segmentMembership.status")
    assert desired.to_remove_candidates == {"acme.com"}


@pytest.mark.parametrize(
    ("statuses", "added", "removed"),
    [
        (["realized", "exited"], set(), {"acme.com"}),
        (["exited", "realized"], {"acme.com"}, set()),
        (["existing", "exited", "existing"], {"acme.com"}, set()),
        (["realized", "realized"], {"acme.com"}, set()),
    ],
)
def test_delta_last_record_wins_for_a_domain(statuses, added, removed):
    spellings = ["acme.com", "https://www.ACME.com/", "Acme.com."]
    accounts = [account(spellings[n % 3], status=status) for n, status in enumerate(statuses)]
    desired = collect(accounts, sync_mode="delta")
    assert desired.to_add_candidates == added
    assert desired.to_remove_candidates == removed
    assert desired.valid == 1
    assert desired.duplicates == len(statuses) - 1


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"sync_mode": "replace"}, "sync_mode"),
        ({"sync_mode": "Mirror"}, "sync_mode"),
        ({"sync_mode": "delta", "status_field": ""}, "status_field"),
        ({"sync_mode": "delta", "status_field": None}, "status_field"),
    ],
)
def test_bad_options_are_refused(options, field):
    with pytest.raises(BomboraValidationError) as excinfo:
        collect_desired(iter([]), MAPPINGS, **options)
    assert excinfo.value.field == field


class ObservingRecord(dict):
    """A record noting, when its fields are read, how many records had been pulled from the input."""

    def __init__(self, position: int, pulled: list[int], seen: list[tuple[int, int]]) -> None:
        super().__init__(account(f"company{position}.com"))
        self._position, self._pulled, self._seen = position, pulled, seen

    def get(self, key, default=None):
        self._seen.append((self._position, self._pulled[0]))
        return super().get(key, default)


def test_records_are_streamed_through():
    # Each record is processed before the next ones are pulled: the input is never listed first.
    count = 50
    pulled = [0]
    seen: list[tuple[int, int]] = []

    def generate():
        for position in range(count):
            pulled[0] += 1
            yield position, ObservingRecord(position, pulled, seen)

    desired = collect_desired(generate(), MAPPINGS, sync_mode="mirror")
    assert desired.received == count
    assert {position for position, _ in seen} == set(range(count)), "every record's fields were read"
    too_early = [(position, pulled_then) for position, pulled_then in seen if pulled_then > position + 2]
    assert too_early == [], f"(record, records pulled when it was read): {too_early[:3]}"


# --- plan_mirror and plan_delta --------------------------------------------------------------------


def as_sets(plan: Plan) -> tuple[set[str], set[str], int]:
    assert len(plan.to_add) == len(set(plan.to_add))
    assert len(plan.to_remove) == len(set(plan.to_remove))
    return set(plan.to_add), set(plan.to_remove), plan.unchanged


@pytest.mark.parametrize(
    ("desired", "current", "to_add", "to_remove", "unchanged"),
    [
        ({"a.com", "b.com"}, [], {"a.com", "b.com"}, set(), 0),
        ({"a.com", "b.com"}, ["a.com", "b.com"], set(), set(), 2),
        ({"a.com", "b.com"}, ["b.com", "c.com"], {"a.com"}, {"c.com"}, 1),
        (set(), ["a.com", "b.com"], set(), {"a.com", "b.com"}, 0),
        ({"a.com"}, iter(["a.com", "a.com", "z.com"]), set(), {"z.com"}, 1),
        ({"a.com"}, frozenset({"b.com"}), {"a.com"}, {"b.com"}, 0),
        ({"a.com"}, ["z.com", "a.com", "z.com"], set(), {"z.com"}, 1),
    ],
)
def test_plan_mirror(desired, current, to_add, to_remove, unchanged):
    assert as_sets(plan_mirror(desired, current)) == (to_add, to_remove, unchanged)


@pytest.mark.parametrize(
    ("add", "remove", "current", "to_add", "to_remove", "unchanged"),
    [
        ({"a.com"}, set(), [], {"a.com"}, set(), 0),
        ({"a.com"}, set(), ["a.com", "keep.com"], set(), set(), 1),
        (set(), {"x.com"}, ["x.com", "keep.com"], set(), {"x.com"}, 0),
        (set(), {"gone.com"}, ["keep.com"], set(), set(), 0),
        ({"a.com", "b.com"}, {"x.com", "y.com"}, ["b.com", "x.com", "keep.com"], {"a.com"}, {"x.com"}, 1),
        (set(), {"x.com"}, iter(["x.com", "x.com"]), set(), {"x.com"}, 0),
    ],
)
def test_plan_delta(add, remove, current, to_add, to_remove, unchanged):
    assert as_sets(plan_delta(add, remove, current)) == (to_add, to_remove, unchanged)


@pytest.mark.parametrize("current", [{"a.com", "b.com"}, ["a.com", "b.com"]])
def test_plan_delta_does_not_modify_its_inputs(current):
    # The domains already in the list are taken out of the add set during the call, then put back.
    add, remove = {"a.com", "c.com"}, {"b.com"}
    plan_delta(add, remove, current)
    assert (add, remove, sorted(current)) == ({"a.com", "c.com"}, {"b.com"}, ["a.com", "b.com"])


@pytest.mark.parametrize("current", [["a.com", "b.com", "a.com"], iter(["a.com", "b.com", "a.com"])])
def test_plan_mirror_consumes_desired_and_reads_any_iterable_of_current(current):
    desired = {"a.com", "c.com"}
    plan = plan_mirror(desired, current)
    assert as_sets(plan) == ({"c.com"}, {"b.com"}, 1)  # a repeated held domain is never removed
    assert desired == {"c.com"}
