"""Read account records from memory, from a file or from a byte stream, and pull fields out of them.

A record is a dict, either nested (``{"accountOrganization": {"domain": "acme.com"}}``) or
flat with dotted keys (``{"accountOrganization.domain": "acme.com"}``, also with an ``xdm:``
prefix). :func:`make_field_getter` resolves a source path against either shape.

:func:`iter_records` yields ``(position, record)`` pairs. ``position`` is the 1-based line
number for CSV and JSON Lines files (the CSV header is line 1) and the 0-based index for
lists, iterators and JSON arrays. Records are yielded whatever their type: a record that
is not a dict is the planner's to reject (reason ``not_an_object``), not a reason to stop.
A folder of part files in object storage names the file too: ``"part-00001.jsonl.gz:7"``
(line 7 of that file) or ``"part-00002.json[3]"`` (the fourth item of its array), see
:mod:`airflow_provider_bombora.sources`.

The parsers read a binary stream (:func:`iter_stream_records`): a local file, an object opened
through Airflow's object storage, or either of them decompressed (``.gz``, ``.bz2``, ``.zst``).
CSV and JSON Lines are streamed line by line, never read whole, and a line longer than
:data:`MAX_LINE_BYTES` is refused rather than buffered. A ``.json`` file (one array of
objects) is parsed whole: use JSON Lines for large audiences. Problems with the file itself
raise :class:`BomboraValidationError` for the ``accounts`` parameter, naming the file and line.

An empty file (0 bytes, or nothing but blank lines after a byte order mark) is an error in
every format, with the one message of :func:`empty_file_error`: it is what a failed or
truncated export leaves, and read as an empty audience it would empty the account list. A CSV
file with a header and no rows, or a JSON ``[]``, is not empty: it holds 0 records.

This module imports nothing from Airflow: a URL or an ``ObjectStoragePath`` given as
``accounts`` imports :mod:`airflow_provider_bombora.sources.object_storage`, and only then.
"""

from __future__ import annotations

import bz2
import contextlib
import csv
import gzip
import importlib
import io
import itertools
import json
import os
import re
import sys
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeAlias

from airflow_provider_bombora.exceptions import BomboraValidationError, shorten
from airflow_provider_bombora.mappings import strip_xdm_prefix

MAX_LINE_BYTES = 1024 * 1024
CSV_EXTENSION = ".csv"
JSON_LINES_EXTENSIONS = (".jsonl", ".ndjson")
JSON_EXTENSION = ".json"
#: The extensions of a local file (no compression: compressed files are read through a URL).
SUPPORTED_EXTENSIONS = (CSV_EXTENSION, *JSON_LINES_EXTENSIONS, JSON_EXTENSION)
#: The compressions of a stream, by the extension after the format's (``part-1.csv.gz``).
COMPRESSION_EXTENSIONS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd"}
#: Compressed bytes a zstd frame is given at a time.
ZSTD_INPUT_SIZE = 16 * 1024

CSV, JSON_LINES, JSON = "csv", "jsonl", "json"

#: A record's position: the line (or array index) in a single file or list, or ``"file:line"``
#: (``"file[index]"`` for a JSON array) in a folder of files.
Position: TypeAlias = int | str
FieldGetter = Callable[[Mapping], object]
#: What :func:`iter_records` yields.
NumberedRecords = Iterator[tuple[Position, object]]
#: Records numbered within one stream: lines, or indexes of a JSON array.
StreamRecords = Iterator[tuple[int, object]]

#: ``scheme://``: an object storage URL (``s3://``, ``gs://``, ``file:///``, ``memory://``...).
_URL_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


class ByteStream(Protocol):
    """What the parsers read: a binary file object (``open(path, "rb")``, ``ObjectStoragePath.open("rb")``)."""

    def read(self, size: int = -1, /) -> bytes: ...
    def readline(self, size: int = -1, /) -> bytes: ...
    def close(self) -> None: ...


