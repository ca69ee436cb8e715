"""Account records read from a SQL warehouse: a query run through a common-sql ``DbApiHook``.

``sql`` is one query; ``sql_conn_id`` any Airflow connection whose hook is an
``airflow.providers.common.sql.hooks.sql.DbApiHook`` (PostgreSQL, Snowflake, BigQuery, Redshift,
MySQL, SQLite...). The hook is ``BaseHook.get_connection(sql_conn_id).get_hook()``.

- **Columns.** A column feeds a mapping source when its name is the source's path without its
  namespace (``accountOrganization.domain`` for ``xdm:accountOrganization.domain``), compared
  case-insensitively (Snowflake returns unquoted names upper case). Where a warehouse cannot
  put a dot in a column name (BigQuery), the name with each ``.`` written ``__`` matches too
  (``accountOrganization__domain``). Each row becomes a dict keyed by the source paths, holding
  the mapped columns only; its position is its row number, from 1. Other columns are ignored.
- **Streaming.** Rows are fetched :data:`SQL_CHUNK_SIZE` at a time with ``fetchmany``, never
  ``fetchall``: through a server-side cursor where the driver has one (psycopg2 and psycopg 3:
  a named cursor, from which the server sends each chunk when it is asked for; PostgreSQL, and
  Redshift through a ``postgres`` connection), through the driver's own cursor otherwise. The
  source never commits. The connection and the cursor are closed whatever happens, also when
  the reader stops early.
- **Errors** are :class:`~airflow_provider_bombora.exceptions.BomboraValidationError` for
  ``sql`` (the operator fails the task without retries): a connection that is not defined,
  whose type no installed provider has a hook for, or whose hook is not a ``DbApiHook`` (when
  :func:`iter_sql_records` is called); a query the database refuses or that fails, also
  mid-stream (the driver's message, first line, shortened); a statement that returns no result;
  a result without a column for a mapped source, or with two (before the first row). The
  activation reads every row before it sends anything, so all of them come before any write to
  Bombora. Failing to connect at all is raised unchanged (Airflow retries it). Messages name
  columns, never a row's values.

The common-sql provider is imported only when a query runs: :func:`require_common_sql` is what
the operator checks at DAG parse time.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from airflow_provider_bombora.exceptions import BomboraValidationError, shorten
from airflow_provider_bombora.mappings import DOMAIN_TARGET, PRIMARY_ID_TARGET, canonical_path, strip_xdm_prefix
from airflow_provider_bombora.parameters import DELTA

if TYPE_CHECKING:
    from airflow.providers.common.sql.hooks.sql import DbApiHook

    from airflow_provider_bombora.activation import ActivationRequest
    from airflow_provider_bombora.mappings import ValidatedMappings

log = logging.getLogger(__name__)

#: One ``(row number, record)`` pair of the source.
NumberedRow = tuple[int, dict[str, object]]

#: Rows fetched at a time (``fetchmany``); read when a query starts, so tests can lower it.
SQL_CHUNK_SIZE = 10_000
#: What installs the common-sql provider along with this one.
INSTALL_COMMAND = "pip install 'airflow-provider-bombora[sql]'"
#: Drivers (top-level packages of the DB-API connection's class) whose ``cursor(name=...)`` is a
#: server-side cursor: psycopg2 and psycopg 3, PostgresHook's drivers.
SERVER_SIDE_CURSOR_DRIVERS = frozenset({"psycopg2", "psycopg"})
#: Longest excerpt of a driver's error message kept in ours.
DRIVER_MESSAGE_LENGTH = 300
#: Written for ``.`` in a column name, for warehouses whose column names cannot hold a dot.
DOT_SUBSTITUTE = "__"

_NAMESPACE = re.compile(r"[a-z][a-z0-9_-]*:(\S.*)")


def require_common_sql() -> None:
    """Raise, saying what to install, when the common-sql provider is missing (checked at parse time).

    Only looked for, not imported: a DAG file's parse stays as quick as without ``sql``.
    """
    try:
        found = importlib.util.find_spec("airflow.providers.common.sql") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise BomboraValidationError(
            "sql",
            "reading accounts with a SQL query needs Airflow's common-sql provider "
            f"(apache-airflow-providers-common-sql), which is not installed: {INSTALL_COMMAND}",
        )


@dataclass(frozen=True)
class SqlColumn:
    """A column the query's result must have: the source it feeds, its name, and why it is read."""

    #: The source path as the mappings give it, canonical (``xdm:accountOrganization.domain``).
    source: str
    #: The name a column must have (compared case-insensitively): the path without its namespace.
    name: str
    #: Why it is read, for messages: ``mapped to xdm:companyWebsiteDomain``.
    purpose: str

    @property
    def key(self) -> str:
        """The record key the row's value is put under (what the record reader looks up first)."""
        return strip_xdm_prefix(self.source)

    def matches(self, column_name: str) -> bool:
        wanted = self.name.casefold()
        name = column_name.casefold()
        return name == wanted or name.replace(DOT_SUBSTITUTE, ".") == wanted

    @classmethod
    def of(cls, source: str, purpose: str) -> SqlColumn:
        source = canonical_path(source)
        namespaced = _NAMESPACE.fullmatch(source)
        return cls(source=source, name=namespaced.group(1) if namespaced else source, purpose=purpose)


