"""The intent data file's format and rows (intent_files) and the request's checks (intent_parameters)."""

from __future__ import annotations

import csv
import gzip
import io
import json

import pytest

from airflow_provider_bombora.exceptions import BomboraValidationError
from airflow_provider_bombora.intent_files import FileFormat, RowWriter, csv_columns, destination_format
from airflow_provider_bombora.intent_parameters import (
    destination_url_uri,
    validate_attributes,
    validate_filter,
    validate_page_size,
    validate_source,
)

PAGE = [
    {"domain": "acme.com", "score": 91, "scoreLabel": "Strong"},
    {"domain": "globex.io", "score": 62, "scoreLabel": "Medium"},
]
DAY = "2026-11-27"


def written(file_format: FileFormat, pages, attributes=None) -> bytes:
    stream = io.BytesIO()
    writer = RowWriter(stream, file_format, attributes, DAY)
    for page in pages:
        writer.write_page(page)
    writer.finish()
    assert not stream.closed
    return stream.getvalue()


@pytest.mark.parametrize(
    ("name", "kind", "compressed"),
    [
        ("surge.jsonl", "jsonl", False),
        ("surge.JSONL.GZ", "jsonl", True),
        ("part.2026-11-27.csv", "csv", False),
        ("surge.csv.gz", "csv", True),
    ],
)
def test_the_format_comes_from_the_name(name, kind, compressed):
    assert destination_format(name) == FileFormat(kind, compressed)


@pytest.mark.parametrize("name", ["surge.json", "surge.ndjson", "surge.csv.bz2", "surge.gz", ".jsonl", "surge"])
def test_other_names_are_refused_naming_the_endings(name):
    with pytest.raises(BomboraValidationError, match=r"\.jsonl, \.jsonl\.gz, \.csv, \.csv\.gz") as info:
        destination_format(name)
    assert info.value.field == "destination"


def test_json_lines_are_the_rows_as_returned_plus_the_snapshot_date():
    data = written(FileFormat("jsonl", False), [PAGE, [], [{"domain": "initech.com", "score": 60}]])
    assert [json.loads(line) for line in data.decode().splitlines()] == [
        {**PAGE[0], "snapshotDate": DAY},
        {**PAGE[1], "snapshotDate": DAY},
        {"domain": "initech.com", "score": 60, "snapshotDate": DAY},
    ]
    assert data.endswith(b"\n")


def test_json_lines_keep_nested_objects_and_non_ascii_text():
    row = {"domain": "münchen.de", "company": {"hq": {"city": "München"}}, "areasOfInterest": ["Intent Data"]}
    data = written(FileFormat("jsonl", False), [[row]])
    assert json.loads(data) == {**row, "snapshotDate": DAY}
    assert "München".encode() in data


def test_no_rows_is_an_empty_json_lines_file():
    assert written(FileFormat("jsonl", False), []) == b""


def test_gzip_holds_the_same_bytes_and_the_same_rows_give_the_same_file():
    plain = written(FileFormat("jsonl", False), [PAGE])
    compressed = written(FileFormat("jsonl", True), [PAGE])
    assert gzip.decompress(compressed) == plain
    assert written(FileFormat("jsonl", True), [PAGE]) == compressed  # no name, no time in the header


def test_an_empty_gzip_file_is_still_a_whole_gzip_stream():
    assert gzip.decompress(written(FileFormat("csv", True), [])) == b"domain,score,scoreLabel,snapshotDate\n"


def test_csv_has_the_default_columns_and_the_snapshot_date():
    rows = list(csv.reader(io.StringIO(written(FileFormat("csv", False), [PAGE]).decode())))
    assert rows == [
        ["domain", "score", "scoreLabel", "snapshotDate"],
        ["acme.com", "91", "Strong", DAY],
        ["globex.io", "62", "Medium", DAY],
    ]


def test_csv_columns_are_the_attributes_domain_first():
    assert csv_columns(["score", "topic", "domain", "score"]) == ["domain", "score", "topic", "snapshotDate"]
    assert csv_columns(None) == ["domain", "score", "scoreLabel", "snapshotDate"]