def make_field_getter(source_path: str) -> FieldGetter:
    """A function returning the value at ``source_path`` in a record, or ``None`` when absent.

    ``"xdm:accountOrganization.domain"`` finds the flat keys ``accountOrganization.domain``
    and ``xdm:accountOrganization.domain``, else the nested ``accountOrganization`` →
    ``domain``. Keys are precomputed here because the getter runs once per record; other
    spellings of the prefix (``XDM: ...``) are only searched for when those lookups miss.
    """
    path = strip_xdm_prefix(source_path)
    prefixed_path = f"xdm:{path}"
    segments = path.split(".")
    first_segment, later_segments = segments[0], segments[1:]
    nested_segments = segments if later_segments else []

    def get_field(record: Mapping) -> object:
        value = record.get(path)
        if value is not None:
            return value
        value = record.get(prefixed_path)
        if value is not None:
            return value
        if nested_segments:
            value = _walk(record, nested_segments)
            if value is not None:
                return value
        return _find_with_prefix_spelling(record, path, first_segment, later_segments)

    return get_field


def _walk(node: object, segments: list[str]) -> object:
    for segment in segments:
        if not isinstance(node, dict):
            return None
        node = node.get(segment)
    return node


def _find_with_prefix_spelling(record: Mapping, path: str, first_segment: str, later_segments: list[str]) -> object:
    """The value under a key spelt with another ``xdm:`` prefix (``XDM: path``, ``xdm:first`` → rest)."""
    for key, value in record.items():
        if not isinstance(key, str) or ":" not in key:
            continue
        unprefixed_key = strip_xdm_prefix(key)
        if unprefixed_key == path:
            return value
        if later_segments and unprefixed_key == first_segment:
            return _walk(value, later_segments)
    return None


# --- what accounts is ------------------------------------------------------------------------


def iter_records(
    accounts: object, *, required_sources: Iterable[str] = (), conn_id: str | None = None
) -> NumberedRecords:
    """Yield ``(position, record)`` for each account in ``accounts``.

    ``accounts`` is a list, tuple or iterator of records; the local path (``str`` or
    ``os.PathLike``) of a ``.csv``, ``.jsonl``/``.ndjson`` or ``.json`` file; or an object
    storage URL (``s3://bucket/export/``, ``file:///data/accounts.csv.gz``: any scheme with
    ``://``) or an ``airflow.sdk.ObjectStoragePath``, read through Airflow's object storage
    with the connection ``conn_id`` (an ``ObjectStoragePath`` brings its own). An object is
    one file, compressed or not; a folder is one audience made of its files in name order
    (:mod:`airflow_provider_bombora.sources.object_storage`).

    A missing file, an unsupported extension, and a CSV header lacking one of
    ``required_sources`` (matched with or without ``xdm:``) are reported now, before the first
    record is read, and so is anything wrong with a ``.json`` file (it is parsed now), and an
    empty file of any format (:func:`empty_file_error`); problems further in a CSV or JSON Lines
    file are raised when the iteration reaches them. In a folder, each file is checked when the
    iteration reaches it.
    """
    if _is_object_storage_path(accounts) or (isinstance(accounts, str) and is_url(accounts)):
        # Imported here, not at the top: it imports Airflow.
        from airflow_provider_bombora.sources.object_storage import iter_object_records

        return iter_object_records(accounts, conn_id=conn_id, required_sources=required_sources)
    if conn_id is not None:
        what = "a local path" if isinstance(accounts, (str, os.PathLike)) else "records, not a URL"
        raise BomboraValidationError(
            "accounts_conn_id",
            f"{conn_id!r} is the connection of an object store, but accounts is {what}: give an object "
            "storage URL (s3://bucket/key, gs://..., file:///path) or leave the connection unset",
        )
    if isinstance(accounts, str):
        return _iter_file(_existing_file(accounts.strip(), accounts), required_sources)
    if isinstance(accounts, os.PathLike):
        return _iter_file(_existing_file(os.fspath(accounts), accounts), required_sources)
    if isinstance(accounts, (Mapping, bytes, bytearray)) or not isinstance(accounts, Iterable):
        raise BomboraValidationError(
            "accounts",
            f"expected a list of account records or the path of a {'/'.join(SUPPORTED_EXTENSIONS)} file, "
            f"got {type(accounts).__name__}",
        )
    return enumerate(accounts)


def is_url(text: str) -> bool:
    """Whether ``text`` starts with a scheme and ``://``: an object storage URL, not a local path."""
    return bool(_URL_PATTERN.match(text.strip()))


def _is_object_storage_path(accounts: object) -> bool:
    """Whether ``accounts`` is an ``airflow.sdk.ObjectStoragePath``, without importing Airflow:
    no such object exists before its module is imported."""
    module = sys.modules.get("airflow.sdk.io.path")
    return module is not None and isinstance(accounts, module.ObjectStoragePath)


