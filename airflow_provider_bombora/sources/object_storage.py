"""Account records read from object storage, through Airflow's ``ObjectStoragePath``.

``accounts`` is a URL with a scheme (``s3://bucket/exports/2026-11-27/``,
``gs://...``, ``file:///data/accounts.csv.gz``, ``memory://...``: any scheme Airflow's object
storage has a filesystem for) or an ``airflow.sdk.ObjectStoragePath``. A URL is opened as
``ObjectStoragePath(url, conn_id=conn_id)``; a path keeps its own connection.

- **One object** is one file: its format and compression come from its name
  (:func:`~airflow_provider_bombora.sources.streams.stream_type`: ``.csv``, ``.jsonl``/``.ndjson``,
  ``.json``, each optionally ``.gz``, ``.bz2`` or ``.zst``), and its positions are its lines,
  as for a local file.
- **A folder** (a URL ending with ``/``, or any path that is a folder) is one audience made of
  its files in name order. Marker and hidden files (names starting with ``_`` or ``.``,
  ``*.crc`` and ``*manifest``: ``_SUCCESS``, ``.part-0.crc``), and empty files, are skipped; a file of another
  type, or a folder inside it, is an error; a folder with no data at all is an error too (an
  export that failed must not empty the list). Positions name the file: ``part-00001.csv.gz:7``
  (line 7), ``part-00002.json[3]`` (the fourth item of its array).

Everything is streamed: each file is read through a buffer of :data:`READ_BUFFER_SIZE` bytes
and decompressed as it is read, one file at a time (a ``.json`` file is parsed whole, as a
local one). Problems are :class:`~airflow_provider_bombora.exceptions.BomboraValidationError`
for ``accounts`` naming the path: a missing object or folder, an unknown scheme (with the
package that brings its filesystem), a connection that is not defined, and everything
:mod:`~airflow_provider_bombora.records` reports of a file (a truncated gzip stream included).
A failure of the store itself while reading (a network error) is raised unchanged.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from airflow.sdk import Connection, ObjectStoragePath
from airflow.sdk.exceptions import AirflowNotFoundException

from airflow_provider_bombora.exceptions import BomboraValidationError, shorten
from airflow_provider_bombora.records import NumberedRecords, Position
from airflow_provider_bombora.sources.compression import COMPRESSION_EXTENSIONS, zstandard_module
from airflow_provider_bombora.sources.streams import (
    JSON,
    SUPPORTED_EXTENSIONS,
    StreamRecords,
    iter_stream_records,
    open_stream_records,
    stream_type,
    unsupported_stream_error,
)

log = logging.getLogger(__name__)

#: Bytes asked of the store at a time (what Airflow's lineage sees as one read).
READ_BUFFER_SIZE = 256 * 1024
#: The block size the filesystem fetches and caches (s3fs's own default is 50 MiB a file).
BLOCK_SIZE = 4 * 1024 * 1024
#: How many names an error lists.
NAMES_SHOWN = 5

#: The package that brings the filesystem of a scheme, for the error of a scheme Airflow lacks.
FILESYSTEM_PACKAGES = {
    **dict.fromkeys(("s3", "s3a", "s3n"), "apache-airflow-providers-amazon[s3fs]"),
    **dict.fromkeys(("gs", "gcs"), "apache-airflow-providers-google"),
    **dict.fromkeys(("abfs", "abfss", "adl"), "apache-airflow-providers-microsoft-azure"),
}
PROVIDER_SCHEMES = (
    "s3:// needs apache-airflow-providers-amazon[s3fs], gs:// apache-airflow-providers-google, "
    "abfs:// apache-airflow-providers-microsoft-azure"
)


def iter_object_records(
    accounts: object, *, conn_id: str | None = None, required_sources: Iterable[str] = ()
) -> NumberedRecords:
    """Yield ``(position, record)`` for the records at the URL or ``ObjectStoragePath`` ``accounts``.

    What an object or a folder holds, the positions and the errors: see the module's docstring.
    The path is resolved now (connection, filesystem, whether it exists and is a folder), a folder
    listed and its names checked, and a single file's first checks made (as
    :func:`~airflow_provider_bombora.records.iter_records` makes them for a local file); the files
    of a folder are opened one after the other as the iteration reaches them.
    """
    path, display, wants_folder = resolve_path(accounts, conn_id)
    filesystem = path.fs
    try:
        info = filesystem.info(path.path)
    except FileNotFoundError:
        what = "folder" if wants_folder else "object or folder"
        raise BomboraValidationError(
            "accounts",
            f"{display}: not found (no {what} at this path); check the path, the bucket and that the export "
            "has run",
        ) from None
    if info.get("type") == "directory":
        folder = _list_folder(filesystem, path, display)
        return _folder_records(path, display, folder, tuple(required_sources))
    if wants_folder:
        raise BomboraValidationError(
            "accounts", f"{display}: not a folder (the URL ends with '/'); drop the '/' to read this one file"
        )
    if stream_type(path.name) is None:
        raise unsupported_stream_error(path.name, display)
    stream = open_object(path)
    return iter_stream_records(stream, display, required_sources=required_sources, size=info.get("size"))


def open_object(path: ObjectStoragePath) -> io.BufferedReader:
    """``path`` opened for reading, in :data:`READ_BUFFER_SIZE` reads of blocks of :data:`BLOCK_SIZE`."""
    return io.BufferedReader(_RawObject(path.open("rb", block_size=BLOCK_SIZE)), READ_BUFFER_SIZE)


class _RawObject(io.RawIOBase):
    """An opened object as a raw stream, for :class:`io.BufferedReader`."""

    def __init__(self, file: Any) -> None:
        super().__init__()
        self._file = file

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._file.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            try:
                self._file.close()
            finally:
                super().close()


# --- the path -------------------------------------------------------------------------------------


def resolve_path(
    value: object, conn_id: str | None, *, field: str = "accounts", conn_field: str = "accounts_conn_id"
) -> tuple[ObjectStoragePath, str, bool]:
    """An ``ObjectStoragePath`` or URL as a path of a filesystem Airflow knows, with its connection
    checked: the path, how errors show it, and whether it must be a folder (a URL ending with '/').

    :param field: The task parameter ``value`` came from, named in errors; ``conn_field`` that of ``conn_id``.
    :raises BomboraValidationError: for an unknown scheme, a missing filesystem package, or a
        connection that is not defined or contradicts the path's own.
    """
    if isinstance(value, ObjectStoragePath):
        own = value.conn_id
        if conn_id is not None and own is not None and own != conn_id:
            raise BomboraValidationError(
                conn_field,
                f"{conn_id!r} differs from the connection of the ObjectStoragePath given as {field} "
                f"({own!r}); set one of them",
            )
        path = value if conn_id is None or own is not None else ObjectStoragePath(value, conn_id=conn_id)
        display, wants_folder = str(value), False
    else:
        display = str(value).strip()
        wants_folder = display.endswith("/")
        try:
            path = ObjectStoragePath(display, conn_id=conn_id)
        except ValueError as error:  # fsspec knows no such protocol
            raise _unknown_scheme_error(display, error, field) from None
    _check_connection(path, display, field, conn_field)
    _filesystem(path, display, field)
    return path, display, wants_folder


def _check_connection(path: ObjectStoragePath, display: str, field: str, conn_field: str) -> None:
    """A connection that does not exist is an error, whatever the scheme: some filesystems (s3)
    would otherwise fall back to the credentials of the machine, others (file) ignore it."""
    if path.conn_id is None:
        return
    try:
        Connection.get(path.conn_id)
    except AirflowNotFoundException:
        raise BomboraValidationError(
            field,
            f"{display}: the connection {path.conn_id!r} is not defined; create it (the object store's "
            f"Airflow connection, e.g. aws_default for s3://) or fix {conn_field}",
        ) from None


def _filesystem(path: ObjectStoragePath, display: str, field: str) -> Any:
    try:
        return path.fs
    except ValueError as error:  # Airflow: "No filesystem registered for scheme ..."
        raise _unknown_scheme_error(display, error, field) from None
    except ImportError as error:  # the provider is there, its filesystem library is not
        raise _unknown_scheme_error(display, error, field) from None


def _unknown_scheme_error(display: str, error: Exception, field: str) -> BomboraValidationError:
    scheme = display.split("://", 1)[0].lower()
    package = FILESYSTEM_PACKAGES.get(scheme)
    if package:
        fix = f"pip install '{package}' (the provider that brings Airflow its {scheme}:// filesystem)"
    else:
        fix = (
            f"install the Airflow provider that brings a filesystem for {scheme}://, or attach one with "
            f"airflow.sdk.io.attach(protocol={scheme!r}, fs=...) ({PROVIDER_SCHEMES})"
        )
    return BomboraValidationError(
        field, f"{shorten(display)}: Airflow has no filesystem for {scheme}:// ({error}); {fix}"
    )


# --- folders --------------------------------------------------------------------------------------


@dataclass
class _Folder:
    files: list[str]  # data file names, in name order
    skipped_markers: list[str] = field(default_factory=list)
    skipped_empty: list[str] = field(default_factory=list)


def is_marker_name(name: str) -> bool:
    """Whether a file of a folder is a marker, hidden or checksum file, skipped: ``_SUCCESS``,
    ``.part-0.crc``, ``part-0.crc``, and the ``manifest`` that Redshift's ``UNLOAD ... MANIFEST`` writes."""
    lowered = name.lower()
    return name.startswith(("_", ".")) or lowered.endswith((".crc", "manifest"))


