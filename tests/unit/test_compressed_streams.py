"""Records parsed from binary streams (sources.streams.iter_stream_records): plain, gzip, bz2 and zstd
streams of CSV, JSON Lines and JSON, and what a truncated, corrupt or empty stream raises.

No file, no Airflow: every stream is a BytesIO (or a wrapper of one that fails on purpose).
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import sys
import tracemalloc

import pytest

from airflow_provider_bombora.exceptions import BomboraValidationError
from airflow_provider_bombora.records import make_field_getter
from airflow_provider_bombora.sources import streams as streams_module
from airflow_provider_bombora.sources.streams import (
    empty_file_error,
    iter_stream_records,
    open_stream_records,
    stream_extensions,
    stream_type,
)

DOMAIN_SOURCE = "xdm:accountOrganization.domain"
PRIMARY_ID_SOURCE = "xdm:accountKey.sourceKey"
REQUIRED = (PRIMARY_ID_SOURCE, DOMAIN_SOURCE)

CSV_CONTENT = b"xdm:accountKey.sourceKey,xdm:accountOrganization.domain\nk1,acme.com\n\nk2,b\xc3\xbccher.example\n"
CSV_RECORDS = [
    (2, {"accountKey.sourceKey": "k1", "accountOrganization.domain": "acme.com"}),
    (4, {"accountKey.sourceKey": "k2", "accountOrganization.domain": "bücher.example"}),
]
JSONL_CONTENT = b'{"a": 1}\n\n  \n{"a": 2}\n"not a dict"\n'
JSONL_RECORDS = [(1, {"a": 1}), (4, {"a": 2}), (5, "not a dict")]
JSON_CONTENT = b'\xef\xbb\xbf[\n{"a": 1},\n{"a": 2}\n]\n'
JSON_RECORDS = [(0, {"a": 1}), (1, {"a": 2})]

COMPRESSORS = {"": lambda data: data, ".gz": gzip.compress, ".bz2": bz2.compress}


class Stream(io.BytesIO):
    """A BytesIO that remembers it was closed (a closed BytesIO cannot be read to check)."""

    was_closed = False

    def close(self) -> None:
        self.was_closed = True
        super().close()


def stream(data: bytes) -> Stream:
    return Stream(data)


def read(data: bytes, name: str, **options) -> list:
    return list(iter_stream_records(stream(data), name, **options))


# --- formats and compressions ---------------------------------------------------------------------


@pytest.mark.parametrize("compression", list(COMPRESSORS))
@pytest.mark.parametrize(
    ("base", "content", "expected"),
    [
        ("accounts.csv", CSV_CONTENT, CSV_RECORDS),
        ("accounts.jsonl", JSONL_CONTENT, JSONL_RECORDS),
        ("accounts.ndjson", JSONL_CONTENT, JSONL_RECORDS),
        ("accounts.json", JSON_CONTENT, JSON_RECORDS),
    ],
)
def test_every_format_reads_the_same_plain_or_compressed(base, content, expected, compression):
    compress = COMPRESSORS[compression]
    assert read(compress(content), base + compression, required_sources=REQUIRED if base.endswith(".csv") else ()) == (
        expected
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("part-00000.csv", ("csv", None)),
        ("part-00000.csv.gz", ("csv", "gzip")),
        ("s3://bucket/x/PART-1.CSV.GZ", ("csv", "gzip")),
        ("a.jsonl.bz2", ("jsonl", "bz2")),
        ("a.ndjson.zst", ("jsonl", "zstd")),
        ("a.json.gz", ("json", "gzip")),
        ("a.json", ("json", None)),
        ("a.gz", None),
        ("a.csv.zip", None),
        ("a.parquet", None),
        ("a.txt.gz", None),
        ("_SUCCESS", None),
    ],
)
def test_the_type_comes_from_the_extensions(name, expected):
    assert stream_type(name) == expected


def test_every_extension_is_listed():
    extensions = stream_extensions()
    assert len(extensions) == 16
    assert {".csv", ".csv.gz", ".jsonl.bz2", ".ndjson.zst", ".json.gz"} <= set(extensions)
    assert all(stream_type(f"x{extension}") is not None for extension in extensions)


def test_an_unsupported_name_is_refused_with_the_types_that_are_read():
    source = stream(b"a,b\n")
    with pytest.raises(BomboraValidationError) as excinfo:
        iter_stream_records(source, "export/part-1.csv.zip")
    message = str(excinfo.value)
    assert excinfo.value.field == "accounts"
    assert "export/part-1.csv.zip: unsupported file type '.csv.zip'" in message
    assert ".csv, .jsonl, .ndjson, .json" in message and ".gz, .bz2, .zst" in message
    assert source.was_closed


def test_a_gzip_file_of_several_members_is_read_whole():
    data = gzip.compress(b'{"a": 1}\n') + gzip.compress(b'{"a": 2}\n')  # what `cat a.gz b.gz` gives
    assert read(data, "x.jsonl.gz") == [(1, {"a": 1}), (2, {"a": 2})]


def test_a_bz2_file_of_several_streams_is_read_whole():
    data = bz2.compress(b"id,domain\nk1,a.com\n") + bz2.compress(b"k2,b.com\n")
    assert read(data, "x.csv.bz2") == [(2, {"id": "k1", "domain": "a.com"}), (3, {"id": "k2", "domain": "b.com"})]


def test_blank_lines_before_a_csv_header_keep_the_line_numbers():
    data = gzip.compress(b"\n \nid,domain\nk1,a.com\n")
    assert read(data, "x.csv.gz") == [(4, {"id": "k1", "domain": "a.com"})]


# --- what the checks report, and when --------------------------------------------------------------


def test_a_csv_header_lacking_a_required_column_is_reported_when_called():
    source = stream(gzip.compress(b"accountKey.sourceKey,website\nk1,acme.com\n"))
    with pytest.raises(BomboraValidationError) as excinfo:
        iter_stream_records(source, "s3://b/part-3.csv.gz", required_sources=REQUIRED)
    message = str(excinfo.value)
    assert "s3://b/part-3.csv.gz, line 1: the header lacks the required column(s)" in message
    assert repr(DOMAIN_SOURCE) in message
    assert source.was_closed


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("x.jsonl.gz", b'{"a": 1}\n{"a": \n', "x.jsonl.gz, line 2: not valid JSON"),
        ("x.jsonl.bz2", b'{"a": 1}\n{"d": "caf\xe9"}\n', "x.jsonl.bz2, line 2: not valid UTF-8"),
        ("x.csv.gz", b'id,domain\nk1,"acme"x\n', "x.csv.gz, line 2: not valid CSV"),
    ],
)
def test_problems_in_a_decompressed_stream_name_the_file_and_line(name, content, fragment):
    data = gzip.compress(content) if name.endswith(".gz") else bz2.compress(content)
    numbered = iter_stream_records(stream(data), name)
    with pytest.raises(BomboraValidationError, match=fragment):
        list(numbered)


def test_a_json_file_that_is_no_array_is_reported_when_called():
    with pytest.raises(BomboraValidationError, match=r"x\.json\.gz: does not hold a JSON array"):
        iter_stream_records(stream(gzip.compress(b'{"a": 1}\n')), "x.json.gz")


def test_a_line_longer_than_the_limit_is_refused_in_a_compressed_stream(monkeypatch):
    monkeypatch.setattr(streams_module, "MAX_LINE_BYTES", 64)
    numbered = iter_stream_records(stream(gzip.compress(b'{"d": "a"}\n{"d": "' + b"a" * 100 + b'"}\n')), "x.jsonl.gz")
    assert next(numbered) == (1, {"d": "a"})
    with pytest.raises(BomboraValidationError, match=r"x\.jsonl\.gz, line 2: longer than 64 bytes"):
        next(numbered)


def test_the_stream_is_closed_when_the_records_end():
    source = stream(gzip.compress(JSONL_CONTENT))
    assert len(list(iter_stream_records(source, "x.jsonl.gz"))) == 3
    assert source.was_closed


# --- truncated and corrupt streams ----------------------------------------------------------------


def many_lines(count: int = 20_000) -> bytes:
    return b"".join(b'{"accountOrganization": {"domain": "company%d.com"}}\n' % n for n in range(count))


@pytest.mark.parametrize(
    ("name", "compress"),
    [("part-3.jsonl.gz", gzip.compress), ("part-3.jsonl.bz2", lambda data: bz2.compress(data, 1))],  # 100 kB blocks
)
def test_a_truncated_stream_is_an_error_naming_the_file_after_the_records_before_the_cut(name, compress):
    data = compress(many_lines())
    source = stream(data[: len(data) * 2 // 3])
    numbered = iter_stream_records(source, f"s3://exports/2026-11-27/{name}")
    assert next(numbered) == (1, {"accountOrganization": {"domain": "company0.com"}})
    with pytest.raises(BomboraValidationError) as excinfo:
        for _ in numbered:
            pass
    message = str(excinfo.value)
    codec = "gzip" if name.endswith(".gz") else "bz2"
    assert message.startswith(
        f"accounts: s3://exports/2026-11-27/{name}: the {codec} stream is truncated or corrupt (EOFError: "
    )
    assert "the export may be incomplete" in message
    assert source.was_closed


def test_a_gzip_stream_cut_in_its_first_block_is_reported_when_called():
    data = gzip.compress(b'{"a": 1}\n' * 10)
    expected = r"x\.jsonl\.gz: the gzip stream is truncated or corrupt \(EOFError"
    with pytest.raises(BomboraValidationError, match=expected):
        iter_stream_records(stream(data[:12]), "x.jsonl.gz")  # the header and 2 bytes: no line to read


@pytest.mark.parametrize(
    ("name", "data", "error_type"),
    [
        ("x.csv.gz", b"id,domain\nk1,acme.com\n", "BadGzipFile"),  # named .gz, not compressed
        ("x.csv.bz2", b"id,domain\nk1,acme.com\n", "OSError"),
        ("x.jsonl.gz", gzip.compress(b'{"a": 1}\n')[:-8] + b"\x00\x00\x00\x00\x09\x00\x00\x00", "BadGzipFile"),
    ],
)
def test_a_corrupt_stream_is_an_error_naming_the_file(name, data, error_type):
    with pytest.raises(BomboraValidationError) as excinfo:
        list(iter_stream_records(stream(data), name))
    assert f"{name}: the " in str(excinfo.value)
    assert f"stream is truncated or corrupt ({error_type}: " in str(excinfo.value)


class FailingSource(io.BytesIO):
    """A stream that fails after some bytes, as a connection to the store would."""

    def __init__(self, data: bytes, fail_after: int) -> None:
        super().__init__(data)
        self.fail_after = fail_after

    def read(self, size: int | None = -1, /) -> bytes:
        if self.tell() >= self.fail_after:
            raise ConnectionResetError("connection reset by the store")
        return super().read(size if size is not None and size >= 0 else self.fail_after - self.tell())


def test_a_failure_of_the_store_while_reading_is_raised_unchanged():
    """An OSError of the source is not the data's fault: it passes as it is (a retry may help)."""
    data = gzip.compress(many_lines())
    numbered = iter_stream_records(FailingSource(data, len(data) // 2), "x.jsonl.gz")
    with pytest.raises(ConnectionResetError, match="connection reset by the store"):
        list(numbered)


# --- empty streams -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["x.csv.gz", "x.jsonl.gz", "x.json.gz", "x.ndjson.bz2", "x.csv.bz2"])
@pytest.mark.parametrize("content", [b"", b"\n", b" \t\r\n  \n", b"\xef\xbb\xbf\r\n"])
def test_a_stream_empty_once_decompressed_is_the_empty_file_error(name, content):
    compression = "gzip" if name.endswith(".gz") else "bz2"
    data = gzip.compress(content) if compression == "gzip" else bz2.compress(content)
    with pytest.raises(BomboraValidationError) as excinfo:
        iter_stream_records(stream(data), name, required_sources=REQUIRED, size=len(data))
    assert str(excinfo.value) == str(empty_file_error(name, size=len(data), compression=compression))
    message = str(excinfo.value)
    what = f"{len(data)} bytes of {compression}, nothing but blank lines once decompressed"
    assert f"{name}: the file is empty ({what})" in message
    assert "Nothing was sent" in message
    assert "allow_empty" not in message


@pytest.mark.parametrize("name", ["x.csv.gz", "x.jsonl", "x.json.bz2", "x.ndjson.bz2"])
def test_a_stream_of_0_bytes_is_the_empty_file_error(name):
    with pytest.raises(BomboraValidationError, match=r"the file is empty \(0 bytes\)"):
        iter_stream_records(stream(b""), name, size=0)


def test_open_stream_records_gives_none_for_an_empty_stream_and_closes_it():
    source = stream(gzip.compress(b"\n\n"))
    assert open_stream_records(source, "x.jsonl.gz") is None
    assert source.was_closed


def test_the_compressed_empty_file_message():
    assert str(empty_file_error("s3://b/part-7.csv.gz", size=20, compression="gzip")) == (
        "accounts: s3://b/part-7.csv.gz: the file is empty (20 bytes of gzip, nothing but blank lines once "
        "decompressed): an export that failed or was cut short? Nothing was sent; check the file."
    )


def test_a_csv_header_alone_is_not_empty():
    header = gzip.compress(b"accountKey.sourceKey,accountOrganization.domain\n")
    assert read(header, "x.csv.gz", required_sources=REQUIRED) == []


# --- zstandard --------------------------------------------------------------------------------------


def test_zst_without_the_zstandard_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "zstandard", None)  # import zstandard now raises ImportError
    source = stream(b"(zstd bytes)")
    with pytest.raises(BomboraValidationError) as excinfo:
        iter_stream_records(source, "part-1.jsonl.zst")
    assert str(excinfo.value) == (
        "accounts: part-1.jsonl.zst: reading .zst files needs the zstandard package: pip install zstandard"
    )
    assert source.was_closed


def test_zst_streams_are_read_frame_after_frame():
    zstandard = pytest.importorskip("zstandard")
    compress = zstandard.ZstdCompressor().compress
    data = compress(many_lines(5000)) + compress(b'{"accountOrganization": {"domain": "last.com"}}\n')
    numbered = list(iter_stream_records(stream(data), "x.jsonl.zst"))
    assert len(numbered) == 5001
    assert numbered[-1] == (5001, {"accountOrganization": {"domain": "last.com"}})


def test_a_truncated_zst_stream_is_an_error():
    zstandard = pytest.importorskip("zstandard")
    data = zstandard.ZstdCompressor().compress(many_lines(5000))
    expected = r"x\.jsonl\.zst: the zstd stream is truncated or corrupt \(EOFError"
    with pytest.raises(BomboraValidationError, match=expected):
        list(iter_stream_records(stream(data[:-5]), "x.jsonl.zst"))


# --- streaming ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["accounts.csv.gz", "accounts.jsonl.gz", "accounts.jsonl.bz2"])
def test_compressed_streams_are_decompressed_as_they_are_read(name):
    count = 100_000
    if name.startswith("accounts.csv"):
        content = b"accountKey.sourceKey,accountOrganization.domain\n" + b"".join(
            b"k%d,company%d.com\n" % (n, n) for n in range(count)
        )
    else:
        content = b"".join(
            json.dumps({"accountKey": {"sourceKey": f"k{n}"}, "accountOrganization": {"domain": f"company{n}.com"}})
            .encode()
            + b"\n"
            for n in range(count)
        )
    assert len(content) > 2_000_000
    data = gzip.compress(content) if name.endswith(".gz") else bz2.compress(content)

    tracemalloc.start()
    try:
        numbered = iter_stream_records(stream(data), name)
        first_position, first_record = next(numbered)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert first_position in (1, 2)
    assert isinstance(first_record, dict)
    assert make_field_getter(DOMAIN_SOURCE)(first_record) == "company0.com"
    # the decompressor's buffers (bz2 decompresses 900 kB blocks), never the whole content
    # The decompressor's buffers and one line, as for a local file (tracemalloc sees Python's
    # allocations, not zlib's and libbz2's own: a bz2 block of 900 kB is not counted).
    assert peak < 200_000, f"reading one record allocated {peak} bytes of {len(content)}"
    assert sum(1 for _ in numbered) == count - 1