def sql_columns(mappings: ValidatedMappings, request: ActivationRequest) -> tuple[SqlColumn, ...]:
    """The columns an activation reads: the sources of
    :func:`~airflow_provider_bombora.activation.required_sources`, each once."""
    columns = [
        SqlColumn.of(mappings.primary_id_source, f"mapped to {PRIMARY_ID_TARGET}"),
        SqlColumn.of(mappings.domain_source, f"mapped to {DOMAIN_TARGET}"),
    ]
    if request.sync_mode == DELTA:
        columns.append(SqlColumn.of(request.status_field, f"the status_field of sync_mode={DELTA!r}"))
    unique: dict[str, SqlColumn] = {}
    for column in columns:  # a source mapped twice is read once
        unique.setdefault(column.key, column)
    return tuple(unique.values())


def match_columns(column_names: Sequence[str], columns: Sequence[SqlColumn]) -> tuple[tuple[str, int], ...]:
    """``(record key, index in the row)`` of each wanted column, or the error naming what is missing.

    :raises BomboraValidationError: for ``sql`` when a column is missing, or matched twice.
    """
    found: list[tuple[str, int]] = []
    missing: list[SqlColumn] = []
    ambiguous: list[str] = []
    for column in columns:
        indexes = [index for index, name in enumerate(column_names) if column.matches(name)]
        if not indexes:
            missing.append(column)
        elif len(indexes) > 1:
            names = ", ".join(column_names[index] for index in indexes)
            ambiguous.append(f"{column.name!r} ({column.purpose}) matches {len(indexes)} columns: {names}")
        else:
            found.append((column.key, indexes[0]))
    listed = shorten(", ".join(column_names) or "none")
    if missing:
        absent = ", nor for ".join(f"{column.name!r} ({column.purpose})" for column in missing)
        example = next((column.name for column in missing if "." in column.name), None)
        hint = (
            f" (SELECT ... AS \"{example}\"), or with '{DOT_SUBSTITUTE}' for each '.' where a column name "
            f"cannot hold a dot ({example.replace('.', DOT_SUBSTITUTE)})"
            if example
            else f" (SELECT ... AS {missing[0].name})"
        )
        raise BomboraValidationError(
            "sql",
            f"the query's result has no column for {absent}; its columns are: {listed}. Name each column "
            f"after its source's path without the namespace, in any case{hint}",
        )
    if ambiguous:
        raise BomboraValidationError(
            "sql", f"{'; '.join(ambiguous)}; keep one column per source (its columns are: {listed})"
        )
    return tuple(found)


def sql_hook(sql_conn_id: str) -> tuple[DbApiHook, str]:
    """The ``DbApiHook`` of the connection, and how messages name it (``connection 'warehouse' (postgres)``).

    :raises BomboraValidationError: for ``sql`` when the connection is not defined, has no hook,
        or has one that is not a ``DbApiHook``.
    """
    require_common_sql()
    from airflow.providers.common.sql.hooks.sql import DbApiHook
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowException, AirflowNotFoundException

    try:
        connection = BaseHook.get_connection(sql_conn_id)
    except AirflowNotFoundException:
        raise BomboraValidationError(
            "sql", f"connection {sql_conn_id!r} (sql_conn_id) is not defined; create it, or correct sql_conn_id"
        ) from None
    label = f"connection {sql_conn_id!r} ({connection.conn_type})"
    try:
        hook = connection.get_hook()
    except (AirflowException, ImportError) as error:
        raise BomboraValidationError(
            "sql",
            f"{label}: no installed provider has a hook for connections of type {connection.conn_type!r} "
            f"({shorten(str(error), DRIVER_MESSAGE_LENGTH)}); install the provider of that database",
        ) from error
    if not isinstance(hook, DbApiHook):
        raise BomboraValidationError(
            "sql",
            f"{label}: its hook, {type(hook).__module__}.{type(hook).__qualname__}, is not a SQL hook "
            "(a common-sql DbApiHook); sql_conn_id must name a database connection (postgres, snowflake, "
            "google_cloud_platform for BigQuery, sqlite...)",
        )
    return hook, label