def _list_folder(filesystem: Any, path: ObjectStoragePath, display: str) -> _Folder:
    """The folder's data files in name order, after checking every name."""
    own_name = path.path.rstrip("/")
    folder = _Folder(files=[])
    unsupported: list[str] = []
    subfolders: list[str] = []
    for entry in filesystem.ls(path.path, detail=True):
        full_name = str(entry["name"]).rstrip("/")
        if full_name == own_name:  # a store's marker object for the folder itself
            continue
        name = full_name.rsplit("/", 1)[-1]
        if is_marker_name(name):
            folder.skipped_markers.append(name)
        elif entry.get("type") == "directory":
            subfolders.append(name)
        elif stream_type(name) is None:
            unsupported.append(name)
        elif entry.get("size") == 0:
            folder.skipped_empty.append(name)
        else:
            folder.files.append(name)
    folder.files.sort()
    if unsupported:
        names = _names(sorted(unsupported))
        raise BomboraValidationError(
            "accounts",
            f"{display}: the folder holds files of a type that cannot be read: {names}; its files must be "
            f"{', '.join(SUPPORTED_EXTENSIONS)}, each optionally compressed ({', '.join(COMPRESSION_EXTENSIONS)}); "
            "only marker files (_SUCCESS, names starting with _ or ., *.crc, *manifest) are skipped",
        )
    if subfolders:
        raise BomboraValidationError(
            "accounts",
            f"{display}: the folder holds folders ({_names(sorted(subfolders))}), which are not read; give the "
            "folder of the part files itself (one folder, one audience)",
        )
    if not folder.files:
        raise _no_data_error(display, folder)
    for name in folder.files:  # before anything is read, not at the first .zst file
        if name.lower().endswith(".zst"):
            zstandard_module(f"{display.rstrip('/')}/{name}")
            break
    log.info(
        "Reading %s: %d file(s) in name order (%s), %d marker and %d empty file(s) skipped",
        display, len(folder.files), _names(folder.files), len(folder.skipped_markers), len(folder.skipped_empty),
    )
    return folder