def _existing_file(path_text: str | bytes, accounts: object) -> Path:
    if not path_text:
        raise BomboraValidationError("accounts", "the file path is empty; give the path of the accounts file")
    path = Path(os.fsdecode(path_text))
    if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
        hint = ""
        if isinstance(accounts, str) and accounts.lstrip()[:1] in ("[", "{"):
            hint = " (this looks like JSON text: pass the records as a list, not as a string)"
        raise BomboraValidationError(
            "accounts",
            f"{shorten(str(path))}: unsupported file type {path.suffix or '(no extension)'!r}; "
            f"use one of {', '.join(SUPPORTED_EXTENSIONS)}{hint}",
        )
    if not path.exists():
        raise BomboraValidationError(
            "accounts", f"{path}: file not found; check the path exists where the task runs (cwd {os.getcwd()})"
        )
    if not path.is_file():
        raise BomboraValidationError("accounts", f"{path}: not a regular file; give the path of the accounts file")
    return path


def _iter_file(path: Path, required_sources: Iterable[str]) -> NumberedRecords:
    file = path.open("rb")
    return iter_stream_records(file, str(path), required_sources=required_sources, size=os.fstat(file.fileno()).st_size)


# --- streams ------------------------------------------------------------------------------------


def stream_type(name: str) -> tuple[str, str | None] | None:
    """The format (``"csv"``, ``"jsonl"``, ``"json"``) and compression (``"gzip"``, ``"bz2"``,
    ``"zstd"``, ``None``) that the name's extensions give, or ``None`` for another type.

    ``part-1.csv.gz`` is gzipped CSV, ``x.NDJSON`` JSON Lines; the check ignores case.
    """
    lowered = name.lower()
    compression = None
    for extension, codec in COMPRESSION_EXTENSIONS.items():
        if lowered.endswith(extension):
            compression = codec
            lowered = lowered[: -len(extension)]
            break
    if lowered.endswith(CSV_EXTENSION):
        return CSV, compression
    if lowered.endswith(JSON_LINES_EXTENSIONS):
        return JSON_LINES, compression
    if lowered.endswith(JSON_EXTENSION):
        return JSON, compression
    return None


def stream_extensions() -> list[str]:
    """Every extension :func:`stream_type` knows: ``.csv``, ``.csv.gz``, ... ``.json.zst``."""
    return [f"{base}{compression}" for base in SUPPORTED_EXTENSIONS for compression in ("", *COMPRESSION_EXTENSIONS)]


def unsupported_stream_error(name: str, display: str | None = None) -> BomboraValidationError:
    """The error for a file whose extensions :func:`stream_type` does not know."""
    shown = shorten(display or name)
    suffixes = "".join(Path(name).suffixes[-2:]) or "(no extension)"
    return BomboraValidationError(
        "accounts",
        f"{shown}: unsupported file type {suffixes!r}; use one of {', '.join(SUPPORTED_EXTENSIONS)}, each "
        f"optionally compressed ({', '.join(COMPRESSION_EXTENSIONS)})",
    )


def iter_stream_records(
    stream: ByteStream,
    name: str,
    *,
    required_sources: Iterable[str] = (),
    size: int | None = None,
) -> StreamRecords:
    """Yield ``(position, record)`` for the records of one file read from ``stream``.

    The format and compression come from ``name``'s extensions (:func:`stream_type`);
    ``name`` is also how errors show the file (a path or URL), and ``size`` (its stored size,
    when known) is given in the empty-file error. Positions are lines (CSV, JSON Lines) or
    indexes (JSON), as for a local file. The checks that :func:`iter_records` makes when called
    (empty file, CSV header, the whole ``.json``) are made now; ``stream`` is closed when the
    iteration ends, or now when a check fails.
    """
    records = open_stream_records(stream, name, required_sources=required_sources)
    if records is None:
        raise empty_file_error(name, size=size, compression=_compression_of(name))
    return records


def open_stream_records(
    stream: ByteStream, name: str, *, required_sources: Iterable[str] = ()
) -> StreamRecords | None:
    """:func:`iter_stream_records`, but ``None`` for an empty file (which is then closed)."""
    kind = stream_type(name)
    if kind is None:
        stream.close()
        raise unsupported_stream_error(name)
    file_format, compression = kind
    try:
        decompressed = _decompress(stream, name, compression) if compression else stream
    except BaseException:
        stream.close()
        raise
    try:
        if file_format == CSV:
            records = _csv_records(decompressed, name, required_sources)
        elif file_format == JSON_LINES:
            records = _json_lines_records(decompressed, name)
        else:
            records = _json_array_records(decompressed, name)
    except BaseException:
        decompressed.close()
        raise
    if records is None:
        decompressed.close()
        return None
    return _closing(records, decompressed)