def test_csv_reads_dotted_attributes_and_writes_objects_as_json():
    row = {
        "domain": "acme.com",
        "company": {"size": "Large", "hq": {"country": "US", "address2": None}},
        "areasOfInterest": ["Intent Data", "Customer Data Platform"],
    }
    attributes = ["company.size", "company.hq.address2", "company.hq", "areasOfInterest", "topicsCount"]
    data = written(FileFormat("csv", False), [[row]], attributes)
    assert list(csv.reader(io.StringIO(data.decode()))) == [
        ["domain", *attributes, "snapshotDate"],
        [
            "acme.com",
            "Large",
            "",
            '{"country":"US","address2":null}',
            '["Intent Data","Customer Data Platform"]',
            "",
            DAY,
        ],
    ]


def test_csv_quotes_what_needs_quoting():
    data = written(FileFormat("csv", False), [[{"domain": "acme.com", "score": 1, "scoreLabel": 'We, "Weak"'}]])
    assert list(csv.reader(io.StringIO(data.decode())))[1] == ["acme.com", "1", 'We, "Weak"', DAY]


# --- intent_parameters ---


@pytest.mark.parametrize("value", [1, 1000, 10_000])
def test_page_sizes_from_1_to_10000(value):
    assert validate_page_size(value) == value


@pytest.mark.parametrize("value", [0, -1, 10_001, 1.5, "100", True, None])
def test_other_page_sizes_are_refused(value):
    with pytest.raises(BomboraValidationError, match="from 1 to 10,000") as info:
        validate_page_size(value)
    assert info.value.field == "page_size"


@pytest.mark.parametrize(
    ("topics", "definition_id", "field", "says"),
    [
        (None, None, "topics", "got neither"),
        (["Intent Data"], "517134f7", "topics", "got both"),
        (None, "  ", "signal_definition_id", "must be a signal definition's id"),
        (None, 42, "signal_definition_id", "must be a signal definition's id"),
    ],
)
def test_exactly_one_of_topics_and_a_signal_definition(topics, definition_id, field, says):
    with pytest.raises(BomboraValidationError, match=says) as info:
        validate_source(topics, definition_id)
    assert info.value.field == field


def test_attributes_are_none_or_names():
    assert validate_attributes(None) is None
    assert validate_attributes([]) is None
    assert validate_attributes([" domain", "company.size"]) == ["domain", "company.size"]
    for bad in ("domain", ["domain", ""], [3]):
        with pytest.raises(BomboraValidationError):
            validate_attributes(bad)


def test_a_filter_is_none_or_an_object():
    validate_filter(None)
    validate_filter({"a": "domain", "neq": "*.edu"})
    with pytest.raises(BomboraValidationError, match="filter object") as info:
        validate_filter([{"a": "domain"}])
    assert info.value.field == "filter"


@pytest.mark.parametrize(
    ("url", "uri"),
    [
        ("s3://intent/bombora/2026-11-27/surge.jsonl.gz", "s3://intent/bombora/2026-11-27/surge.jsonl.gz"),
        ("s3://aws_intent@intent/surge.csv", "s3://intent/surge.csv"),
        ("file:///data/intent/surge.csv", "file:///data/intent/surge.csv"),
        ("/data/intent/surge.jsonl", "file:///data/intent/surge.jsonl"),
        ("memory://bucket/surge.jsonl", "memory://bucket/surge.jsonl"),
    ],
)
def test_the_asset_uri_of_a_destination_url(url, uri):
    assert destination_url_uri(url) == uri


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("s3://intent/surge.parquet", "must end with"),
        ("s3://intent/folder/", "must end with"),
        ("data/surge.jsonl", "is relative"),
        ("", "must be an ObjectStoragePath or a URL"),
        (None, "must be an ObjectStoragePath or a URL"),
    ],
)
def test_a_destination_url_is_checked(url, says):
    with pytest.raises(BomboraValidationError, match=says) as info:
        destination_url_uri(url)
    assert info.value.field == "destination"