def _folder_records(
    path: ObjectStoragePath, display: str, folder: _Folder, required_sources: tuple[str, ...]
) -> Iterator[tuple[Position, object]]:
    read_any = False
    for name in folder.files:
        shown = f"{display.rstrip('/')}/{name}"
        records = open_stream_records(open_object(path / name), shown, required_sources=required_sources)
        if records is None:
            folder.skipped_empty.append(name)
            log.info("Skipped %s: empty", shown)
            continue
        read_any = True
        yield from _named(records, name)
    if not read_any:
        raise _no_data_error(display, folder)


def _named(records: StreamRecords, name: str) -> Iterator[tuple[Position, object]]:
    """The records of the folder's file ``name``, their positions naming it: ``name:line``, ``name[index]``."""
    kind = stream_type(name)
    template = f"{name}[{{}}]" if kind is not None and kind[0] == JSON else f"{name}:{{}}"
    try:
        for position, record in records:
            yield template.format(position), record
    finally:
        close = getattr(records, "close", None)
        if close is not None:  # the file now, not when the generator is collected
            close()


def _no_data_error(display: str, folder: _Folder) -> BomboraValidationError:
    skipped = []
    if folder.skipped_empty:
        skipped.append(f"{len(folder.skipped_empty)} empty file(s): {_names(sorted(folder.skipped_empty))}")
    if folder.skipped_markers:
        skipped.append(f"{len(folder.skipped_markers)} marker file(s): {_names(sorted(folder.skipped_markers))}")
    what = f" (skipped {'; '.join(skipped)})" if skipped else ""
    return BomboraValidationError(
        "accounts",
        f"{display}: the folder holds no data files{what}: an export that failed or was cut short? Nothing was "
        "sent; check the export.",
    )


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:NAMES_SHOWN])
    return shown + (f" and {len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else "")
