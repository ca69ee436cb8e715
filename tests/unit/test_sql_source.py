"""The SQL source without a database: column matching, chunked reading, closing and errors, with a fake
DB-API connection behind a fake DbApiHook; and the operator's parse-time checks of ``sql``."""

from __future__ import annotations

import logging
import sys
from datetime import datetime, timezone

import pytest
from airflow.providers.common.sql.hooks.sql import DbApiHook
from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException
from fakes import FakeAccountLists

from airflow_provider_bombora.activation import ActivationRequest, collect_audience
from airflow_provider_bombora.exceptions import BomboraValidationError
from airflow_provider_bombora.mappings import validate_mappings
from airflow_provider_bombora.operators.bombora import BomboraActivateAudienceOperator
from airflow_provider_bombora.sources import sql as sql_source
from airflow_provider_bombora.sources.sql import (
    INSTALL_COMMAND,
    SqlColumn,
    iter_hook_records,
    iter_sql_records,
    match_columns,
    require_common_sql,
    sql_columns,
    sql_hook,
)

MAPPING_LIST = [
    {"source": "xdm:accountKey.sourceKey", "target": "identity:primaryId"},
    {"source": "xdm:accountOrganization.domain", "target": "xdm:companyWebsiteDomain"},
]
MAPPINGS = validate_mappings(MAPPING_LIST)
MIRROR = ActivationRequest(audience_name="High intent", dataflow_id="abm.activate")
DELTA = ActivationRequest(audience_name="High intent", dataflow_id="abm.activate", sync_mode="delta")
COLUMNS = sql_columns(MAPPINGS, MIRROR)
LABEL = "connection 'warehouse' (fake)"
QUERY = "SELECT account_key, website FROM crm.high_intent"


# --- a fake DB-API driver ----------------------------------------------------------------------


class DriverError(Exception):
    """What a driver raises (DB-API drivers share no base class)."""


class FakeCursor:
    """A DB-API cursor over ``rows``; records every call, refuses fetchall and iteration."""

    def __init__(self, connection: FakeConnection, name: str | None) -> None:
        self.connection = connection
        self.name = name
        self.description: list[tuple] | None = None
        self.fetch_sizes: list[int] = []
        self.closed = False
        self._position = 0

    def execute(self, sql: str) -> None:
        self.connection.executed.append(sql)
        if self.connection.execute_error is not None:
            raise self.connection.execute_error
        if self.connection.columns is not None:
            self.description = [(name, None, None, None, None, None, None) for name in self.connection.columns]

    def fetchmany(self, size: int) -> list:
        self.fetch_sizes.append(size)
        if self.connection.fail_after is not None and self._position >= self.connection.fail_after:
            raise DriverError("server closed the connection unexpectedly\n\tThis probably means ...")
        chunk = self.connection.rows[self._position : self._position + size]
        self._position += len(chunk)
        return chunk

    def fetchall(self) -> list:
        raise AssertionError("fetchall must never be called: it reads the whole result into memory")

    def fetchone(self) -> object:
        raise AssertionError("rows are read with fetchmany")

    def __iter__(self):
        raise AssertionError("rows are read with fetchmany")

    def close(self) -> None:
        self.closed = True


class FakeConnection:
    """A DB-API connection whose cursors read ``rows`` with the columns ``columns``."""

    def __init__(
        self,
        rows: list,
        columns: list[str] | None = ("ACCOUNT_KEY", "WEBSITE"),  # type: ignore[assignment]
        *,
        execute_error: Exception | None = None,
        fail_after: int | None = None,
    ) -> None:
        self.rows = rows
        self.columns = list(columns) if columns is not None else None
        self.execute_error = execute_error
        self.fail_after = fail_after
        self.executed: list[str] = []
        self.cursors: list[FakeCursor] = []
        self.closed = False
        self.autocommit = False

    def cursor(self, name: str | None = None) -> FakeCursor:
        cursor = FakeCursor(self, name)
        self.cursors.append(cursor)
        return cursor

    def close(self) -> None:
        self.closed = True


class FakePsycopgConnection(FakeConnection):
    """A connection of a driver with server-side (named) cursors: the source looks at the class's package."""


FakePsycopgConnection.__module__ = "psycopg.connection"


class FakeHook:
    """What iter_hook_records needs of a DbApiHook: get_conn()."""

    def __init__(self, connection: FakeConnection) -> None:
        self.connection = connection
        self.connections_opened = 0

    def get_conn(self) -> FakeConnection:
        self.connections_opened += 1
        return self.connection


