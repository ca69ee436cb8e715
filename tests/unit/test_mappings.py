"""validate_mappings: exactly the two mappings the Bombora destination accepts."""

from __future__ import annotations

import pytest

from airflow_provider_bombora.exceptions import BomboraValidationError
from airflow_provider_bombora.mappings import (
    ALLOWED_TARGETS,
    DOMAIN_SOURCE,
    DOMAIN_TARGET,
    PRIMARY_ID_TARGET,
    ValidatedMappings,
    canonical_path,
    strip_xdm_prefix,
    validate_mappings,
)

PRIMARY = {"source": "xdm:accountKey.sourceKey", "target": "identity:primaryId"}
DOMAIN = {"source": "xdm:accountOrganization.domain", "target": "xdm:companyWebsiteDomain"}


def test_constants():
    assert PRIMARY_ID_TARGET == "identity:primaryId"
    assert DOMAIN_TARGET == "xdm:companyWebsiteDomain"
    assert DOMAIN_SOURCE == "xdm:accountOrganization.domain"
    assert ALLOWED_TARGETS == (PRIMARY_ID_TARGET, DOMAIN_TARGET)


@pytest.mark.parametrize(
    ("mappings", "expected_primary_source"),
    [
        ([PRIMARY, DOMAIN], "xdm:accountKey.sourceKey"),
        ((DOMAIN, PRIMARY), "xdm:accountKey.sourceKey"),
        (
            [
                {"source": "XDM: accountKey.sourceKey", "target": "Identity: primaryId"},
                {"source": "xdm: accountOrganization.domain", "target": "XDM:companyWebsiteDomain"},
            ],
            "xdm:accountKey.sourceKey",
        ),
        (
            [
                {"source": "  Xdm:accountKey.sourceKey ", "target": " IDENTITY:primaryId"},
                {"source": "Xdm:accountOrganization.domain", "target": "xdm: companyWebsiteDomain"},
            ],
            "xdm:accountKey.sourceKey",
        ),
        ([{"source": "xdm:_acme.crmAccountId", "target": "identity:primaryId"}, DOMAIN], "xdm:_acme.crmAccountId"),
        ([{"source": "accountId", "target": "identity:primaryId"}, DOMAIN], "accountId"),
        ([{**PRIMARY, "comment": "extra keys are ignored"}, DOMAIN], "xdm:accountKey.sourceKey"),
    ],
)
def test_accepts_and_canonicalises(mappings, expected_primary_source):
    assert validate_mappings(mappings) == ValidatedMappings(
        primary_id_source=expected_primary_source, domain_source="xdm:accountOrganization.domain"
    )


