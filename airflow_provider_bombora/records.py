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

Files and streams are parsed by :mod:`airflow_provider_bombora.sources.streams` (CSV, JSON
Lines, JSON, each optionally compressed), which also holds the one empty-file error.

This module imports nothing from Airflow: a URL or an ``ObjectStoragePath`` given as
``accounts`` imports :mod:`airflow_provider_bombora.sources.object_storage`, and only then.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TypeAlias

from airflow_provider_bombora.exceptions import BomboraValidationError, shorten
from airflow_provider_bombora.mappings import strip_xdm_prefix
from airflow_provider_bombora.sources.streams import SUPPORTED_EXTENSIONS, iter_stream_records

#: A record's position: the line (or array index) in a single file or list, or ``"file:line"``
#: (``"file[index]"`` for a JSON array) in a folder of files.
Position: TypeAlias = int | str
FieldGetter = Callable[[Mapping], object]
#: What :func:`iter_records` yields.
NumberedRecords = Iterator[tuple[Position, object]]

#: ``scheme://``: an object storage URL (``s3://``, ``gs://``, ``file:///``, ``memory://``...).
_URL_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


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