def rows(count: int, *, first: int = 1) -> list[tuple[str, str]]:
    return [(f"A-{n}", f"account{n}.com") for n in range(first, first + count)]


def read(connection: FakeConnection, columns=COLUMNS, chunk_size: int | None = 3) -> list:
    return list(iter_hook_records(FakeHook(connection), QUERY, columns, label=LABEL, chunk_size=chunk_size))


# --- which column feeds which source -----------------------------------------------------------


def test_each_source_is_read_from_the_column_named_after_its_path_without_the_namespace():
    assert [(column.source, column.name, column.key, column.purpose) for column in COLUMNS] == [
        ("xdm:accountKey.sourceKey", "accountKey.sourceKey", "accountKey.sourceKey", "mapped to identity:primaryId"),
        (
            "xdm:accountOrganization.domain",
            "accountOrganization.domain",
            "accountOrganization.domain",
            "mapped to xdm:companyWebsiteDomain",
        ),
    ]


def test_delta_mode_reads_the_status_field_too_and_a_source_mapped_twice_is_read_once():
    delta = sql_columns(MAPPINGS, DELTA)
    assert [column.name for column in delta] == ["accountKey.sourceKey", "accountOrganization.domain", "status"]
    assert delta[2].purpose == "the status_field of sync_mode='delta'"
    same = validate_mappings(
        [
            {"source": "xdm:accountOrganization.domain", "target": "identity:primaryId"},
            MAPPING_LIST[1],
        ]
    )
    assert [column.name for column in sql_columns(same, MIRROR)] == ["accountOrganization.domain"]


@pytest.mark.parametrize(
    ("source", "name", "key"),
    [
        ("XDM: accountOrganization.domain", "accountOrganization.domain", "accountOrganization.domain"),
        ("crm:account_id", "account_id", "crm:account_id"),  # another namespace: the key keeps it
        ("account_id", "account_id", "account_id"),
    ],
)
def test_the_namespace_is_left_out_of_the_column_name_whatever_it_is(source, name, key):
    column = SqlColumn.of(source, "mapped to identity:primaryId")
    assert (column.name, column.key) == (name, key)


@pytest.mark.parametrize(
    "names",
    [
        ["accountKey.sourceKey", "accountOrganization.domain"],
        ["ACCOUNTKEY.SOURCEKEY", "ACCOUNTORGANIZATION.DOMAIN"],  # Snowflake's unquoted names
        ["accountkey.sourcekey", "accountorganization.domain"],  # PostgreSQL's unquoted names
        ["accountKey__sourceKey", "accountOrganization__domain"],  # BigQuery: no dot in a column name
        ["ACCOUNTKEY__SOURCEKEY", "AccountOrganization__Domain"],
    ],
)
def test_columns_match_case_insensitively_and_with_double_underscores_for_dots(names):
    assert match_columns(["other", *names], COLUMNS) == (("accountKey.sourceKey", 1), ("accountOrganization.domain", 2))


@pytest.mark.parametrize(
    "name", ["accountOrganization_domain", "domain", "accountOrganization", "xdm:accountOrganization.domain"]
)
def test_other_names_do_not_match(name):
    with pytest.raises(BomboraValidationError):
        match_columns(["accountKey.sourceKey", name], COLUMNS)


def test_a_missing_column_is_named_with_its_mapping_and_the_columns_the_result_has():
    with pytest.raises(BomboraValidationError) as error:
        match_columns(["ACCOUNT_KEY", "WEBSITE", "accountKey.sourceKey"], COLUMNS)
    assert error.value.field == "sql"
    assert (
        "the query's result has no column for 'accountOrganization.domain' (mapped to xdm:companyWebsiteDomain); "
        "its columns are: ACCOUNT_KEY, WEBSITE, accountKey.sourceKey."
    ) in str(error.value)
    assert 'AS "accountOrganization.domain"' in str(error.value)
    assert "accountOrganization__domain" in str(error.value)


def test_every_missing_column_is_named():
    with pytest.raises(BomboraValidationError) as error:
        match_columns(["ACCOUNT_KEY", "WEBSITE"], sql_columns(MAPPINGS, DELTA))
    message = str(error.value)
    assert (
        "no column for 'accountKey.sourceKey' (mapped to identity:primaryId), nor for 'accountOrganization.domain' "
        "(mapped to xdm:companyWebsiteDomain), nor for 'status' (the status_field of sync_mode='delta'); "
        "its columns are: ACCOUNT_KEY, WEBSITE."
    ) in message