def _closing(records: StreamRecords, stream: ByteStream) -> StreamRecords:
    try:
        yield from records
    finally:
        stream.close()


def _compression_of(name: str) -> str | None:
    kind = stream_type(name)
    return kind[1] if kind else None


# --- decompression ------------------------------------------------------------------------------


class _Source:
    """The stream under a decompressor. It keeps the error that reading it raised: that one is
    the storage's (a network failure, worth a retry), not the data's, and passes unchanged."""

    def __init__(self, stream: ByteStream) -> None:
        self.stream = stream
        self.failure: BaseException | None = None
        self.bytes_read = 0

    def read(self, size: int = -1, /) -> bytes:
        try:
            data = self.stream.read(size)
        except BaseException as error:
            self.failure = error
            raise
        self.bytes_read += len(data)
        return data

    def seekable(self) -> bool:
        return False

    def seek(self, offset: int, whence: int = 0, /) -> int:
        raise io.UnsupportedOperation("the accounts stream is read once, from its start")

    def close(self) -> None:
        self.stream.close()


class _Decompressed:
    """A decompressed stream whose data errors (a truncated or corrupt stream) are
    :class:`BomboraValidationError` naming the file."""

    def __init__(
        self, stream: Any, source: _Source, name: str, compression: str, data_errors: tuple[type[BaseException], ...]
    ) -> None:
        self._stream = stream
        self._source = source
        self._name = name
        self._compression = compression
        self._data_errors = data_errors

    def read(self, size: int = -1, /) -> bytes:
        return self._call(self._stream.read, size)

    def readline(self, size: int = -1, /) -> bytes:
        return self._call(self._stream.readline, size)

    def _call(self, method: Callable[[int], bytes], size: int) -> bytes:
        try:
            return method(size)
        except self._data_errors as error:
            if error is self._source.failure:
                raise
            if isinstance(error, EOFError) and not self._source.bytes_read:
                return b""  # a file of 0 bytes: empty, whatever its compression (bz2 calls it truncated)
            raise corrupt_stream_error(self._name, self._compression, error) from None

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._source.close()


def corrupt_stream_error(name: str, compression: str, error: BaseException) -> BomboraValidationError:
    """The error for a compressed stream that ends early or holds something else."""
    return BomboraValidationError(
        "accounts",
        f"{name}: the {compression} stream is truncated or corrupt ({type(error).__name__}: {error}); "
        "the export may be incomplete. Nothing was sent; check the file.",
    )


def zstandard_module(name: str) -> Any:
    """The ``zstandard`` package, or the error saying to install it (``.zst`` files need it)."""
    try:
        return importlib.import_module("zstandard")
    except ImportError:
        raise BomboraValidationError(
            "accounts", f"{name}: reading .zst files needs the zstandard package: pip install zstandard"
        ) from None


def _decompress(stream: ByteStream, name: str, compression: str) -> _Decompressed:
    source = _Source(stream)
    data_errors: tuple[type[BaseException], ...] = (EOFError, OSError, zlib.error)
    decompressed: Any
    if compression == "gzip":
        decompressed = gzip.GzipFile(fileobj=source, mode="rb")
    elif compression == "bz2":
        decompressed = bz2.BZ2File(source, mode="rb")
    else:
        zstandard = zstandard_module(name)
        data_errors = (*data_errors, zstandard.ZstdError)
        decompressed = io.BufferedReader(_ZstdReader(source, zstandard))
    return _Decompressed(decompressed, source, name, compression, data_errors)


