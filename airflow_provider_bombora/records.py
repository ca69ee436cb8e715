"""Read account records from memory or from a file, and pull fields out of them.

A record is a dict, either nested (``{"accountOrganization": {"domain": "acme.com"}}``) or
flat with dotted keys (``{"accountOrganization.domain": "acme.com"}``, also with an ``xdm:``
prefix). :func:`make_field_getter` resolves a source path against either shape.

:func:`iter_records` yields ``(position, record)`` pairs. ``position`` is the 1-based line
number for CSV and JSON Lines files (the CSV header is line 1) and the 0-based index for
lists, iterators and JSON arrays. Records are yielded whatever their type: a record that
is not a dict is the planner's to reject (reason ``not_an_object``), not a reason to stop.

CSV and JSON Lines files are streamed line by line, never read whole, and a line longer
than :data:`MAX_LINE_BYTES` is refused rather than buffered. A ``.json`` file (one array of
objects) is parsed whole: use JSON Lines for large audiences. Problems with the file itself
raise :class:`BomboraValidationError` for the ``accounts`` parameter, naming the file and line.

An empty file (0 bytes, or nothing but blank lines after a byte order mark) is an error in
every format, with the one message of :func:`empty_file_error`: it is what a failed or
truncated export leaves, and read as an empty audience it would empty the account list. A CSV
file with a header and no rows, or a JSON ``[]``, is not empty: it holds 0 records.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

from airflow_provider_bombora.exceptions import BomboraValidationError, shorten
from airflow_provider_bombora.mappings import strip_xdm_prefix

MAX_LINE_BYTES = 1024 * 1024
CSV_EXTENSION = ".csv"
JSON_LINES_EXTENSIONS = (".jsonl", ".ndjson")
JSON_EXTENSION = ".json"
SUPPORTED_EXTENSIONS = (CSV_EXTENSION, *JSON_LINES_EXTENSIONS, JSON_EXTENSION)

FieldGetter = Callable[[Mapping], object]
NumberedRecords = Iterator[tuple[int, object]]


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


def iter_records(accounts: object, *, required_sources: Iterable[str] = ()) -> NumberedRecords:
    """Yield ``(position, record)`` for each account in ``accounts``.

    ``accounts`` is a list, tuple or iterator of records, or the path (``str`` or
    ``os.PathLike``) of a ``.csv``, ``.jsonl``/``.ndjson`` or ``.json`` file. A missing file,
    an unsupported extension, and a CSV header lacking one of ``required_sources`` (matched
    with or without ``xdm:``) are reported now, before the first record is read, and so is
    anything wrong with a ``.json`` file (it is parsed now), and an empty file of any format
    (:func:`empty_file_error`); problems further in a CSV or JSON Lines file are raised when the
    iteration reaches them.
    """
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
    extension = path.suffix.lower()
    if extension == CSV_EXTENSION:
        _check_not_empty(path)
        header = _read_csv_header(path, required_sources)
        return _csv_records(path, header)
    if extension in JSON_LINES_EXTENSIONS:
        _check_not_empty(path)
        return _json_lines_records(path)
    return _json_array_records(path)


def empty_file_error(path: Path) -> BomboraValidationError:
    """The error for an accounts file with nothing in it, the same for every format.

    It never suggests ``allow_empty``: a file that is empty by accident (an export that failed
    or was cut short) must not be read as an empty audience, which would empty the list.
    """
    try:
        size = path.stat().st_size
    except OSError:
        size = None
    if size == 0:
        what = "0 bytes"
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


def _check_not_empty(path: Path) -> None:
    """Raise :func:`empty_file_error` unless ``path`` has a line with something else than blanks.

    Reads the file only up to that line: the first one in any usable file.
    """
    with path.open("rb") as file:
        for _line_number, line in _numbered_lines(file, path):
            if not _is_blank(line):
                return
    raise empty_file_error(path)


def _file_error(path: Path, line_number: int | None, problem: str) -> BomboraValidationError:
    where = f"{path}, line {line_number}" if line_number is not None else str(path)
    return BomboraValidationError("accounts", f"{where}: {problem}")


def _numbered_lines(file: BinaryIO, path: Path) -> Iterator[tuple[int, str]]:
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
                path,
                line_number,
                f"longer than {MAX_LINE_BYTES} bytes; put one account per line "
                "(a file with old Mac CR-only line endings needs converting to LF)",
            )
        try:
            line = raw_line.decode(encoding)
        except UnicodeDecodeError as error:
            raise _file_error(
                path, line_number, f"not valid UTF-8 (byte {error.start + 1} of the line); save the file as UTF-8"
            ) from None
        encoding = "utf-8"
        yield line_number, line


def _csv_rows(path: Path) -> Generator[tuple[int, list[str]], None, None]:
    """Non-blank CSV rows of ``path`` with the line each ends on."""
    with path.open("rb") as file:
        # strict: an unclosed quote is an error, not the rest of the file swallowed into one field
        reader = csv.reader((line for _, line in _numbered_lines(file, path)), strict=True)
        try:
            for row in reader:
                if row:
                    yield reader.line_num, row
        except csv.Error as error:
            raise _file_error(path, reader.line_num, f"not valid CSV ({error}); check the quoting") from None


def _read_csv_header(path: Path, required_sources: Iterable[str]) -> list[str]:
    """The CSV's column names without ``xdm:`` prefixes, after checking the required ones are there."""
    rows = _csv_rows(path)
    try:
        _line_number, raw_header = next(rows, (0, None))
    finally:
        rows.close()
    if raw_header is None:  # only blank lines: checked before, unless the file changed since
        raise empty_file_error(path)
    header = [strip_xdm_prefix(name) for name in raw_header]
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        names = ", ".join(map(repr, duplicates))
        raise _file_error(path, 1, f"the header names {names} more than once; keep one column each")
    missing = [source for source in required_sources if strip_xdm_prefix(source) not in header]
    if missing:
        raise _file_error(
            path,
            1,
            f"the header lacks the required column(s) {', '.join(map(repr, missing))} (with or without "
            f"'xdm:'); columns found: {', '.join(map(repr, raw_header))}",
        )
    return header


