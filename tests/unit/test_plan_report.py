"""What collect_desired reports besides the domains: counts that add up, masked samples, hints."""

from __future__ import annotations

import dataclasses
import json
import random

import pytest

from airflow_provider_bombora import parameters, plan
from airflow_provider_bombora.domains import InvalidDomain, normalize_domain
from airflow_provider_bombora.exceptions import BomboraValidationError
from airflow_provider_bombora.mappings import validate_mappings
from airflow_provider_bombora.plan import DesiredAudience, collect_desired, mask_value

PRIMARY = {"source": "xdm:accountKey.sourceKey", "target": "identity:primaryId"}
DOMAIN = {"source": "xdm:accountOrganization.domain", "target": "xdm:companyWebsiteDomain"}
MAPPINGS = validate_mappings([PRIMARY, DOMAIN])


def nested(domain: object, primary_id: object = "A-1", **extra: object) -> dict:
    return {"accountKey": {"sourceKey": primary_id}, "accountOrganization": {"domain": domain}, **extra}


def flat(domain: object, primary_id: object = "A-1", **extra: object) -> dict:
    return {"accountKey.sourceKey": primary_id, "accountOrganization.domain": domain, **extra}


def collect(records: list, mappings=MAPPINGS, sync_mode: str = "mirror", **options) -> DesiredAudience:
    return collect_desired(enumerate(records), mappings, sync_mode=sync_mode, **options)


def rejected(desired: DesiredAudience) -> int:
    return sum(desired.rejected_by_reason.values())


# --- shape --------------------------------------------------------------------------------------------


def test_desired_audience_fields():
    names = [field.name for field in dataclasses.fields(DesiredAudience)]
    assert "sync_mode" not in names
    assert {"duplicates", "hints"} <= set(names)


def test_sync_mode_is_checked_by_the_parameters_rule():
    assert (plan.MIRROR, plan.DELTA) == (parameters.MIRROR, parameters.DELTA)
    assert not hasattr(plan, "SYNC_MODES")
    with pytest.raises(BomboraValidationError) as expected:
        parameters.validate_sync_mode("replace")
    with pytest.raises(BomboraValidationError) as excinfo:
        collect([], sync_mode="replace")
    assert (excinfo.value.field, str(excinfo.value)) == ("sync_mode", str(expected.value))


# --- mask_value ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        (None, None),
        ("jane.doe@acme.com", "j***@acme.com"),
        ("sales@datum-corp.com", "s***@datum-corp.com"),
        ("@acme.com", "***@acme.com"),
        ("a@b@acme.com", "a***@acme.com"),
        ("jane@10.1.2.3", "j***@10.***"),
        ("x" * 300 + "@acme.com", "x***@acme.com"),
        ("jane@" + "d" * 300, "j***@" + "d" * 99 + "…"),
        ("10.0.0.1", "10.***"),
        ("192.168.0.1:8080", "192.***"),
        (" 127.1 ", "127.***"),
        ("2001:db8::1", "2001:***"),
        ("[2001:db8::1]", "2001:***"),
        ("::1", ":***"),
        ("acme", "ac***"),
        ("localhost", "lo***"),
        ("x", "x***"),
        ("", "***"),
        ("my_company.com", "my***"),
        ("bücher.example", "bü***"),
        (42, "42***"),
        (["jane.doe"], "['***"),
    ],
)
def test_mask_value(value, masked):
    assert mask_value(value) == masked


def test_no_raw_rejected_value_appears_in_the_result():
    raw_values = ["jane.doe@acme.com", "10.20.30.40", "2001:db8::dead:beef", "localhost", "my_secret_company.com"]
    records = [nested(value, status="realized") for value in raw_values] + [nested("acme.com", status="realized")]
    for sync_mode in ("mirror", "delta"):
        desired = collect(records, sync_mode=sync_mode, sample_size=100)
        assert len(desired.rejected_sample) == len(raw_values)
        dumped = repr(desired) + json.dumps(dataclasses.asdict(desired), default=str)
        for raw in [*raw_values, "jane.doe", "20.30.40", "db8::dead"]:
            assert raw not in dumped, raw


# --- counts add up ------------------------------------------------------------------------------------------

DOMAIN_VALUES = [
    "acme.com", "ACME.com", "https://www.acme.com/x", "beta.io", "Beta.IO.", "gamma.org",
    "localhost", "10.0.0.1", "", "  ", None, "jane@acme.com", 42, "a..b.com",
]  # fmt: skip
PRIMARY_IDS = ["k1", "k2", 0, "", "  ", None]
STATUSES = ["realized", "existing", "exited", " Exited ", "EXISTING", "active", "", None, 3]


def random_record(rng: random.Random) -> object:
    roll = rng.random()
    if roll < 0.05:
        return rng.choice([("k1", "acme.com"), "acme.com", None, ["k1"]])
    make = flat if roll < 0.5 else nested
    record = make(rng.choice(DOMAIN_VALUES), rng.choice(PRIMARY_IDS))
    if rng.random() < 0.9:
        record["status"] = rng.choice(STATUSES)
    return record