def iter_sql_records(
    sql: str,
    sql_conn_id: str,
    mappings: ValidatedMappings,
    request: ActivationRequest,
    *,
    chunk_size: int | None = None,
) -> SqlRecords:
    """Yield ``(row number, record)`` for each row of the query ``sql`` run through ``sql_conn_id``.

    The hook is checked now; the query runs when the first record is asked for. Feed it to
    :func:`~airflow_provider_bombora.activation.collect_audience`.
    """
    if not isinstance(sql, str) or not sql.strip():
        raise BomboraValidationError("sql", f"must be a SQL query (SELECT ...), got {sql!r}")
    hook, label = sql_hook(sql_conn_id)
    return iter_hook_records(hook, sql, sql_columns(mappings, request), label=label, chunk_size=chunk_size)


def iter_hook_records(
    hook: Any,
    sql: str,
    columns: Sequence[SqlColumn],
    *,
    label: str,
    chunk_size: int | None = None,
) -> SqlRecords:
    """The rows of ``sql`` on ``hook``'s connection (any object with ``get_conn()``), as records.

    Lazy: nothing is opened before the first record is asked for; the cursor and the connection
    are closed when the rows run out, on an error, and by :meth:`SqlRecords.close` (or when the
    reader drops it) if the reader stops early.
    """
    size = SQL_CHUNK_SIZE if chunk_size is None else chunk_size
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {size!r}")
    current: list[list[dict[str, object]]] = [[]]
    return SqlRecords.over(_chunks(hook, sql, columns, label, size, current), current)


class SqlRecords(chain[NumberedRow]):
    """The source's ``(row number, record)`` pairs: an ``itertools.chain`` over each chunk's records,
    so that they are numbered and handed on by C code, not by a generator's frame per row (the
    per-row Python work is what separates this reader from the driver's own speed).

    ``close()`` stops the reading early, as a generator's would: the rest of the current chunk is
    dropped, and the cursor and the connection are closed. (No ``__next__`` here: one written in
    Python would replace chain's own, and with it the point of the class.)
    """

    __slots__ = ("_chunks", "_current")
    _chunks: Iterator[Iterator[NumberedRow]]
    _current: list[list[dict[str, object]]]

    @classmethod
    def over(
        cls, chunks: Iterator[Iterator[NumberedRow]], current: list[list[dict[str, object]]]
    ) -> SqlRecords:
        """The records of ``chunks`` (a generator of each chunk's numbered records, which keeps the
        chunk's list of records in ``current[0]``)."""
        records: SqlRecords = cls.from_iterable(chunks)  # type: ignore[assignment]
        records._chunks = chunks
        records._current = current
        return records

    def close(self) -> None:
        self._current[0].clear()  # the chunk's enumerate ends at once
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


