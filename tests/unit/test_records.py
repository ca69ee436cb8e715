"""Reading account records (lists, CSV, JSON Lines, JSON) and extracting fields from them."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from airflow_provider_bombora.exceptions import BomboraValidationError
from airflow_provider_bombora.records import iter_records, make_field_getter
from airflow_provider_bombora.sources import streams as streams_module
from airflow_provider_bombora.sources.streams import SUPPORTED_EXTENSIONS, empty_file_error

DOMAIN_SOURCE = "xdm:accountOrganization.domain"
PRIMARY_ID_SOURCE = "xdm:accountKey.sourceKey"


# --- make_field_getter ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "record", "expected"),
    [
        (DOMAIN_SOURCE, {"accountOrganization": {"domain": "acme.com"}}, "acme.com"),
        (DOMAIN_SOURCE, {"accountOrganization.domain": "acme.com"}, "acme.com"),
        (DOMAIN_SOURCE, {"xdm:accountOrganization.domain": "acme.com"}, "acme.com"),
        (DOMAIN_SOURCE, {"XDM: accountOrganization.domain": "acme.com"}, "acme.com"),
        (DOMAIN_SOURCE, {"xdm:accountOrganization": {"domain": "acme.com"}}, "acme.com"),
        ("accountOrganization.domain", {"xdm:accountOrganization.domain": "acme.com"}, "acme.com"),
        ("XDM: accountOrganization.domain", {"accountOrganization": {"domain": "acme.com"}}, "acme.com"),
        (PRIMARY_ID_SOURCE, {"accountKey": {"sourceKey": 42}}, 42),
        ("xdm:a.b.c", {"a": {"b": {"c": "deep"}}}, "deep"),
        ("status", {"status": "realized"}, "realized"),
        ("xdm:status", {"xdm:status": "exited"}, "exited"),
        # A None under the flat key does not hide the nested value.
        (
            DOMAIN_SOURCE,
            {"accountOrganization.domain": None, "accountOrganization": {"domain": "acme.com"}},
            "acme.com",
        ),
        # Missing in every shape.
        (DOMAIN_SOURCE, {}, None),
        (DOMAIN_SOURCE, {"accountOrganization": {}}, None),
        (DOMAIN_SOURCE, {"accountOrganization": "acme.com"}, None),
        (DOMAIN_SOURCE, {"accountOrganization": ["acme.com"]}, None),
        (DOMAIN_SOURCE, {"accountorganization.domain": "acme.com"}, None),
        (DOMAIN_SOURCE, {"other:accountOrganization.domain": "acme.com"}, None),
        ("status", {"accountOrganization": {"status": "realized"}}, None),
        ("xdm:a.b.c", {"a": {"b": "not a dict"}}, None),
    ],
)
def test_field_getter(source, record, expected):
    assert make_field_getter(source)(record) == expected


# --- iter_records on in-memory accounts --------------------------------------------------------


@pytest.mark.parametrize("container", [list, tuple, iter])
def test_in_memory_records_are_numbered_from_zero(container):
    accounts = [{"a": 1}, "not a dict", {"a": 3}]
    assert list(iter_records(container(accounts))) == [(0, {"a": 1}), (1, "not a dict"), (2, {"a": 3})]


def test_an_iterator_is_consumed_lazily():
    consumed = []

    def generate():
        for index in range(3):
            consumed.append(index)
            yield {"n": index}

    numbered = iter_records(generate())
    assert next(numbered) == (0, {"n": 0})
    assert consumed == [0]


@pytest.mark.parametrize(
    ("accounts", "fragment"),
    [
        ({"accountOrganization.domain": "acme.com"}, "got dict"),
        (42, "got int"),
        (None, "got NoneType"),
        (b"accounts.csv", "got bytes"),
        ("", "path is empty"),
        ("   ", "path is empty"),
    ],
)
def test_unusable_accounts_are_refused(accounts, fragment):
    with pytest.raises(BomboraValidationError, match=fragment) as excinfo:
        iter_records(accounts)
    assert excinfo.value.field == "accounts"


# --- files: shared checks ------------------------------------------------------------------


def test_missing_file_is_reported_when_called(tmp_path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(BomboraValidationError, match=r"nope\.csv: file not found"):
        iter_records(str(missing))


def test_directory_is_refused(tmp_path):
    folder = tmp_path / "accounts.jsonl"
    folder.mkdir()
    with pytest.raises(BomboraValidationError, match="not a regular file"):
        iter_records(folder)


@pytest.mark.parametrize("name", ["accounts.txt", "accounts.xlsx", "accounts", "accounts.csv.gz"])
def test_unsupported_extension_lists_the_supported_ones(tmp_path, name):
    path = tmp_path / name
    path.write_text("x")
    with pytest.raises(BomboraValidationError) as excinfo:
        iter_records(path)
    for extension in SUPPORTED_EXTENSIONS:
        assert extension in str(excinfo.value)


def test_json_text_given_as_accounts_gets_a_hint():
    with pytest.raises(BomboraValidationError, match="pass the records as a list"):
        iter_records('[{"accountOrganization": {"domain": "acme.com"}}]')


def test_path_string_is_trimmed_and_extension_is_case_insensitive(tmp_path):
    path = tmp_path / "ACCOUNTS.CSV"
    path.write_text("domain\nacme.com\n")
    assert list(iter_records(f"  {path}\n")) == [(2, {"domain": "acme.com"})]


# --- CSV ----------------------------------------------------------------------------------------


def write_bytes(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            b"xdm:accountKey.sourceKey,xdm:accountOrganization.domain\nk1,acme.com\nk2,beta.io\n",
            [(2, {"accountKey.sourceKey": "k1", "accountOrganization.domain": "acme.com"}),
             (3, {"accountKey.sourceKey": "k2", "accountOrganization.domain": "beta.io"})],
        ),
        (
            b"\xef\xbb\xbfaccountKey.sourceKey,XDM: accountOrganization.domain\r\nk1,acme.com\r\n",
            [(2, {"accountKey.sourceKey": "k1", "accountOrganization.domain": "acme.com"})],
        ),
        (
            b'id,domain,name\n"k,1",acme.com,"Acme ""Corp"""\n\nk2,b\xc3\xbccher.example,\n',
            [(2, {"id": "k,1", "domain": "acme.com", "name": 'Acme "Corp"'}),
             (4, {"id": "k2", "domain": "bücher.example", "name": ""})],
        ),
        (
            b'id,note\nk1,"two\nlines"\nk2,x\n',
            [(3, {"id": "k1", "note": "two\nlines"}), (4, {"id": "k2", "note": "x"})],
        ),
        (b"id,domain\nk1\n", [(2, {"id": "k1"})]),
        (b"id,domain\n", []),
        (b"id,domain", []),
    ],
)
def test_csv_records(tmp_path, content, expected):
    path = write_bytes(tmp_path, "accounts.csv", content)
    assert list(iter_records(path)) == expected