def test_two_columns_for_one_source_are_an_error():
    with pytest.raises(BomboraValidationError) as error:
        match_columns(["accountKey.sourceKey", "accountOrganization.domain", "ACCOUNTORGANIZATION__DOMAIN"], COLUMNS)
    assert "'accountOrganization.domain' (mapped to xdm:companyWebsiteDomain) matches 2 columns: " in str(error.value)
    assert "accountOrganization.domain, ACCOUNTORGANIZATION__DOMAIN" in str(error.value)


# --- reading rows --------------------------------------------------------------------------------


def test_rows_become_records_keyed_by_source_paths_numbered_from_one_with_only_the_mapped_columns():
    connection = FakeConnection(
        [("x", "A-1", "acme.com"), ("y", "A-2", "https://www.Globex.com/")],
        columns=["EXTRA", "accountKey.sourceKey", "ACCOUNTORGANIZATION.DOMAIN"],
    )
    assert read(connection) == [
        (1, {"accountKey.sourceKey": "A-1", "accountOrganization.domain": "acme.com"}),
        (2, {"accountKey.sourceKey": "A-2", "accountOrganization.domain": "https://www.Globex.com/"}),
    ]


def test_records_are_built_for_one_two_and_three_mapped_columns_across_chunks():
    """Two columns (mirror), three (delta adds the status) and one (a source mapped to both targets)."""
    three = sql_columns(MAPPINGS, DELTA)
    connection = FakeConnection(
        [("A-1", "exited", "acme.com", "x"), ("A-2", "realized", "globex.com", "y"), ("A-3", "existing", "i.io", "z")],
        columns=["accountKey.sourceKey", "STATUS", "accountOrganization.domain", "EXTRA"],
    )
    assert read(connection, three, chunk_size=2) == [
        (1, {"accountKey.sourceKey": "A-1", "accountOrganization.domain": "acme.com", "status": "exited"}),
        (2, {"accountKey.sourceKey": "A-2", "accountOrganization.domain": "globex.com", "status": "realized"}),
        (3, {"accountKey.sourceKey": "A-3", "accountOrganization.domain": "i.io", "status": "existing"}),
    ]
    same = validate_mappings(
        [{"source": "xdm:accountOrganization.domain", "target": "identity:primaryId"}, MAPPING_LIST[1]]
    )
    one = sql_columns(same, MIRROR)
    connection = FakeConnection(
        [("x", "acme.com"), ("y", "globex.com")], columns=["EXTRA", "accountOrganization.domain"]
    )
    assert read(connection, one, chunk_size=1) == [
        (1, {"accountOrganization.domain": "acme.com"}),
        (2, {"accountOrganization.domain": "globex.com"}),
    ]


def test_the_records_feed_the_activation_like_any_source():
    connection = FakeConnection(
        [("A-1", "acme.com"), ("A-2", "https://www.Globex.com/about"), ("A-3", "ACME.com"), ("A-4", "not a domain"),
         (None, "initech.io")],
        columns=["ACCOUNTKEY__SOURCEKEY", "ACCOUNTORGANIZATION__DOMAIN"],
    )
    desired = collect_audience(
        iter_hook_records(FakeHook(connection), QUERY, COLUMNS, label=LABEL), MAPPINGS, MIRROR
    )
    assert desired.to_add_candidates == {"acme.com", "globex.com"}
    assert (desired.received, desired.duplicates) == (5, 1)
    assert sum(desired.rejected_by_reason.values()) == 2
    assert [entry["record"] for entry in desired.rejected_sample] == [4, 5]  # row numbers


def test_dict_rows_are_read_by_column_name():
    connection = FakeConnection(
        [{"WEBSITE": "acme.com", "accountKey.sourceKey": "A-1", "accountOrganization.domain": "acme.com"}],
        columns=["accountKey.sourceKey", "accountOrganization.domain"],
    )
    assert read(connection) == [(1, {"accountKey.sourceKey": "A-1", "accountOrganization.domain": "acme.com"})]