def _chunks(
    hook: Any, sql: str, columns: Sequence[SqlColumn], label: str, size: int, current: list[list[dict[str, object]]]
) -> Iterator[Iterator[NumberedRow]]:
    """Each chunk's records, numbered (an ``enumerate`` over the chunk's list of records, which is
    kept in ``current[0]`` for :meth:`SqlRecords.close`). Its ``finally`` closes the cursor and the
    connection."""
    connection = hook.get_conn()  # a failure to connect is raised as it is: Airflow retries it
    cursor = None
    rows = 0
    try:
        cursor, server_side = _open_cursor(connection)
        log.info(
            "Reading the audience from %s, %d rows at a time%s. Query: %s",
            label, size, " (server-side cursor)" if server_side else "", sql,
        )
        _run(lambda: cursor.execute(sql), label)
        chunk = _run(lambda: cursor.fetchmany(size), label)
        description = cursor.description
        if description is None:
            raise BomboraValidationError(
                "sql", f"the statement returned no result (no columns) on {label}: sql must be a query (SELECT ...)"
            )
        build = _records_builder(match_columns([str(column[0]) for column in description], columns), description)
        while chunk:
            records = current[0] = build(chunk)
            del chunk  # the driver's rows go as soon as the records are built
            yield enumerate(records, rows + 1)
            rows += len(records)
            # The chunk's records go before the next chunk comes: their memory is reused for it.
            del records
            current[0] = []
            chunk = _run(lambda: cursor.fetchmany(size), label)
        log.info("Read %d rows from %s.", rows, label)
    finally:
        if cursor is not None:
            _close(cursor, "cursor", label)
        _close(connection, "connection", label)


def _open_cursor(connection: Any) -> tuple[Any, bool]:
    """A cursor on ``connection``, and whether it is server-side (psycopg's named cursors)."""
    drivers = {klass.__module__.partition(".")[0] for klass in type(connection).__mro__}
    if drivers & SERVER_SIDE_CURSOR_DRIVERS:
        # A named cursor lives in a transaction: the connection is this reader's, and closed after.
        if getattr(connection, "autocommit", False):
            connection.autocommit = False
        return connection.cursor(name=f"bombora_audience_{uuid.uuid4().hex[:16]}"), True
    return connection.cursor(), False


def _run(step: Any, label: str) -> Any:
    """Run a cursor call; the driver's error becomes a validation error naming ``sql`` and the connection."""
    try:
        return step()
    except Exception as error:  # any driver's error: DB-API drivers share no base class
        raise _query_error(error, label) from error


def _query_error(error: Exception, label: str) -> BomboraValidationError:
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    message = lines[0] if lines else "(no message)"
    return BomboraValidationError(
        "sql", f"the query failed on {label}: {type(error).__name__}: {shorten(message, DRIVER_MESSAGE_LENGTH)}"
    )


def _records_builder(
    layout: tuple[tuple[str, int], ...], description: Sequence[Sequence[Any]]
) -> Callable[[Sequence[Any]], list[dict[str, object]]]:
    """A function turning a chunk of rows into records keyed by the mapped sources: a chunk at a
    time, in one comprehension a chunk, for the rows of tuples that drivers return."""
    keys = tuple(key for key, _ in layout)
    names = tuple((key, description[index][0]) for key, index in layout)
    indexes = tuple(index for _, index in layout)
    pick = itemgetter(*indexes)
    # A row of the mapped columns alone, in their order (a query that selects just them) is
    # unpacked as it is; otherwise ``itemgetter`` (C code) picks them out first.
    whole_row = indexes == tuple(range(len(description)))

    def mapped(chunk: Sequence[Any]) -> Any:
        return chunk if whole_row else map(pick, chunk)

    # Two columns are mapped (the primary id and the domain), three in delta mode (the status):
    # a dict display of known size is built twice as fast as dict(zip(...)) or a comprehension.
    if len(keys) == 2:
        first, second = keys

        def build_tuples(chunk: Sequence[Any]) -> list[dict[str, object]]:
            return [{first: a, second: b} for a, b in mapped(chunk)]

    elif len(keys) == 3:
        first, second, third = keys

        def build_tuples(chunk: Sequence[Any]) -> list[dict[str, object]]:
            return [{first: a, second: b, third: c} for a, b, c in mapped(chunk)]

    else:  # one column: a source mapped to both targets

        def build_tuples(chunk: Sequence[Any]) -> list[dict[str, object]]:
            return [{key: row[index] for key, index in layout} for row in chunk]

    def build(chunk: Sequence[Any]) -> list[dict[str, object]]:
        if chunk and isinstance(chunk[0], dict):  # a dict cursor (PostgresHook's "cursor" extra)
            return [{key: row.get(name) for key, name in names} for row in chunk]
        return build_tuples(chunk)

    return build


def _close(resource: Any, what: str, label: str) -> None:
    """Close a cursor or connection without hiding the error that is on its way, if any."""
    try:
        resource.close()
    except Exception as error:  # noqa: BLE001 - a failed close must not replace the error being raised
        log.warning("Could not close the %s of %s: %s", what, label, type(error).__name__)