def test_csv_rows_resolve_through_the_field_getter(tmp_path):
    path = write_bytes(tmp_path, "accounts.csv", b"XDM:accountOrganization.domain\nacme.com\n")
    ((_, record),) = iter_records(path)
    assert isinstance(record, dict)
    assert make_field_getter(DOMAIN_SOURCE)(record) == "acme.com"


@pytest.mark.parametrize(
    "header",
    [b"xdm:accountKey.sourceKey,xdm:accountOrganization.domain", b"accountOrganization.domain, accountKey.sourceKey"],
)
def test_csv_header_with_the_required_sources_is_accepted(tmp_path, header):
    path = write_bytes(tmp_path, "accounts.csv", header + b"\n")
    assert list(iter_records(path, required_sources=(PRIMARY_ID_SOURCE, DOMAIN_SOURCE))) == []


def test_csv_header_lacking_a_required_source_is_reported_when_called(tmp_path):
    path = write_bytes(tmp_path, "accounts.csv", b"accountKey.sourceKey,website\nk1,acme.com\n")
    with pytest.raises(BomboraValidationError) as excinfo:
        iter_records(path, required_sources=(PRIMARY_ID_SOURCE, DOMAIN_SOURCE))
    message = str(excinfo.value)
    assert "accounts.csv, line 1" in message
    assert repr(DOMAIN_SOURCE) in message
    assert repr(PRIMARY_ID_SOURCE) not in message
    assert "columns found: 'accountKey.sourceKey', 'website'" in message


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (b"domain,xdm:domain\n", ["line 1", "'domain' more than once"]),
    ],
)
def test_csv_header_problems_are_reported_when_called(tmp_path, content, fragments):
    path = write_bytes(tmp_path, "accounts.csv", content)
    with pytest.raises(BomboraValidationError) as excinfo:
        iter_records(path)
    for fragment in fragments:
        assert fragment in str(excinfo.value)


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (
            b"id,domain\nk1,acme.com\nk2,caf\xe9.com\n",
            ["accounts.csv, line 3", "not valid UTF-8", "save the file as UTF-8"],
        ),
        (b"id,domain\nk1,acme.com\nk2,\"acme.com\n", ["accounts.csv, line 3", "not valid CSV"]),
        (b'id,domain\nk1,"acme"x\n', ["accounts.csv, line 2", "not valid CSV"]),
    ],
)
def test_csv_problems_further_in_name_the_line(tmp_path, content, fragments):
    path = write_bytes(tmp_path, "accounts.csv", content)
    numbered = iter_records(path)
    with pytest.raises(BomboraValidationError) as excinfo:
        list(numbered)
    for fragment in fragments:
        assert fragment in str(excinfo.value)