def test_rows_are_fetched_a_chunk_at_a_time_with_fetchmany_never_fetchall():
    connection = FakeConnection(rows(10), columns=["accountKey.sourceKey", "accountOrganization.domain"])
    records = iter_hook_records(FakeHook(connection), QUERY, COLUMNS, label=LABEL, chunk_size=4)
    first = next(records)
    (cursor,) = connection.cursors
    assert first[0] == 1
    assert cursor.fetch_sizes == [4]  # one chunk read, the rest still on the server
    assert [position for position, _ in records] == list(range(2, 11))
    assert cursor.fetch_sizes == [4, 4, 4, 4]  # 4 + 4 + 2, and the empty chunk that ends it
    assert cursor.name is None  # the driver's own cursor: no server-side cursor in this driver


def test_the_default_chunk_size_is_read_when_the_query_starts(monkeypatch):
    monkeypatch.setattr(sql_source, "SQL_CHUNK_SIZE", 7)
    connection = FakeConnection(rows(3), columns=["accountKey.sourceKey", "accountOrganization.domain"])
    assert len(read(connection, chunk_size=None)) == 3
    assert connection.cursors[0].fetch_sizes == [7, 7]


def test_a_psycopg_connection_reads_through_a_named_server_side_cursor_in_a_transaction():
    connection = FakePsycopgConnection(rows(5), columns=["accountKey.sourceKey", "accountOrganization.domain"])
    connection.autocommit = True
    assert len(read(connection, chunk_size=2)) == 5
    (cursor,) = connection.cursors
    assert cursor.name is not None and cursor.name.startswith("bombora_audience_")
    assert connection.autocommit is False  # a named cursor lives in a transaction
    assert cursor.fetch_sizes == [2, 2, 2, 2]


def test_nothing_is_opened_before_the_first_record_is_asked_for():
    hook = FakeHook(FakeConnection(rows(1)))
    iter_hook_records(hook, QUERY, COLUMNS, label=LABEL)
    assert hook.connections_opened == 0


def test_connection_and_cursor_are_closed_when_the_rows_run_out():
    connection = FakeConnection(rows(3), columns=["accountKey.sourceKey", "accountOrganization.domain"])
    read(connection)
    assert connection.closed and connection.cursors[0].closed


def test_connection_and_cursor_are_closed_when_the_reader_stops_early():
    connection = FakeConnection(rows(100), columns=["accountKey.sourceKey", "accountOrganization.domain"])
    records = iter_hook_records(FakeHook(connection), QUERY, COLUMNS, label=LABEL, chunk_size=10)
    next(records)
    next(records)
    assert not connection.closed
    records.close()
    assert connection.closed and connection.cursors[0].closed
    assert connection.cursors[0].fetch_sizes == [10]


def test_a_failing_close_does_not_hide_the_error_on_its_way(caplog):
    connection = FakeConnection(rows(1), execute_error=DriverError('relation "crm.nope" does not exist'))

    def broken_close() -> None:
        raise DriverError("connection already closed")

    connection.close = broken_close  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING), pytest.raises(BomboraValidationError, match=r"crm\.nope"):
        read(connection)
    assert "Could not close the connection of connection 'warehouse' (fake): DriverError" in caplog.text


def test_a_failing_query_names_sql_the_connection_and_the_drivers_first_line_shortened():
    message = 'relation "crm.nope" does not exist\nLINE 1: SELECT * FROM crm.nope\n                ^\n' + "x" * 500
    connection = FakeConnection(rows(1), execute_error=DriverError(message))
    with pytest.raises(BomboraValidationError) as error:
        read(connection)
    assert error.value.field == "sql"
    assert str(error.value) == (
        "sql: the query failed on connection 'warehouse' (fake): DriverError: relation \"crm.nope\" does not exist"
    )
    assert connection.closed and connection.cursors[0].closed
    long = FakeConnection(rows(1), execute_error=DriverError("y" * 1000))
    with pytest.raises(BomboraValidationError) as error:
        read(long)
    assert len(error.value.problem) < 400 and error.value.problem.endswith("…")


def test_a_query_failing_mid_stream_is_the_same_error_and_closes_everything():
    connection = FakeConnection(rows(10), columns=["accountKey.sourceKey", "accountOrganization.domain"], fail_after=4)
    records = iter_hook_records(FakeHook(connection), QUERY, COLUMNS, label=LABEL, chunk_size=4)
    with pytest.raises(BomboraValidationError, match=r"query failed on connection 'warehouse' .*server closed"):
        list(records)
    assert connection.closed and connection.cursors[0].closed


def test_a_statement_without_a_result_is_refused():
    connection = FakeConnection([], columns=None)
    with pytest.raises(BomboraValidationError, match=r"returned no result .*sql must be a query"):
        read(connection)
    assert connection.closed