def model(records: list, sync_mode: str) -> tuple[set, set, int, int]:
    """(to add, to remove, rejected, duplicates) worked out record by record, the slow obvious way."""
    final_status: dict[str, str] = {}
    rejected_count = duplicates = 0
    for record in records:
        if not isinstance(record, dict):
            rejected_count += 1
            continue
        primary_id = record.get("accountKey.sourceKey", record.get("accountKey", {}).get("sourceKey"))
        domain_value = record.get("accountOrganization.domain", record.get("accountOrganization", {}).get("domain"))
        if primary_id is None or (isinstance(primary_id, str) and not primary_id.strip()):
            rejected_count += 1
            continue
        try:
            domain = normalize_domain(domain_value)
        except InvalidDomain:
            rejected_count += 1
            continue
        status = record.get("status")
        status = status.strip().lower() if isinstance(status, str) else None
        if sync_mode == "mirror":
            status = "realized"
        elif status not in ("realized", "existing", "exited"):
            rejected_count += 1
            continue
        duplicates += domain in final_status
        final_status[domain] = status
    to_add = {domain for domain, status in final_status.items() if status != "exited"}
    to_remove = {domain for domain, status in final_status.items() if status == "exited"}
    return to_add, to_remove, rejected_count, duplicates


@pytest.mark.parametrize("sync_mode", ["mirror", "delta"])
@pytest.mark.parametrize("seed", range(200))
def test_received_is_valid_plus_rejected_plus_duplicates(seed, sync_mode):
    rng = random.Random(seed)
    records = [random_record(rng) for _ in range(rng.randrange(0, 60))]
    desired = collect(records, sync_mode=sync_mode)
    assert desired.received == len(records)
    assert desired.received == desired.valid + rejected(desired) + desired.duplicates
    to_add, to_remove, rejected_count, duplicates = model(records, sync_mode)
    assert (desired.to_add_candidates, desired.to_remove_candidates) == (to_add, to_remove)
    assert (desired.valid, rejected(desired), desired.duplicates) == (
        len(to_add) + len(to_remove),
        rejected_count,
        duplicates,
    )


@pytest.mark.parametrize(
    ("statuses", "duplicates"),
    [
        (["realized"], 0),
        (["realized", "existing"], 1),
        (["realized", "exited"], 1),
        (["exited", "exited", "realized"], 2),
        (["realized", "bogus"], 0),  # the second is rejected, not a duplicate
    ],
)
def test_delta_duplicates(statuses, duplicates):
    desired = collect([nested("acme.com", status=status) for status in statuses], sync_mode="delta")
    assert desired.duplicates == duplicates
    assert desired.received == desired.valid + rejected(desired) + desired.duplicates


def test_mirror_duplicates_are_spellings_of_one_domain():
    desired = collect([nested("acme.com"), flat("https://www.ACME.com/"), nested("beta.io"), nested("localhost")])
    assert (desired.received, desired.valid, rejected(desired), desired.duplicates) == (4, 2, 1, 1)


# --- hints -------------------------------------------------------------------------------------------------


def mappings_with(primary_source: str = PRIMARY["source"], domain_source: str = DOMAIN["source"]):
    return validate_mappings(
        [{"source": primary_source, "target": "identity:primaryId"}, {**DOMAIN, "source": domain_source}]
    )


@pytest.mark.parametrize("make", [nested, flat], ids=["nested", "flat"])
def test_a_mistyped_primary_id_source_is_named_with_a_suggestion(make):
    desired = collect([make("acme.com", "A-1"), make("beta.io", "B-2")], mappings_with("xdm:accountKey.sourcekey"))
    assert desired.rejected_by_reason == {"missing_primary_id": 2}
    assert desired.hints == [
        "no record has the field 'xdm:accountKey.sourcekey' (mapped to identity:primaryId); did you mean "
        "'accountKey.sourceKey'? The first record's fields: accountKey.sourceKey, accountOrganization.domain"
    ]


def test_the_suggestion_ignores_an_xdm_prefix_and_case_in_the_record_keys():
    records = [{"XDM:AccountKey.SourceKey": "A-1", "xdm:accountOrganization.domain": "acme.com"}]
    desired = collect(records, mappings_with("xdm:accountKey.sourcekey"))
    (hint,) = desired.hints
    assert "did you mean 'XDM:AccountKey.SourceKey'?" in hint
    assert "The first record's fields: XDM:AccountKey.SourceKey, xdm:accountOrganization.domain" in hint


def test_a_hint_without_a_close_field_makes_no_suggestion():
    desired = collect([nested("acme.com")], mappings_with("xdm:crmIdentifier"))
    assert desired.hints == [
        "no record has the field 'xdm:crmIdentifier' (mapped to identity:primaryId). "
        "The first record's fields: accountKey.sourceKey, accountOrganization.domain"
    ]