def _csv_records(path: Path, header: list[str]) -> NumberedRecords:
    rows = _csv_rows(path)
    next(rows)  # the header, already read and checked
    for line_number, row in rows:
        yield line_number, dict(zip(header, row, strict=False))  # a short or long row: the columns both have


def _json_lines_records(path: Path) -> NumberedRecords:
    # raw_decode parses a line that starts with its value in half the time json.loads takes
    # (no whitespace regexes around it). It stops after the value: the rest of the line must
    # be blank, else json.loads parses the line again to report what is wrong.
    decode = json.JSONDecoder().raw_decode
    with path.open("rb") as file:
        for line_number, line in _numbered_lines(file, path):
            if line.isspace():
                continue
            try:
                record, end = decode(line)
                is_whole_line = end == len(line) or line[end:].isspace()
            except json.JSONDecodeError:
                is_whole_line = False
            if not is_whole_line:
                record = _parse_json_line(path, line_number, line)
            yield line_number, record


def _parse_json_line(path: Path, line_number: int, line: str) -> object:
    """The value on a line that may have blanks before it, or the error saying what is wrong."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        problem = f"not valid JSON ({error.msg} at column {error.colno}); write one JSON object per line"
        raise _file_error(path, line_number, problem) from None


def _json_array_records(path: Path) -> NumberedRecords:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line_number = raw.count(b"\n", 0, error.start) + 1
        raise _file_error(path, line_number, "not valid UTF-8; save the file as UTF-8") from None
    if _is_blank(text):
        raise empty_file_error(path)
    try:
        records = json.loads(text)
    except json.JSONDecodeError as error:
        raise _file_error(path, error.lineno, f"not valid JSON ({error.msg} at column {error.colno})") from None
    if not isinstance(records, list):
        raise _file_error(
            path,
            None,
            "does not hold a JSON array; write the accounts as [{...}, {...}] or use a .jsonl file",
        )
    return enumerate(records)