def test_a_missing_column_fails_before_any_record_and_shows_no_value(caplog):
    connection = FakeConnection([("A-1", "secret-prospect.com")])
    with caplog.at_level(logging.DEBUG), pytest.raises(BomboraValidationError) as error:
        read(connection)
    assert "its columns are: ACCOUNT_KEY, WEBSITE" in str(error.value)
    assert "secret-prospect" not in str(error.value) and "secret-prospect" not in caplog.text
    assert "A-1" not in str(error.value)
    assert connection.closed


def test_a_failure_to_connect_is_raised_unchanged_for_airflow_to_retry():
    class Unreachable:
        def get_conn(self):
            raise DriverError("could not connect to server: Connection refused")

    with pytest.raises(DriverError):
        list(iter_hook_records(Unreachable(), QUERY, COLUMNS, label=LABEL))


def test_an_empty_query_is_refused():
    with pytest.raises(BomboraValidationError, match="must be a SQL query"):
        iter_sql_records("  ", "warehouse", MAPPINGS, MIRROR)


# --- the connection's hook ---------------------------------------------------------------------------


class FakeDbApiHook(DbApiHook):
    conn_name_attr = "fake_conn_id"

    def __init__(self, connection: FakeConnection) -> None:
        super().__init__(fake_conn_id="warehouse")
        self.fake_connection = connection

    def get_conn(self) -> FakeConnection:
        return self.fake_connection


class FakeAirflowConnection:
    def __init__(self, conn_type: str, hook: object = None, error: Exception | None = None) -> None:
        self.conn_type = conn_type
        self.hook = hook
        self.error = error

    def get_hook(self) -> object:
        if self.error is not None:
            raise self.error
        return self.hook


@pytest.fixture
def connections(monkeypatch):
    """``{conn_id: FakeAirflowConnection}`` that BaseHook.get_connection answers from."""
    defined: dict[str, FakeAirflowConnection] = {}

    def get_connection(conn_id: str) -> FakeAirflowConnection:
        if conn_id not in defined:
            raise AirflowNotFoundException(f"The conn_id `{conn_id}` isn't defined")
        return defined[conn_id]

    monkeypatch.setattr("airflow.sdk.BaseHook.get_connection", get_connection)
    return defined


def test_the_hook_of_the_connection_is_used_when_it_is_a_dbapihook(connections):
    connection = FakeConnection(rows(2), columns=["accountKey.sourceKey", "accountOrganization.domain"])
    connections["warehouse"] = FakeAirflowConnection("postgres", FakeDbApiHook(connection))
    hook, label = sql_hook("warehouse")
    assert isinstance(hook, FakeDbApiHook) and label == "connection 'warehouse' (postgres)"
    assert [position for position, _ in iter_sql_records(QUERY, "warehouse", MAPPINGS, MIRROR)] == [1, 2]
    assert connection.executed == [QUERY]


def test_a_connection_whose_hook_is_not_a_dbapihook_is_refused_naming_it_and_its_type(connections):
    from airflow.sdk import BaseHook

    class HttpLikeHook(BaseHook):
        pass

    connections["bombora_default"] = FakeAirflowConnection("bombora", HttpLikeHook())
    with pytest.raises(BomboraValidationError) as error:
        iter_sql_records(QUERY, "bombora_default", MAPPINGS, MIRROR)
    assert error.value.field == "sql"
    assert "connection 'bombora_default' (bombora): its hook, " in str(error.value)
    assert "HttpLikeHook, is not a SQL hook (a common-sql DbApiHook)" in str(error.value)


def test_a_connection_type_without_an_installed_hook_is_refused(connections):
    from airflow.sdk.exceptions import AirflowException

    connections["snow"] = FakeAirflowConnection("snowflake", error=AirflowException('Unknown hook type "snowflake"'))
    with pytest.raises(BomboraValidationError, match=r"connection 'snow' \(snowflake\): no installed provider"):
        sql_hook("snow")


def test_an_undefined_connection_is_refused(connections):
    with pytest.raises(BomboraValidationError, match="connection 'nope' \\(sql_conn_id\\) is not defined"):
        sql_hook("nope")


# --- without the common-sql provider ------------------------------------------------------------


@pytest.fixture
def without_common_sql(monkeypatch):
    """Imports of airflow.providers.common.sql fail, as where the provider is not installed."""
    for name in list(sys.modules):
        if name == "airflow.providers.common.sql" or name.startswith("airflow.providers.common.sql."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "airflow.providers.common.sql", None)