class _ZstdReader(io.RawIOBase):
    """A zstd stream decompressed frame after frame, which fails when the stream ends inside a frame.

    zstandard's own ``stream_reader`` reads a truncated stream as a shorter one without a word,
    so the frames are decoded here with ``decompressobj``, whose ``eof`` says a frame ended. The
    input goes in :data:`ZSTD_INPUT_SIZE` slices: what one slice decompresses to is held at once.
    """

    def __init__(self, source: _Source, zstandard: Any) -> None:
        super().__init__()
        self._source = source
        self._decompressor = zstandard.ZstdDecompressor()
        self._frame: Any = None  # the frame being decoded, None between frames
        self._output = b""
        self._output_offset = 0
        self._input = b""
        self._at_end = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._output_offset == len(self._output):
            if not self._decode_more():
                return 0
        count = min(len(buffer), len(self._output) - self._output_offset)
        buffer[:count] = self._output[self._output_offset : self._output_offset + count]
        self._output_offset += count
        return count

    def _decode_more(self) -> bool:
        """Decode the next slice of input into the output; ``False`` at the end of the stream."""
        if not self._input:
            if self._at_end:
                return False
            self._input = self._source.read(ZSTD_INPUT_SIZE * 4)
            if not self._input:
                self._at_end = True
                if self._frame is not None:
                    raise EOFError("the stream ended inside a zstd frame")
                return False
        if self._frame is None:
            self._frame = self._decompressor.decompressobj()
        data, self._input = self._input[:ZSTD_INPUT_SIZE], self._input[ZSTD_INPUT_SIZE:]
        self._output, self._output_offset = self._frame.decompress(data), 0
        if self._frame.eof:  # the frame ended: what follows it is the next frame
            self._input = self._frame.unused_data + self._input
            self._frame = None
        return True


# --- errors -----------------------------------------------------------------------------------


def empty_file_error(
    path: Path | str, *, size: int | None = None, compression: str | None = None
) -> BomboraValidationError:
    """The error for an accounts file with nothing in it, the same for every format.

    ``size`` is the file's size in bytes (found with ``stat`` for a local ``Path`` when not
    given); ``compression`` says the blank content is what decompressing it gave.
    It never suggests ``allow_empty``: a file that is empty by accident (an export that failed
    or was cut short) must not be read as an empty audience, which would empty the list.
    """
    if size is None and isinstance(path, Path):
        try:
            size = path.stat().st_size
        except OSError:
            size = None
    if size == 0:
        what = "0 bytes"
    elif compression is not None:
        stored = f"{size} bytes of {compression}" if size is not None else compression
        what = f"{stored}, nothing but blank lines once decompressed"
    elif size is None:
        what = "nothing but blank lines"
    else:
        what = f"{size} bytes, nothing but blank lines"
    return _file_error(
        path,
        None,
        f"the file is empty ({what}): an export that failed or was cut short? Nothing was sent; check the file.",
    )


def _is_blank(text: str) -> bool:
    return not text or text.isspace()


def _file_error(path: Path | str, line_number: int | None, problem: str) -> BomboraValidationError:
    where = f"{path}, line {line_number}" if line_number is not None else str(path)
    return BomboraValidationError("accounts", f"{where}: {problem}")


# --- parsers ------------------------------------------------------------------------------------


def _numbered_lines(file: ByteStream, name: str) -> Iterator[tuple[int, str]]:
    """The lines of ``file`` decoded from UTF-8 (a leading BOM dropped), numbered from 1.

    Lines are read as bytes and decoded one at a time so that a decoding error names its
    line, and read with a size limit so that a file without line breaks is never buffered whole.
    """
    readline = file.readline
    encoding = "utf-8-sig"  # only the first line may start with a byte order mark
    line_number = 0
    while True:
        raw_line = readline(MAX_LINE_BYTES + 1)
        if not raw_line:
            return
        line_number += 1
        if len(raw_line) > MAX_LINE_BYTES and not raw_line.endswith(b"\n"):
            raise _file_error(
                name,
                line_number,
                f"longer than {MAX_LINE_BYTES} bytes; put one account per line "
                "(a file with old Mac CR-only line endings needs converting to LF)",
            )
        try:
            line = raw_line.decode(encoding)
        except UnicodeDecodeError as error:
            raise _file_error(
                name, line_number, f"not valid UTF-8 (byte {error.start + 1} of the line); save the file as UTF-8"
            ) from None
        encoding = "utf-8"
        yield line_number, line


def _first_content_line(lines: Iterator[tuple[int, str]]) -> tuple[int, str] | None:
    """The first line with something else than blanks, the blank ones before it consumed; ``None``
    when there is none: the file is empty. Reads only up to that line, the first in any usable file."""
    for line_number, line in lines:
        if not _is_blank(line):
            return line_number, line
    return None