def test_no_hint_when_some_record_has_the_field():
    records = [{"accountOrganization": {"domain": "acme.com"}}, nested("beta.io"), nested(None), nested("localhost")]
    desired = collect(records)
    assert desired.rejected_by_reason == {"missing_primary_id": 1, "missing_domain": 1, "single_label": 1}
    assert desired.hints == []


def test_a_field_present_but_null_everywhere_is_said_so():
    desired = collect([nested("acme.com", None), nested("beta.io", None)])
    assert desired.hints == [
        "no record has a value in the field 'xdm:accountKey.sourceKey' (mapped to identity:primaryId): it is "
        "empty (null) in every record. The first record's fields: accountKey.sourceKey, accountOrganization.domain"
    ]


def test_both_sources_missing_give_two_hints():
    records = [{"crm_id": "A-1", "website": "acme.com"}, {"crm_id": "B-2", "website": "beta.io"}]
    desired = collect(records)
    assert [hint.split(" (")[0] for hint in desired.hints] == [
        "no record has the field 'xdm:accountKey.sourceKey'",
        "no record has the field 'xdm:accountOrganization.domain'",
    ]
    assert all(hint.endswith("The first record's fields: crm_id, website") for hint in desired.hints)


def test_a_mistyped_status_field_is_named_in_delta_mode_only():
    records = [nested("acme.com", Status="realized"), nested("localhost", Status="exited")]
    delta = collect(records, sync_mode="delta")
    assert delta.hints == [
        "no record has the field 'status' (the status_field); did you mean 'Status'? The first record's "
        "fields: accountKey.sourceKey, accountOrganization.domain, Status"
    ]
    assert collect(records, sync_mode="mirror").hints == []
    assert collect([nested("acme.com", status="realized")], sync_mode="delta").hints == []


def test_the_field_list_is_cut_and_names_are_shortened():
    record = {f"field{n:02}": n for n in range(30)} | {"n" * 100: 1}
    desired = collect([record])
    hint = desired.hints[0]
    fields = hint.split("The first record's fields: ")[1]
    assert fields.startswith("field00, field01, ")
    assert fields.endswith("field19, … (11 more)")
    assert "n" * 61 not in hint


def test_hints_name_fields_never_values():
    records = [
        {"email": "jane.doe@secret-corp.com", "accountOrganization": {"domain": "10.20.30.40"}},
        ("SECRET-ID-1", "secret-corp.com"),
    ]
    desired = collect(records, sync_mode="delta")
    assert len(desired.hints) == 3  # primary id and status absent, one tuple
    text = " ".join(desired.hints)
    for value in ("jane.doe", "secret-corp", "10.20.30.40", "SECRET-ID-1"):
        assert value not in text, value
    assert "The first record's fields: email, accountOrganization.domain" in text


def test_tuple_records_get_the_dict_hint_with_the_mapping_sources():
    rows = [(f"A-{n}", f"company{n}.com") for n in range(12)]
    desired = collect([*rows, nested("acme.com")], mappings_with("xdm:crmId"))
    assert desired.rejected_by_reason == {"not_an_object": 12, "missing_primary_id": 1}
    assert desired.hints[-1] == (
        "12 records are tuple, not dict: records are dicts keyed by the mapping sources, e.g. "
        "{'crmId': 'A-1', 'accountOrganization.domain': 'acme.com'}; rows from a database cursor are tuples: "
        "turn each into a dict of column name to value (dict(zip(columns, row)))"
    )
    assert desired.hints[0].startswith("no record has the field 'xdm:crmId'")


def test_the_dict_hint_counts_each_type_and_shows_the_status_in_delta_mode():
    desired = collect([("A-1", "acme.com"), ["A-2", "beta.io"], ["A-3", "gamma.org"], "acme.com"], sync_mode="delta")
    assert desired.hints == [
        "1 record is tuple, 2 records are list, 1 record is str, not dict: records are dicts keyed by the "
        "mapping sources, e.g. {'accountKey.sourceKey': 'A-1', 'accountOrganization.domain': 'acme.com', "
        "'status': 'realized'}; rows from a database cursor are tuples: turn each into a dict of column name to "
        "value (dict(zip(columns, row)))"
    ]


def test_strings_are_not_said_to_be_database_rows():
    (hint,) = collect(["acme.com", "beta.io"]).hints
    assert hint == (
        "2 records are str, not dict: records are dicts keyed by the mapping sources, e.g. "
        "{'accountKey.sourceKey': 'A-1', 'accountOrganization.domain': 'acme.com'}"
    )


def test_good_input_has_no_hints():
    assert collect([nested("acme.com"), flat("beta.io"), nested("acme.com")]).hints == []
    assert collect([]).hints == []