def test_without_common_sql_the_error_says_what_to_install(without_common_sql):
    with pytest.raises(BomboraValidationError) as error:
        require_common_sql()
    assert error.value.field == "sql"
    assert "apache-airflow-providers-common-sql" in str(error.value)
    assert INSTALL_COMMAND in str(error.value) and "airflow-provider-bombora[sql]" in INSTALL_COMMAND


def test_with_common_sql_nothing_is_raised():
    require_common_sql()


# --- the operator ----------------------------------------------------------------------------------


def make(**overrides):
    kwargs = {"task_id": "activate", "audience_name": "High intent", "mappings": MAPPING_LIST}
    return BomboraActivateAudienceOperator(**{**kwargs, **overrides})


def test_sql_is_templated_from_a_string_or_a_sql_file():
    operator = make(sql="SELECT 1 WHERE day = '{{ ds }}'", sql_conn_id="warehouse")
    assert "sql" in operator.template_fields
    assert operator.template_ext == (".sql",)
    assert operator.template_fields_renderers["sql"] == "sql"
    assert operator.accounts is None and operator.sql_conn_id == "warehouse"


def test_sql_at_parse_time_needs_the_common_sql_provider(without_common_sql):
    with pytest.raises(BomboraValidationError) as error:
        make(sql=QUERY, sql_conn_id="warehouse")
    assert INSTALL_COMMAND in str(error.value)
    make(accounts=[])  # accounts alone needs no common-sql


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"accounts": [], "sql": QUERY, "sql_conn_id": "warehouse"}, "accounts", "exactly one of accounts"),
        ({}, "accounts", "give exactly one of accounts (records, a file or a URL) and sql"),
        ({"sql": QUERY}, "sql_conn_id", "must name the connection the query runs on"),
        ({"sql": QUERY, "sql_conn_id": " "}, "sql_conn_id", "must name the connection"),
        ({"sql": "", "sql_conn_id": "warehouse"}, "sql", "must be a SQL query"),
        ({"accounts": [], "sql_conn_id": "warehouse"}, "sql_conn_id", "is only used with sql"),
    ],
)
def test_the_record_source_is_checked_when_the_dag_is_parsed(overrides, field, fragment):
    with pytest.raises(BomboraValidationError) as error:
        make(**overrides)
    assert error.value.field == field
    assert fragment in str(error.value)
    if field == "accounts":
        assert "sql" in str(error.value)


def test_constructing_with_sql_reads_no_connection(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("no connection may be read at parse time")

    monkeypatch.setattr("airflow.sdk.BaseHook.get_connection", refuse)
    make(sql="{{ var.value.audience_query }}", sql_conn_id="warehouse")


def context() -> dict:
    return {"logical_date": datetime(2026, 11, 27, tzinfo=timezone.utc)}


def test_execute_activates_the_rows_of_the_query(connections):
    connection = FakeConnection(
        [("A-1", "acme.com"), ("A-2", "https://www.globex.com/"), ("A-3", "initech.io")],
        columns=["accountKey.sourceKey", "accountOrganization.domain"],
    )
    connections["warehouse"] = FakeAirflowConnection("postgres", FakeDbApiHook(connection))
    operator = make(sql=QUERY, sql_conn_id="warehouse")
    lists = FakeAccountLists()
    operator.__dict__["hook"] = lists  # the cached_property's value: the fake Bombora
    result = operator.execute(context())
    assert (result["accounts_received"], result["accounts_valid"], result["added"]) == (3, 3, 3)
    assert connection.closed


@pytest.mark.parametrize(
    ("connection", "fragment"),
    [
        (FakeConnection([("A-1", "acme.com")]), "no column for 'accountKey.sourceKey'"),
        (FakeConnection([], execute_error=DriverError("syntax error at or near \"SELEC\"")), "the query failed"),
    ],
)
def test_execute_fails_without_retries_before_anything_reaches_bombora(connections, connection, fragment):
    connections["warehouse"] = FakeAirflowConnection("postgres", FakeDbApiHook(connection))
    operator = make(sql=QUERY, sql_conn_id="warehouse")
    lists = FakeAccountLists()
    operator.__dict__["hook"] = lists
    with pytest.raises(AirflowFailException, match=fragment):
        operator.execute(context())
    assert lists.calls == []  # not even a read of the list
    assert connection.closed
