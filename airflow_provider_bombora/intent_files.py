"""The file intent data is written to: its format from its name, and its rows as JSON Lines or CSV.

A destination ends with ``.jsonl`` or ``.csv``, optionally followed by ``.gz``. Every row is
written as the Intent API returned it, plus :data:`SNAPSHOT_COLUMN`, the day the data is as of:

- **JSON Lines**: one JSON object a line, UTF-8, the API's keys in its order, then ``snapshotDate``.
  No rows: an empty file.
- **CSV**: a header, then a line a row. The columns are the requested attributes (``domain``
  first; the API's default ``domain``, ``score``, ``scoreLabel`` when none are given), then
  ``snapshotDate``. A dotted attribute (``company.size``) is read from the nested object; a
  value that is an object or a list (``company``, ``areasOfInterest``) is written as compact
  JSON, a null as an empty field. No rows: the header alone.
- **gzip**: one gzip member, with no file name and a zero modification time in its header, so
  that the same rows give the same bytes.

Pure module: no Airflow or HTTP import.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from airflow_provider_bombora.exceptions import BomboraValidationError, shorten

JSON_LINES, CSV = "jsonl", "csv"
GZIP_EXTENSION = ".gz"
#: The column (and key) holding the day the data is as of, added to every row.
SNAPSHOT_COLUMN = "snapshotDate"
#: What the Intent API returns when no attributes are asked for.
DEFAULT_ATTRIBUTES = ("domain", "score", "scoreLabel")
DESTINATION_EXTENSIONS = (".jsonl", ".jsonl.gz", ".csv", ".csv.gz")


class ByteSink(Protocol):
    """What rows are written to: a binary file opened for writing (``ObjectStoragePath.open("wb")``)."""

    def write(self, data: bytes, /) -> object: ...
    def flush(self) -> object: ...


@dataclass(frozen=True)
class FileFormat:
    kind: str  # JSON_LINES or CSV
    gzip: bool

    @property
    def compression(self) -> str | None:
        return "gzip" if self.gzip else None


def destination_format(name: str) -> FileFormat:
    """The format a destination's file name gives (case ignored).

    :raises BomboraValidationError: for ``destination``, naming the endings it takes.
    """
    lowered = name.lower()
    compressed = lowered.endswith(GZIP_EXTENSION)
    base = lowered.removesuffix(GZIP_EXTENSION)
    for kind in (JSON_LINES, CSV):
        if base.endswith(f".{kind}") and len(base) > len(kind) + 1:
            return FileFormat(kind, compressed)
    raise BomboraValidationError(
        "destination",
        f"{shorten(name, 100)!r}: the file name must end with {', '.join(DESTINATION_EXTENSIONS)} "
        "(JSON Lines or CSV, optionally gzipped), e.g. s3://bucket/intent/{{ ds }}/surge.jsonl.gz",
    )


def csv_columns(attributes: Sequence[str] | None) -> list[str]:
    """The CSV columns of rows with ``attributes``: ``domain`` first, each once, then the snapshot date."""
    return list(dict.fromkeys(["domain", *(attributes or DEFAULT_ATTRIBUTES), SNAPSHOT_COLUMN]))


class RowWriter:
    """Writes pages of rows to a binary stream in a :class:`FileFormat`; :meth:`finish` ends the
    file (the gzip trailer) and leaves the stream open."""

    def __init__(
        self, stream: ByteSink, file_format: FileFormat, attributes: Sequence[str] | None, snapshot_date: str
    ) -> None:
        self._gzip = gzip.GzipFile(filename="", mode="wb", fileobj=stream, mtime=0) if file_format.gzip else None
        self._stream: ByteSink = self._gzip if self._gzip is not None else stream
        self._kind = file_format.kind
        self._snapshot_date = snapshot_date
        self._columns = csv_columns(attributes)
        if self._kind == CSV:
            self._write_csv([self._columns])

    def write_page(self, rows: Sequence[dict[str, Any]]) -> None:
        """Append ``rows`` (one page: the whole page goes in one write)."""
        if not rows:
            return
        if self._kind == CSV:
            self._write_csv([self._csv_line(row) for row in rows])
            return
        snapshot = {SNAPSHOT_COLUMN: self._snapshot_date}
        lines = [json.dumps({**row, **snapshot}, ensure_ascii=False, separators=(",", ":")) for row in rows]
        self._stream.write(("\n".join(lines) + "\n").encode())

    def finish(self) -> None:
        if self._gzip is not None:
            self._gzip.close()  # writes the trailer; GzipFile never closes a fileobj it was given

    def _csv_line(self, row: dict[str, Any]) -> list[str]:
        return [
            self._snapshot_date if column == SNAPSHOT_COLUMN else _csv_value(_lookup(row, column))
            for column in self._columns
        ]

    def _write_csv(self, lines: list[list[str]]) -> None:
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows(lines)
        self._stream.write(text.getvalue().encode())


def _lookup(row: dict[str, Any], attribute: str) -> Any:
    """The value of ``attribute`` in ``row``: its own key, or a path into nested objects."""
    if attribute in row:
        return row[attribute]
    value: Any = row
    for part in attribute.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list, bool)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)