def test_long_lines_are_refused_with_their_number(tmp_path, monkeypatch):
    monkeypatch.setattr(streams_module, "MAX_LINE_BYTES", 64)
    path = write_bytes(tmp_path, "accounts.jsonl", b'{"d": "acme.com"}\n{"d": "' + b"a" * 100 + b'"}\n')
    numbered = iter_records(path)
    assert next(numbered) == (1, {"d": "acme.com"})
    with pytest.raises(BomboraValidationError, match=r"accounts\.jsonl, line 2: longer than 64 bytes"):
        next(numbered)


def test_a_line_of_exactly_the_limit_is_accepted(tmp_path, monkeypatch):
    line = b'{"d": "' + b"a" * 20 + b'"}'
    monkeypatch.setattr(streams_module, "MAX_LINE_BYTES", len(line))
    path = write_bytes(tmp_path, "accounts.jsonl", line + b"\n" + line)
    assert [position for position, _ in iter_records(path)] == [1, 2]


# --- JSON Lines ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["accounts.jsonl", "accounts.ndjson", "accounts.JSONL"])
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"a": 1}\n{"a": 2}\n', [(1, {"a": 1}), (2, {"a": 2})]),
        (b'\xef\xbb\xbf{"a": 1}\r\n\r\n  \n{"a": 2}', [(1, {"a": 1}), (4, {"a": 2})]),
        (b'{"d": "b\xc3\xbccher.example"}\n', [(1, {"d": "bücher.example"})]),
        (b'{"a": 1}\n"acme.com"\n[1, 2]\nnull\n', [(1, {"a": 1}), (2, "acme.com"), (3, [1, 2]), (4, None)]),
        (b'  {"a": 1}  \n\t{"a": 2}\t\r\n{"a": 3}', [(1, {"a": 1}), (2, {"a": 2}), (3, {"a": 3})]),
        (b"\n\n{\"a\": 1}", [(3, {"a": 1})]),
    ],
)
def test_json_lines_records(tmp_path, name, content, expected):
    path = write_bytes(tmp_path, name, content)
    assert list(iter_records(path)) == expected


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (b'{"a": 1}\n{"a": 2}\n{"a": \n', ["accounts.jsonl, line 3", "not valid JSON", "one JSON object per line"]),
        (b'{"a": 1}\n{"a": 2} {"a": 3}\n', ["accounts.jsonl, line 2", "not valid JSON"]),
        (b'{"a": 1}\n{"d": "caf\xe9.com"}\n', ["accounts.jsonl, line 2", "not valid UTF-8"]),
    ],
)
def test_json_lines_problems_name_the_line_and_come_after_the_good_lines(tmp_path, content, fragments):
    path = write_bytes(tmp_path, "accounts.jsonl", content)
    numbered = iter_records(path)
    assert next(numbered) == (1, {"a": 1})
    with pytest.raises(BomboraValidationError) as excinfo:
        list(numbered)
    for fragment in fragments:
        assert fragment in str(excinfo.value)


# --- JSON array ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'[{"a": 1}, {"a": 2}]', [(0, {"a": 1}), (1, {"a": 2})]),
        (b'\xef\xbb\xbf[\n{"a": 1},\n"acme.com"\n]\n', [(0, {"a": 1}), (1, "acme.com")]),
        (b"[]", []),
    ],
)
def test_json_array_records(tmp_path, content, expected):
    path = write_bytes(tmp_path, "accounts.json", content)
    assert list(iter_records(path)) == expected


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (b'{"accounts": []}', ["accounts.json: does not hold a JSON array", ".jsonl"]),
        (b'[\n{"a": 1},\n{"a": }\n]', ["accounts.json, line 3", "not valid JSON"]),
        (b'[\n{"a": 1},\n{"d": "caf\xe9"}\n]', ["accounts.json, line 3", "not valid UTF-8"]),
    ],
)
def test_json_array_problems(tmp_path, content, fragments):
    path = write_bytes(tmp_path, "accounts.json", content)
    with pytest.raises(BomboraValidationError) as excinfo:
        list(iter_records(path))
    for fragment in fragments:
        assert fragment in str(excinfo.value)