def test_result_is_frozen():
    validated = validate_mappings([PRIMARY, DOMAIN])
    with pytest.raises(AttributeError):
        validated.domain_source = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("mappings", "expected_fragments"),
    [
        ("[...]", ["must be a list", "got str", str(DOMAIN)]),
        ({"source": "a", "target": "b"}, ["must be a list", "got dict"]),
        (None, ["must be a list", "got NoneType"]),
        ([], [f"no mapping targets {PRIMARY_ID_TARGET!r}", f"add {PRIMARY}", f"add {DOMAIN}"]),
        ([PRIMARY], [f"no mapping targets {DOMAIN_TARGET!r}", f"add {DOMAIN}"]),
        ([DOMAIN], [f"no mapping targets {PRIMARY_ID_TARGET!r}", f"add {PRIMARY}"]),
        ([PRIMARY, DOMAIN, "x"], ["mappings[2]", "not a dict", "{'source': ..., 'target': ...}"]),
        ([PRIMARY, {"target": DOMAIN_TARGET}], ["mappings[1]", "non-empty string 'source'"]),
        ([PRIMARY, {**DOMAIN, "target": "  "}], ["mappings[1]", "non-empty string 'target'"]),
        ([{"source": "", "target": PRIMARY_ID_TARGET}, DOMAIN], ["mappings[0]", "non-empty string 'source'"]),
        ([{"source": 7, "target": PRIMARY_ID_TARGET}, DOMAIN], ["mappings[0]", "non-empty string 'source'"]),
        (
            [PRIMARY, DOMAIN, {"source": "xdm:accountName", "target": "xdm:accountName"}],
            ["mappings[2]", "'xdm:accountName'", "allowed targets are", PRIMARY_ID_TARGET, DOMAIN_TARGET],
        ),
        (
            [PRIMARY, {**DOMAIN, "target": "xdm:companywebsitedomain"}],
            ["mappings[1]", f"did you mean {DOMAIN_TARGET!r}", "case-sensitive"],
        ),
        (
            [PRIMARY, {**DOMAIN, "target": "companyWebsiteDomain"}],
            ["mappings[1]", f"did you mean {DOMAIN_TARGET!r}"],
        ),
        (
            [{**PRIMARY, "target": "identity:primaryID"}, DOMAIN],
            ["mappings[0]", f"did you mean {PRIMARY_ID_TARGET!r}"],
        ),
        (
            [PRIMARY, {"source": "xdm:accountOrganization.website", "target": DOMAIN_TARGET}],
            ["mappings[1]", "'xdm:accountOrganization.website'", f"only accepts {DOMAIN_SOURCE!r}", f"use {DOMAIN}"],
        ),
        (
            [PRIMARY, {"source": "xdm:accountorganization.domain", "target": DOMAIN_TARGET}],
            ["mappings[1]", f"only accepts {DOMAIN_SOURCE!r}"],
        ),
        (
            [PRIMARY, DOMAIN, {"source": "xdm:other.id", "target": PRIMARY_ID_TARGET}],
            ["mappings[2]", f"targets {PRIMARY_ID_TARGET!r} again", "already mappings[0]", "only one"],
        ),
        (
            [PRIMARY, DOMAIN, {"source": DOMAIN_SOURCE, "target": "XDM: companyWebsiteDomain"}],
            ["mappings[2]", "again", "already mappings[1]"],
        ),
    ],
)
def test_refuses_with_a_message_naming_the_problem_and_the_fix(mappings, expected_fragments):
    with pytest.raises(BomboraValidationError) as excinfo:
        validate_mappings(mappings)
    assert excinfo.value.field == "mappings"
    for fragment in expected_fragments:
        assert fragment in str(excinfo.value)


def test_a_wrong_domain_source_is_not_also_reported_as_a_missing_target():
    with pytest.raises(BomboraValidationError) as excinfo:
        validate_mappings([PRIMARY, {"source": "xdm:website", "target": DOMAIN_TARGET}])
    assert "no mapping targets" not in str(excinfo.value)


def test_reports_every_problem_at_once():
    with pytest.raises(BomboraValidationError) as excinfo:
        validate_mappings([{"source": "a", "target": "b"}, 3])
    message = str(excinfo.value)
    for fragment in ("mappings[0]", "mappings[1]", f"add {PRIMARY}", f"add {DOMAIN}"):
        assert fragment in message


@pytest.mark.parametrize(
    ("path", "canonical", "unprefixed"),
    [
        ("xdm:accountOrganization.domain", "xdm:accountOrganization.domain", "accountOrganization.domain"),
        ("XDM: accountOrganization.domain", "xdm:accountOrganization.domain", "accountOrganization.domain"),
        (" Xdm:accountKey.sourceKey ", "xdm:accountKey.sourceKey", "accountKey.sourceKey"),
        ("accountOrganization.domain", "accountOrganization.domain", "accountOrganization.domain"),
        ("Identity: primaryId", "identity:primaryId", "identity:primaryId"),
        ("xdm:  twoSpaces", "xdm:  twoSpaces", "xdm:  twoSpaces"),
    ],
)
def test_path_spellings(path, canonical, unprefixed):
    assert canonical_path(path) == canonical
    assert strip_xdm_prefix(path) == unprefixed
