"""Bad input catalogue: malformed parameters, mappings, files and records, each with the error or
the per-record rejection it must produce, run through the operator's ``execute`` against the
sandbox.

- An **error** case must raise :class:`BomboraValidationError` naming the parameter, when the
  operator is built (DAG parse time) or when it executes, and the sandbox must have received
  **no request at all**: everything is checked before the first network call.
- A **rejected** case is one bad record among nine good ones (``max_rejected_ratio=0.2``): the
  task succeeds, the record is counted under its reason, and the upload holds exactly the nine
  good domains.
- A **normalised** case is a dirty domain that has a clean form: it is uploaded in that form.
- An **accepted** case is unusual but valid input, uploaded as is.

No primary identity may ever reach Bombora or an error message: the records' primary ids are
``pid-<n>-never-exported`` and no request body or message may contain ``never-exported``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import pendulum
import pytest
from airflow.sdk.exceptions import AirflowFailException
from helpers import MAPPINGS, account_writes, assert_no_duplicate_identifiers, identifiers, uploaded

from airflow_provider_bombora.exceptions import BomboraValidationError
from airflow_provider_bombora.operators.bombora import BomboraActivateAudienceOperator

NAME = "Bad input audience"
GOOD = [f"good{i}.com" for i in range(9)]
NEVER_EXPORTED = "never-exported"
MISSING = object()
PRIMARY_ID, DOMAIN = MAPPINGS
CSV_HEADER = b"xdm:accountKey.sourceKey,xdm:accountOrganization.domain\n"


def account(index: int, domain: Any = MISSING, status: Any = MISSING, **fields) -> dict:
    row: dict[str, Any] = {"accountKey": {"sourceKey": f"pid-{index}-{NEVER_EXPORTED}"}}
    if domain is not MISSING:
        row["accountOrganization"] = {"domain": domain}
    if status is not MISSING:
        row["status"] = status
    return {**row, **fields}


@dataclass(frozen=True)
class Case:
    """One malformed input. Exactly one of ``error``, ``rejected``, ``normalised``, ``accepted``."""

    id: str
    group: str
    kwargs: dict = field(default_factory=dict)  # operator arguments replacing the defaults
    domain: Any = MISSING  # a record with this domain, among the nine good ones
    record: Any = MISSING  # this record, among the nine good ones
    file: tuple[str, bytes | None] | None = None  # accounts file: name and content (None: a directory)
    error: str | None = None  # a fragment of the error message
    field: str | None = None  # the parameter the error names
    rejected: str | None = None  # the rejection reason
    normalised: str | None = None  # the value uploaded for ``domain``
    accepted: str | None = None  # the domain uploaded as is


def mapping_error(case_id: str, mappings: Any, error: str) -> Case:
    return Case(case_id, "mappings", kwargs={"mappings": mappings}, error=error, field="mappings")


def param_error(case_id: str, group: str, name: str, value: Any, error: str) -> Case:
    return Case(case_id, group, kwargs={name: value}, error=error, field=name)


def domain_rejected(case_id: str, domain: Any, reason: str) -> Case:
    return Case(case_id, "domains", domain=domain, rejected=reason)


def domain_normalised(case_id: str, domain: str, clean: str) -> Case:
    return Case(case_id, "domains", domain=domain, normalised=clean)


def file_error(case_id: str, name: str, content: bytes | None, error: str) -> Case:
    return Case(case_id, "files", file=(name, content), error=error, field="accounts")


DELTA = {"sync_mode": "delta"}
CASES = [
    # --- mappings ---
    mapping_error("missing primaryId", [DOMAIN], "no mapping targets 'identity:primaryId'"),
    mapping_error("missing domain mapping", [PRIMARY_ID], "no mapping targets 'xdm:companyWebsiteDomain'"),
    mapping_error(
        "wrong source for the domain",
        [PRIMARY_ID, {"source": "xdm:accountOrganization.website", "target": DOMAIN["target"]}],
        "that target only accepts 'xdm:accountOrganization.domain'",
    ),
    mapping_error(
        "unknown target",
        [*MAPPINGS, {"source": "xdm:name", "target": "xdm:companyName"}],
        "which Bombora does not accept",
    ),
    mapping_error(
        "target in the wrong case",
        [{"source": "xdm:accountKey.sourceKey", "target": "identity:primaryid"}, DOMAIN],
        "did you mean 'identity:primaryId'",
    ),
    mapping_error("duplicate targets", [PRIMARY_ID, PRIMARY_ID, DOMAIN], "again (already mappings[0])"),
    mapping_error(
        "empty source", [{"source": "", "target": "identity:primaryId"}, DOMAIN], "non-empty string 'source'"
    ),
    mapping_error(
        "blank target", [PRIMARY_ID, {"source": DOMAIN["source"], "target": "  "}], "non-empty string 'target'"
    ),
    mapping_error(
        "source is a number", [{"source": 7, "target": "identity:primaryId"}, DOMAIN], "non-empty string 'source'"
    ),
    mapping_error("mapping is a list", [["xdm:accountKey.sourceKey", "identity:primaryId"], DOMAIN], "not a dict"),
    mapping_error("mappings is a string", "xdm:accountOrganization.domain", "must be a list"),
    mapping_error("mappings is a dict", dict(PRIMARY_ID), "must be a list"),
    mapping_error("mappings is None", None, "must be a list"),
    mapping_error("no mappings", [], "no mapping targets 'identity:primaryId'"),
    # --- origins ---
    param_error(
        "custom upload", "origins", "audience_origin", "custom_upload", "does not support custom upload audiences"
    ),
    param_error("unknown origin", "origins", "audience_origin", "batch_import", "is not supported"),
    param_error("no origin", "origins", "audience_origin", None, "is not supported"),
    # --- names ---
    param_error("empty name", "names", "audience_name", "", "must be a non-empty string"),
    param_error("blank name", "names", "audience_name", "   ", "must be a non-empty string"),
    param_error("name is None", "names", "audience_name", None, "must be a non-empty string"),
    param_error("name is a number", "names", "audience_name", 42, "must be a non-empty string"),
    param_error("tab in name", "names", "audience_name", "High\tintent", "control characters"),
    param_error("newline in name", "names", "audience_name", "High\nintent", "control characters"),
    param_error("NUL in name", "names", "audience_name", "High\x00intent", "control characters"),
    param_error("zero-width space in name", "names", "audience_name", "High\u200bintent", "control characters"),
    param_error("name too long", "names", "audience_name", "a" * 256, "at most 255"),
    # --- other parameters ---
    param_error("unknown sync mode", "parameters", "sync_mode", "full", "is not one of 'mirror', 'delta'"),
    param_error("batch size 0", "parameters", "batch_size", 0, "from 1 to 10,000"),
    param_error("batch size 10,001", "parameters", "batch_size", 10_001, "from 1 to 10,000"),
    param_error("batch size True", "parameters", "batch_size", True, "from 1 to 10,000"),
    param_error("batch size as a word", "parameters", "batch_size", "many", "from 1 to 10,000"),
    param_error("fractional batch size", "parameters", "batch_size", 10.5, "from 1 to 10,000"),
    param_error("ratio above 1", "parameters", "max_rejected_ratio", 1.5, "from 0 to 1"),
    param_error("ratio as a word", "parameters", "max_rejected_ratio", "a tenth", "from 0 to 1"),
    param_error("multi-line dataflow id", "parameters", "dataflow_id", "a\nb", "single-line"),
    param_error(
        "control character in description", "parameters", "audience_description", "Q3\x07", "control characters"
    ),
    param_error("empty status field", "parameters", "status_field", "", "must name the record field"),
    param_error("zero pending-update timeout", "parameters", "pending_update_timeout", 0, "positive number of seconds"),
    param_error("negative poll interval", "parameters", "poll_interval", -1, "positive number of seconds"),
    # --- domains that normalise ---
    domain_normalised("scheme, www, port, path, query, fragment", "https://www.Acme.com:443/about?x#y", "acme.com"),
    domain_normalised("port", "acme.com:8080", "acme.com"),
    domain_normalised("user info", "http://user:pw@acme.com/", "acme.com"),
    domain_normalised("scheme-relative URL", "//acme.com/path", "acme.com"),
    domain_normalised("other scheme", "ftp://acme.com", "acme.com"),
    domain_normalised("path without scheme", "acme.com/pricing", "acme.com"),
    domain_normalised("mixed-case IDN", "Bücher.Example", "xn--bcher-kva.example"),
    domain_normalised("upper-case IDN", "MÜNCHEN.de", "xn--mnchen-3ya.de"),
    domain_normalised("www and IDN", "www.Bücher.example", "xn--bcher-kva.example"),
    domain_normalised("fullwidth characters", "ＡＣＭＥ．com", "acme.com"),
    domain_normalised("punycode kept", "xn--bcher-kva.example", "xn--bcher-kva.example"),
    domain_normalised("trailing dot", "acme.com.", "acme.com"),
    domain_normalised("leading www.", "www.acme.com", "acme.com"),
    domain_normalised("upper case and blanks", "  ACME.COM  ", "acme.com"),
    domain_normalised("trailing tab", "acme.com\t", "acme.com"),
    domain_normalised("several labels", "Shop.Acme.co.UK", "shop.acme.co.uk"),
    # --- domains rejected ---
    domain_rejected("IPv4", "192.168.0.1", "ip_address"),
    domain_rejected("short IPv4", "1.2.3", "ip_address"),
    domain_rejected("IPv4 URL", "http://10.0.0.1:8080/admin", "ip_address"),
    domain_rejected("IPv6", "2001:db8::1", "ip_address"),
    domain_rejected("IPv6 loopback", "::1", "ip_address"),
    domain_rejected("bracketed IPv6 URL", "http://[2001:db8::1]:8080/x", "ip_address"),
    domain_rejected("e-mail address", "sales@acme.com", "email"),
    domain_rejected("single label", "localhost", "single_label"),
    domain_rejected("label of 64 characters", "a" * 64 + ".com", "label_too_long"),
    domain_rejected("name of 255 characters", ".".join(["a" * 63] * 4), "name_too_long"),
    domain_rejected("underscore", "my_company.com", "invalid_character"),
    domain_rejected("space", "acme corp.com", "invalid_character"),
    domain_rejected("percent-encoding", "acme%2Ecom.com", "invalid_character"),
    domain_rejected("port that is not a number", "http://acme.com:abc/", "invalid_character"),
    domain_rejected("emoji", "😀.com", "invalid_idn"),
    domain_rejected("bad punycode", "xn--zz.com", "invalid_idn"),
    domain_rejected("two dots", "a..com", "empty_label"),
    domain_rejected("leading dot", ".acme.com", "empty_label"),
    domain_rejected("leading hyphen", "-acme.com", "invalid_hyphen"),
    domain_rejected("trailing hyphen", "acme-.com", "invalid_hyphen"),
    domain_rejected("empty domain", "", "missing_domain"),
    domain_rejected("blank domain", "   ", "missing_domain"),
    domain_rejected("None domain", None, "missing_domain"),
    domain_rejected("domain is a number", 12345, "not_a_string"),
    domain_rejected("domain is a float", 1.5, "not_a_string"),
    domain_rejected("domain is a boolean", True, "not_a_string"),
    domain_rejected("domain is a list", ["acme.com"], "not_a_string"),
    domain_rejected("only www.", "WWW.", "single_label"),
    # --- records ---
    Case("record is a string", "records", record="acme.com", rejected="not_an_object"),
    Case("record is None", "records", record=None, rejected="not_an_object"),
    Case("record is a list", "records", record=["pid-1", "acme.com"], rejected="not_an_object"),
    Case("record is a number", "records", record=7, rejected="not_an_object"),
    Case(
        "no primary id",
        "records",
        record={"accountOrganization": {"domain": "noid.com"}},
        rejected="missing_primary_id",
    ),
    Case(
        "None primary id",
        "records",
        record={"accountKey": {"sourceKey": None}, "accountOrganization": {"domain": "noid.com"}},
        rejected="missing_primary_id",
    ),
    Case(
        "blank primary id",
        "records",
        record={"accountKey": {"sourceKey": " "}, "accountOrganization": {"domain": "noid.com"}},
        rejected="missing_primary_id",
    ),
    Case("no domain field", "records", record=account(99), rejected="missing_domain"),
    Case("organization is None", "records", record=account(99, accountOrganization=None), rejected="missing_domain"),
    Case(
        "organization is a string",
        "records",
        record=account(99, accountOrganization="acme.com"),
        rejected="missing_domain",
    ),
    Case(
        "numeric primary id",
        "records",
        record={"accountKey": {"sourceKey": 4711}, "accountOrganization": {"domain": "numeric-id.com"}},
        accepted="numeric-id.com",
    ),
    Case(
        "flat dotted keys",
        "records",
        record={"accountKey.sourceKey": "pid-f", "xdm:accountOrganization.domain": "flat.com"},
        accepted="flat.com",
    ),
    Case(
        "one domain written five ways",
        "records",
        kwargs={
            "accounts": [
                account(i, domain)
                for i, domain in enumerate(
                    ["acme.com", "ACME.com", "https://www.acme.com/x", "acme.com.", "www.Acme.com:443"]
                )
            ]
            + [account(10 + i, domain) for i, domain in enumerate(GOOD)]
        },
        accepted="acme.com",
    ),
    # --- delta statuses ---
    Case(
        "unknown status",
        "delta statuses",
        kwargs=DELTA,
        record=account(99, "paused.com", "paused"),
        rejected="unknown_status",
    ),
    Case(
        "None status",
        "delta statuses",
        kwargs=DELTA,
        record=account(99, "nostatus.com", None),
        rejected="unknown_status",
    ),
    Case(
        "missing status", "delta statuses", kwargs=DELTA, record=account(99, "nostatus.com"), rejected="unknown_status"
    ),
    Case(
        "empty status",
        "delta statuses",
        kwargs=DELTA,
        record=account(99, "nostatus.com", ""),
        rejected="unknown_status",
    ),
    Case(
        "numeric status",
        "delta statuses",
        kwargs=DELTA,
        record=account(99, "numeric.com", 1),
        rejected="unknown_status",
    ),
    Case(
        "status in odd case and blanks",
        "delta statuses",
        kwargs=DELTA,
        record=account(99, "odd.com", " Realized "),
        accepted="odd.com",
    ),
    # --- files ---
    Case(
        "missing file",
        "files",
        kwargs={"accounts": "/nonexistent/accounts.jsonl"},
        error="file not found",
        field="accounts",
    ),
    Case("empty path", "files", kwargs={"accounts": " "}, error="the file path is empty", field="accounts"),
    Case(
        "JSON text instead of a path",
        "files",
        kwargs={"accounts": '[{"a": 1}]'},
        error="looks like JSON text",
        field="accounts",
    ),
    Case(
        "accounts is a dict",
        "files",
        kwargs={"accounts": {"a": 1}},
        error="expected a list of account records",
        field="accounts",
    ),
    Case(
        "accounts is a number",
        "files",
        kwargs={"accounts": 42},
        error="expected a list of account records",
        field="accounts",
    ),
    file_error("wrong extension", "accounts.txt", b"acme.com\n", "unsupported file type '.txt'"),
    file_error("no extension", "accounts", b"acme.com\n", "unsupported file type '(no extension)'"),
    file_error("directory", "accounts.jsonl", None, "not a regular file"),
    # One error for an empty file in every format, never suggesting allow_empty (a cut-short
    # export must not empty the list).
    file_error("empty JSON Lines file", "accounts.jsonl", b"", "accounts.jsonl: the file is empty (0 bytes)"),
    file_error("empty CSV file", "accounts.csv", b"", "accounts.csv: the file is empty (0 bytes)"),
    file_error("empty JSON file", "accounts.json", b"", "accounts.json: the file is empty (0 bytes)"),
    file_error("blank JSON Lines file", "accounts.jsonl", b"\n \n", "accounts.jsonl: the file is empty"),
    file_error(
        "CSV without the domain column",
        "accounts.csv",
        b"xdm:accountKey.sourceKey,website\npid-1,acme.com\n",
        "lacks the required column(s) 'xdm:accountOrganization.domain'",
    ),
    file_error(
        "CSV column twice", "accounts.csv", CSV_HEADER.rstrip(b"\n") + b",accountKey.sourceKey\n", "more than once"
    ),
    file_error("CSV unclosed quote", "accounts.csv", CSV_HEADER + b'pid-1,"acme.com\n', "not valid CSV"),
    file_error("CSV not UTF-8", "accounts.csv", CSV_HEADER + b"pid-1,caf\xe9.com\n", "line 2: not valid UTF-8"),
    file_error(
        "invalid JSON line",
        "accounts.jsonl",
        json.dumps(account(1, "acme.com")).encode() + b"\n{not json}\n",
        "line 2: not valid JSON",
    ),
    file_error(
        "JSON Lines not UTF-8",
        "accounts.jsonl",
        b'{"accountOrganization": {"domain": "caf\xe9.com"}}\n',
        "line 1: not valid UTF-8",
    ),
    file_error(
        "very long line",
        "accounts.jsonl",
        b'{"x": "' + b"a" * (1024 * 1024 + 10) + b'"}\n',
        "longer than 1048576 bytes",
    ),
    file_error("invalid JSON file", "accounts.json", b'[{"a": 1},', "not valid JSON"),
    file_error("JSON file not an array", "accounts.json", b'{"accounts": []}', "does not hold a JSON array"),
    file_error("JSON Lines of arrays", "accounts.jsonl", b'["pid-1", "acme.com"]\n', "1 of 1 records rejected"),
    # --- too many rejections ---
    Case(
        "every record rejected",
        "rejection ratio",
        kwargs={"accounts": [account(1, "sales@acme.com"), account(2, "10.0.0.1")]},
        error="2 of 2 records rejected",
        field="accounts",
    ),
    Case(
        "every delta status unknown",
        "rejection ratio",
        kwargs={"sync_mode": "delta", "accounts": [account(1, "acme.com", "paused")]},
        error="1 of 1 records rejected",
        field="accounts",
    ),
    Case(
        "rejections above max_rejected_ratio=0",
        "rejection ratio",
        kwargs={"max_rejected_ratio": 0.0},
        domain="localhost",
        error="1 of 10 records rejected",
        field="accounts",
    ),
]


def good_records(sync_mode: str) -> list[dict]:
    status = "realized" if sync_mode == "delta" else MISSING
    return [account(index, domain, status) for index, domain in enumerate(GOOD)]


def build_accounts(case: Case, tmp_path, sync_mode: str) -> Any:
    if case.file is not None:
        name, content = case.file
        path = tmp_path / name
        if content is None:
            path.mkdir()
        else:
            path.write_bytes(content)
        return str(path)
    if case.domain is not MISSING:
        status = "realized" if sync_mode == "delta" else MISSING
        return [account(99, case.domain, status), *good_records(sync_mode)]
    if case.record is not MISSING:
        return [case.record, *good_records(sync_mode)]
    return good_records(sync_mode)


def execute(case: Case, tmp_path) -> tuple[str, Any]:
    """Build and execute the operator; return ("result", xcom) or (phase, the exception)."""
    kwargs = {
        "task_id": "activate",
        "dataflow_id": "bad_inputs.activate",
        "audience_name": NAME,
        "mappings": MAPPINGS,
        "max_rejected_ratio": 0.2,
        "poll_interval": 0.05,
        **case.kwargs,
    }
    kwargs.setdefault("accounts", build_accounts(case, tmp_path, kwargs.get("sync_mode", "mirror")))
    try:
        operator = BomboraActivateAudienceOperator(**kwargs)
    except BomboraValidationError as error:
        return "parse", error
    when = pendulum.datetime(2026, 11, 27, tz="UTC")
    try:
        return "result", operator.execute({"logical_date": when, "data_interval_end": when})
    except AirflowFailException as failure:  # bad input fails without spending the task's retries
        failed = failure
    assert isinstance(failed.__cause__, BomboraValidationError), repr(failed)
    return "execute", failed.__cause__


def test_the_catalogue_has_at_least_40_cases_with_unique_ids():
    assert len(CASES) >= 40
    assert len({case.id for case in CASES}) == len(CASES)
    for case in CASES:
        assert sum(x is not None for x in (case.error, case.rejected, case.normalised, case.accepted)) == 1, case.id


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input(sandbox, tmp_path, case):
    outcome, value = execute(case, tmp_path)
    log = sandbox.request_log()
    assert NEVER_EXPORTED not in json.dumps(log), "a primary identity reached Bombora"

    if case.error is not None:
        assert outcome in ("parse", "execute"), f"expected an error, the task returned {value}"
        assert re.search(re.escape(case.error), str(value)), str(value)
        assert value.field == case.field
        assert NEVER_EXPORTED not in str(value)
        assert log == [], "a request was sent although validation failed"
        return

    assert outcome == "result", f"{outcome}: {value}"
    assert_no_duplicate_identifiers(log)
    sent = uploaded(log)
    assert sum(len(identifiers(entry)) for entry in account_writes(log)) == len(sent)  # each domain once
    assert not [e for e in log if e["path"].endswith("/delete-accounts")]
    if case.rejected is not None:
        assert value["rejected_by_reason"] == {case.rejected: 1}
        assert value["rejected_sample"][0]["reason"] == case.rejected
        assert sent == set(GOOD)
    else:
        assert value["rejected"] == 0
        assert sent == {*GOOD, case.normalised or case.accepted}
    assert sorted(the_list_domains(sandbox)) == sorted(sent)


def test_www_is_kept_when_it_is_the_registrable_label(sandbox, tmp_path):
    outcome, value = execute(Case("www.com", "domains", domain="www.com", normalised="www.com"), tmp_path)
    assert outcome == "result", value
    assert value["rejected"] == 0
    assert uploaded(sandbox.request_log()) == {*GOOD, "www.com"}


def the_list_domains(sandbox) -> list[str]:
    (account_list,) = sandbox.account_lists()
    return account_list["domains"]