# --- empty files ------------------------------------------------------------------------------

EMPTY_CONTENTS = [b"", b"\n", b"\n\n\n", b" \t\r\n  \n", b"\xef\xbb\xbf", b"\xef\xbb\xbf\r\n \n", b"\x0c\x0b\n"]


@pytest.mark.parametrize("name", ["accounts.csv", "accounts.jsonl", "accounts.ndjson", "accounts.json"])
@pytest.mark.parametrize("content", EMPTY_CONTENTS)
def test_an_empty_file_is_the_same_error_in_every_format(tmp_path, name, content):
    path = write_bytes(tmp_path, name, content)
    with pytest.raises(BomboraValidationError) as excinfo:
        list(iter_records(path, required_sources=(PRIMARY_ID_SOURCE, DOMAIN_SOURCE)))
    error = excinfo.value
    assert error.field == "accounts"
    assert str(error) == str(empty_file_error(path))
    message = str(error)
    assert f"{path}: the file is empty (" in message
    assert "Nothing was sent" in message
    assert "allow_empty" not in message
    if not content:
        assert "(0 bytes)" in message


@pytest.mark.parametrize("name", ["accounts.csv", "accounts.jsonl", "accounts.json"])
def test_an_empty_file_is_reported_when_iter_records_is_called(tmp_path, name):
    path = write_bytes(tmp_path, name, b"")
    with pytest.raises(BomboraValidationError, match="the file is empty"):
        iter_records(path)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("accounts.csv", b"accountKey.sourceKey,accountOrganization.domain\n"),
        ("accounts.csv", b"\xef\xbb\xbfaccountKey.sourceKey,accountOrganization.domain\r\n\r\n"),
        ("accounts.json", b"[]"),
        ("accounts.json", b"\xef\xbb\xbf [ ]\n"),
    ],
)
def test_a_file_with_no_records_but_some_content_is_not_empty(tmp_path, name, content):
    path = write_bytes(tmp_path, name, content)
    assert list(iter_records(path, required_sources=(PRIMARY_ID_SOURCE, DOMAIN_SOURCE))) == []


def test_the_empty_file_message():
    path = Path("/data/exports/x.jsonl")  # need not exist: the size is then not given
    assert str(empty_file_error(path)) == (
        "accounts: /data/exports/x.jsonl: the file is empty (nothing but blank lines): an export that failed "
        "or was cut short? Nothing was sent; check the file."
    )


def test_a_long_unsupported_path_is_shortened_in_the_message(tmp_path):
    with pytest.raises(BomboraValidationError) as excinfo:
        iter_records("/" + "d" * 1000 + ".txt")
    assert "d" * 1000 not in str(excinfo.value)
    assert "…: unsupported file type '.txt'" in str(excinfo.value)


# --- streaming -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["accounts.csv", "accounts.jsonl"])
def test_files_are_streamed_not_read_whole(tmp_path, name):
    count = 100_000  # a few megabytes
    path = tmp_path / name
    with path.open("w", encoding="utf-8") as file:
        if name.endswith(".csv"):
            file.write("accountKey.sourceKey,accountOrganization.domain\n")
            file.writelines(f"k{n},company{n}.com\n" for n in range(count))
        else:
            file.writelines(
                json.dumps({"accountKey": {"sourceKey": f"k{n}"}, "accountOrganization": {"domain": f"company{n}.com"}})
                + "\n"
                for n in range(count)
            )
    assert path.stat().st_size > 2_000_000

    tracemalloc.start()
    try:
        numbered = iter_records(path)
        first_position, first_record = next(numbered)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert first_position in (1, 2)
    assert isinstance(first_record, dict)
    assert make_field_getter(DOMAIN_SOURCE)(first_record) == "company0.com"
    assert peak < 200_000, f"reading one record allocated {peak} bytes"

    assert sum(1 for _ in numbered) == count - 1
