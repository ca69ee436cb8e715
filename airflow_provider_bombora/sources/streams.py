"""Account records from a byte stream: the CSV, JSON Lines and JSON parsers, and decompression.

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

Pure module: no Airflow or HTTP import.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import json
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path
from typing import Any

from airflow_provider_bombora.exceptions import BomboraValidationError, shorten
from airflow_provider_bombora.mappings import strip_xdm_prefix
from airflow_provider_bombora.sources.compression import COMPRESSION_EXTENSIONS, ByteStream, decompress

MAX_LINE_BYTES = 1024 * 1024
CSV_EXTENSION = ".csv"
JSON_LINES_EXTENSIONS = (".jsonl", ".ndjson")
JSON_EXTENSION = ".json"
#: The extensions of a local file (no compression: compressed files are read through a URL).
SUPPORTED_EXTENSIONS = (CSV_EXTENSION, *JSON_LINES_EXTENSIONS, JSON_EXTENSION)

CSV, JSON_LINES, JSON = "csv", "jsonl", "json"

#: Records numbered within one stream: lines, or indexes of a JSON array.
StreamRecords = Iterator[tuple[int, object]]


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
        decompressed = decompress(stream, name, compression) if compression else stream
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