def _csv_records(stream: ByteStream, name: str, required_sources: Iterable[str]) -> StreamRecords | None:
    """The CSV's records after its header is checked now; ``None`` for an empty file."""
    lines = _numbered_lines(stream, name)
    first = _first_content_line(lines)
    if first is None:
        return None
    first_line_number, first_line = first
    # The blank lines before the header are not parsed: the reader's line numbers start after them.
    reader = csv.reader(_chain_line(first_line, lines), strict=True)
    rows = _csv_rows(reader, name, first_line_number - 1)
    try:
        header_line, raw_header = next(rows, (first_line_number, None))
    except BaseException:
        rows.close()
        raise
    if raw_header is None:  # cannot be, the first line not being blank; read as empty
        rows.close()
        return None
    try:
        header = _csv_header(name, header_line, raw_header, required_sources)
    except BaseException:
        rows.close()
        raise
    return _csv_dicts(rows, header)


def _chain_line(first_line: str, lines: Iterator[tuple[int, str]]) -> Iterator[str]:
    yield first_line
    for _, line in lines:
        yield line


def _csv_rows(reader: Any, name: str, line_offset: int) -> Generator[tuple[int, list[str]], None, None]:
    """Non-blank CSV rows with the line each ends on."""
    # strict: an unclosed quote is an error, not the rest of the file swallowed into one field
    try:
        for row in reader:
            if row:
                yield line_offset + reader.line_num, row
    except csv.Error as error:
        raise _file_error(name, line_offset + reader.line_num, f"not valid CSV ({error}); check the quoting") from None


def _csv_header(name: str, line_number: int, raw_header: list[str], required_sources: Iterable[str]) -> list[str]:
    """The CSV's column names without ``xdm:`` prefixes, after checking the required ones are there."""
    header = [strip_xdm_prefix(column) for column in raw_header]
    duplicates = sorted({column for column in header if header.count(column) > 1})
    if duplicates:
        names = ", ".join(map(repr, duplicates))
        raise _file_error(name, line_number, f"the header names {names} more than once; keep one column each")
    missing = [source for source in required_sources if strip_xdm_prefix(source) not in header]
    if missing:
        raise _file_error(
            name,
            line_number,
            f"the header lacks the required column(s) {', '.join(map(repr, missing))} (with or without "
            f"'xdm:'); columns found: {', '.join(map(repr, raw_header))}",
        )
    return header


def _csv_dicts(rows: Generator[tuple[int, list[str]], None, None], header: list[str]) -> StreamRecords:
    with contextlib.closing(rows):
        for line_number, row in rows:
            yield line_number, dict(zip(header, row, strict=False))  # a short or long row: the columns both have


def _json_lines_records(stream: ByteStream, name: str) -> StreamRecords | None:
    """The records of a JSON Lines file, one per non-blank line; ``None`` for an empty file."""
    lines = _numbered_lines(stream, name)
    first = _first_content_line(lines)
    if first is None:
        return None
    return _json_lines(itertools.chain((first,), lines), name)


def _json_lines(lines: Iterator[tuple[int, str]], name: str) -> StreamRecords:
    # raw_decode parses a line that starts with its value in half the time json.loads takes
    # (no whitespace regexes around it). It stops after the value: the rest of the line must
    # be blank, else json.loads parses the line again to report what is wrong.
    decode = json.JSONDecoder().raw_decode
    for line_number, line in lines:
        if line.isspace():
            continue
        try:
            record, end = decode(line)
            is_whole_line = end == len(line) or line[end:].isspace()
        except json.JSONDecodeError:
            is_whole_line = False
        if not is_whole_line:
            record = _parse_json_line(name, line_number, line)
        yield line_number, record


def _parse_json_line(name: str, line_number: int, line: str) -> object:
    """The value on a line that may have blanks before it, or the error saying what is wrong."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        problem = f"not valid JSON ({error.msg} at column {error.colno}); write one JSON object per line"
        raise _file_error(name, line_number, problem) from None


def _json_array_records(stream: ByteStream, name: str) -> StreamRecords | None:
    """The items of the file's JSON array, parsed now (the file is read whole); ``None`` when empty."""
    raw = stream.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line_number = raw.count(b"\n", 0, error.start) + 1
        raise _file_error(name, line_number, "not valid UTF-8; save the file as UTF-8") from None
    del raw
    if _is_blank(text):
        return None
    try:
        records = json.loads(text)
    except json.JSONDecodeError as error:
        raise _file_error(name, error.lineno, f"not valid JSON ({error.msg} at column {error.colno})") from None
    if not isinstance(records, list):
        raise _file_error(
            name,
            None,
            "does not hold a JSON array; write the accounts as [{...}, {...}] or use a .jsonl file",
        )
    return enumerate(records)
