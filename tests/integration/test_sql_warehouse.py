"""Audiences read from a SQL warehouse: the operator's ``sql=`` against a real PostgreSQL server (a
throwaway cluster, tests/postgres_cluster.py) and against SQLite through the sqlite provider, run
with dag.test() against the sandbox.

PostgreSQL is found as the system tier finds it (Debian's postgresql-15); without it these tests
are skipped here, saying how to install it, and fail under CI (``CI=true``). The SQLite tests need
no server: they cover the feature where PostgreSQL is missing.

That the read is streamed is shown by the cursor itself (a spy around the one the source opens):
a server-side cursor on PostgreSQL, ``fetchmany`` of the chunk size, never ``fetchall``, and the
connection gone from the server once the reader stops.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from postgres_cluster import PostgresCluster, require_postgres_bindir

from airflow_provider_bombora.activation import ActivationRequest, collect_audience
from airflow_provider_bombora.exceptions import BomboraValidationError
from airflow_provider_bombora.mappings import validate_mappings
from airflow_provider_bombora.sources import sql as sql_source

DAY = datetime(2026, 11, 27, tzinfo=timezone.utc)
MAPPING_LIST = [
    {"source": "xdm:accountKey.sourceKey", "target": "identity:primaryId"},
    {"source": "xdm:accountOrganization.domain", "target": "xdm:companyWebsiteDomain"},
]
MAPPINGS = validate_mappings(MAPPING_LIST)
MIRROR = ActivationRequest(audience_name="High intent accounts", dataflow_id="abm.activate")
#: The brief's example query: dotted aliases in double quotes, the run's day from the template.
EXAMPLE_QUERY = (
    'SELECT account_key AS "accountKey.sourceKey", website AS "accountOrganization.domain" '
    "FROM crm.high_intent WHERE day = '{{ ds }}'"
)

DAG_SOURCE = """
from airflow.sdk import DAG
from airflow_provider_bombora.operators.bombora import BomboraActivateAudienceOperator

with DAG({dag_id!r}, schedule=None, template_searchpath={searchpath!r}) as dag:
    BomboraActivateAudienceOperator(
        task_id="activate",
        audience_name="High intent accounts",
        mappings={mappings!r},
        poll_interval=0.05,
        retries=3,
        **{kwargs!r},
    )
"""


@pytest.fixture
def activate_sql(run_dag, tmp_path):
    """Run a one-task DAG activating the rows of ``sql`` (a query, or a ``.sql`` file in ``tmp_path``)."""

    def run(dag_id: str = "abm_sql", logical_date: datetime = DAY, **kwargs):
        source = DAG_SOURCE.format(dag_id=dag_id, searchpath=[str(tmp_path)], mappings=MAPPING_LIST, kwargs=kwargs)
        return run_dag(dag_id, source, logical_date)

    return run


def the_domains(sandbox, name: str = "High intent accounts") -> set[str]:
    (account_list,) = [item for item in sandbox.account_lists() if item["name"] == name]
    return set(account_list["domains"])


class CursorSpy:
    """The cursor the source opened, with a record of how its rows were read."""

    def __init__(self, cursor, server_side: bool) -> None:
        self.cursor = cursor
        self.server_side = server_side
        self.fetch_sizes: list[int] = []
        self.rows_per_fetch: list[int] = []
        self.whole_reads: list[str] = []
        self.row_types: set[type] = set()
        self.closed = False

    def execute(self, sql):
        return self.cursor.execute(sql)

    @property
    def description(self):
        return self.cursor.description

    def fetchmany(self, size):
        rows = self.cursor.fetchmany(size)
        self.fetch_sizes.append(size)
        self.rows_per_fetch.append(len(rows))
        self.row_types.update(type(row) for row in rows[:1])
        return rows

    def fetchall(self):
        self.whole_reads.append("fetchall")
        return self.cursor.fetchall()

    def fetchone(self):
        self.whole_reads.append("fetchone")
        return self.cursor.fetchone()

    def __iter__(self):
        self.whole_reads.append("iter")
        return iter(self.cursor)

    def close(self):
        self.closed = True
        self.cursor.close()


@pytest.fixture
def cursor_spies(monkeypatch) -> list[CursorSpy]:
    """Every cursor the SQL source opens from now on, spied on (tasks run in this process)."""
    spies: list[CursorSpy] = []
    open_cursor = sql_source._open_cursor

    def spied_open_cursor(connection):
        cursor, server_side = open_cursor(connection)
        spies.append(CursorSpy(cursor, server_side))
        return spies[-1], server_side

    monkeypatch.setattr(sql_source, "_open_cursor", spied_open_cursor)
    return spies


# --- PostgreSQL -------------------------------------------------------------------------------------


def _require_drivers() -> None:
    try:
        import airflow.providers.postgres.hooks.postgres  # noqa: F401
        import psycopg  # noqa: F401
        import psycopg2  # noqa: F401
    except ImportError as missing:
        message = f"{missing.name} is missing: install the test extra (scripts/ensure-venv.sh test)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL cluster for the session, with a database ``warehouse``."""
    bindir = require_postgres_bindir("the SQL source's integration tests query a real PostgreSQL server")
    _require_drivers()
    root = Path(tempfile.mkdtemp(prefix="bombora-sql-"))
    root.chmod(0o755)  # PostgreSQL, run as the postgres user, must reach its folder inside
    cluster = PostgresCluster(bindir, root / "postgres", database="warehouse")
    try:
        yield cluster.start()
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def psql(cluster: PostgresCluster, *statements: str) -> list[tuple]:
    """Run statements on the warehouse (committed); the last one's rows, if it has any."""
    import psycopg2

    # A reader a failed test left open holds its locks: a test waiting for one fails instead of hanging.
    conn = psycopg2.connect(
        host="127.0.0.1", port=cluster.port, user="postgres", dbname=cluster.database, options="-c lock_timeout=20s"
    )
    try:
        with conn, conn.cursor() as cursor:  # commits
            for statement in statements:
                cursor.execute(statement)
            result = cursor.fetchall() if cursor.description is not None else []
    finally:
        conn.close()
    return result


@pytest.fixture
def warehouse(postgres_server, monkeypatch):
    """``AIRFLOW_CONN_WAREHOUSE``: the cluster's warehouse database, with a fresh ``crm`` schema."""
    psql(postgres_server, "DROP SCHEMA IF EXISTS crm CASCADE", "CREATE SCHEMA crm")
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", postgres_connection(postgres_server))
    return postgres_server


def postgres_connection(cluster: PostgresCluster, **extra) -> str:
    return json.dumps(
        {
            "conn_type": "postgres",
            "host": "127.0.0.1",
            "port": cluster.port,
            "login": "postgres",
            "schema": cluster.database,
            "extra": extra,
        }
    )


#: 100,000 accounts of 2026-11-27, written five messy ways; every 1000th is invalid (an e-mail
#: address or not a domain at all); 100 more rows repeat accounts in yet another spelling; and the
#: day before holds accounts that the query's WHERE leaves out.
MESSY_ACCOUNTS = """
CREATE TABLE crm.high_intent (account_key text, website text, day date);
INSERT INTO crm.high_intent
SELECT 'A-' || n,
       CASE WHEN n % 2000 = 0 THEN 'not a domain'
            WHEN n % 2000 = 1000 THEN format('sales@company%s.com', n)
            ELSE format((ARRAY['company%s.com', 'https://www.Company%s.com/about', 'WWW.company%s.COM',
                               ' company%s.com ', 'http://company%s.com/path?x=1', 'Company%s.COM/'])[1 + n % 6], n)
       END,
       DATE '2026-11-27'
FROM generate_series(1, 100000) AS n;
INSERT INTO crm.high_intent SELECT 'B-' || n, format('www.company%s.com.', n), DATE '2026-11-27'
FROM generate_series(1, 100) AS n;
INSERT INTO crm.high_intent SELECT 'C-' || n, format('yesterday%s.com', n), DATE '2026-11-26'
FROM generate_series(1, 500) AS n;
"""
EXPECTED = {f"company{n}.com" for n in range(1, 100_001) if n % 1000 != 0}


def test_100000_messy_rows_of_the_day_activate_the_exact_list_streamed(
    sandbox, warehouse, activate_sql, cursor_spies, monkeypatch
):
    psql(warehouse, MESSY_ACCOUNTS)
    sandbox.configure(log_bodies=False)
    monkeypatch.setattr(sql_source, "SQL_CHUNK_SIZE", 5000)

    outcome = activate_sql(sql=EXAMPLE_QUERY, sql_conn_id="warehouse", batch_size=10_000)

    assert outcome.task_states == {"activate": "success"}, outcome.output
    assert the_domains(sandbox) == EXPECTED
    result = outcome.xcom["activate"]
    assert (result["accounts_received"], result["accounts_valid"]) == (100_100, len(EXPECTED))
    assert (result["duplicates"], result["rejected"], result["added"]) == (100, 100, len(EXPECTED))
    assert result["rejected_by_reason"] == {"email": 50, "invalid_character": 50}
    # Streamed: a server-side cursor read 5000 rows at a time, and nothing read the result whole.
    (spy,) = cursor_spies
    assert spy.server_side and getattr(spy.cursor, "name", None)  # a named (server-side) cursor
    assert set(spy.fetch_sizes) == {5000} and len(spy.fetch_sizes) == 22  # 20 full, 100 rows, the empty end
    assert max(spy.rows_per_fetch) == 5000 and sum(spy.rows_per_fetch) == 100_100
    assert spy.whole_reads == []
    assert spy.closed
    assert "Reading the audience from connection 'warehouse' (postgres), 5000 rows at a time (server-side cursor)" in (
        outcome.output
    )
    assert "company" not in "".join(line for line in outcome.output.splitlines() if "sources.sql" in line)


@pytest.fixture(params=["psycopg", "psycopg2"])
def driver(request, monkeypatch) -> str:
    """PostgresHook's driver: psycopg 3 (its default with SQLAlchemy 2) or psycopg2."""
    from airflow.providers.postgres.hooks import postgres

    monkeypatch.setattr(postgres, "USE_PSYCOPG3", request.param == "psycopg")
    return request.param


def test_each_driver_reads_through_a_server_side_cursor_and_closes_it_when_the_reader_stops(
    warehouse, driver, cursor_spies, monkeypatch
):
    psql(warehouse, MESSY_ACCOUNTS)
    application = f"bombora-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", postgres_connection(warehouse, application_name=application))
    query = EXAMPLE_QUERY.replace("{{ ds }}", "2026-11-27")
    records = sql_source.iter_sql_records(query, "warehouse", MAPPINGS, MIRROR, chunk_size=1000)
    try:
        first = [next(records) for _ in range(1500)]
        open_sessions = sessions_of(warehouse, application)
    finally:
        records.close()  # the reader stops early

    (spy,) = cursor_spies
    assert type(spy.cursor).__module__.partition(".")[0] == driver
    assert spy.server_side and getattr(spy.cursor, "name", None)  # a named (server-side) cursor
    assert spy.fetch_sizes == [1000, 1000] and spy.whole_reads == []  # 2000 rows on this side, at most
    assert [position for position, _ in first] == list(range(1, 1501))
    assert set(first[0][1]) == {"accountKey.sourceKey", "accountOrganization.domain"}
    assert open_sessions == 1
    assert spy.closed
    deadline = time.monotonic() + 10
    while sessions_of(warehouse, application) and time.monotonic() < deadline:
        time.sleep(0.05)  # the server ends the session just after the client hangs up
    assert sessions_of(warehouse, application) == 0


def sessions_of(cluster: PostgresCluster, application: str) -> int:
    """How many server sessions the application named ``application`` has open."""
    query = f"SELECT count(*) FROM pg_stat_activity WHERE application_name = '{application}'"
    return psql(cluster, query)[0][0]


@pytest.mark.parametrize("cursor", ["dictcursor", "namedtuplecursor"])
def test_the_connections_cursor_extra_changes_the_rows_not_the_records(warehouse, driver, cursor, cursor_spies,
                                                                        monkeypatch):
    psql(warehouse, MESSY_ACCOUNTS)
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", postgres_connection(warehouse, cursor=cursor))
    query = EXAMPLE_QUERY.replace("{{ ds }}", "2026-11-27") + " ORDER BY account_key LIMIT 2"
    assert list(sql_source.iter_sql_records(query, "warehouse", MAPPINGS, MIRROR)) == [
        (1, {"accountKey.sourceKey": "A-1", "accountOrganization.domain": "https://www.Company1.com/about"}),
        (2, {"accountKey.sourceKey": "A-10", "accountOrganization.domain": "http://company10.com/path?x=1"}),
    ]
    (row_type,) = cursor_spies[0].row_types
    assert row_type is not tuple  # the extra did change the rows (dicts, DictRow lists or named tuples)


SMALL_AUDIENCE = """
CREATE TABLE crm.high_intent (account_key text, website text, day date);
INSERT INTO crm.high_intent VALUES
    ('A-1', 'acme.com', '2026-11-27'), ('A-2', 'https://www.Globex.com/about', '2026-11-27'),
    ('A-3', 'INITECH.IO', '2026-11-27'), ('A-4', 'hooli.com', '2026-11-26');
"""


def test_upper_case_column_names_match_their_sources(sandbox, warehouse, activate_sql):
    psql(warehouse, SMALL_AUDIENCE)
    query = (
        'SELECT account_key AS "ACCOUNTKEY.SOURCEKEY", website AS ACCOUNTORGANIZATION__DOMAIN, day AS "DAY" '
        "FROM crm.high_intent WHERE day = '2026-11-27'"
    )

    outcome = activate_sql(sql=query, sql_conn_id="warehouse")

    assert outcome.task_states == {"activate": "success"}, outcome.output
    assert the_domains(sandbox) == {"acme.com", "globex.com", "initech.io"}


def test_a_templated_sql_file_reads_the_rows_of_the_runs_day(sandbox, warehouse, activate_sql, tmp_path):
    psql(warehouse, SMALL_AUDIENCE)
    (tmp_path / "high_intent.sql").write_text(
        "-- the accounts of the run's day\n"
        'SELECT account_key AS "accountKey.sourceKey", website AS "accountOrganization.domain"\n'
        "FROM crm.high_intent\nWHERE day = '{{ ds }}';\n"
    )

    day_before = activate_sql(
        sql="high_intent.sql", sql_conn_id="warehouse", logical_date=datetime(2026, 11, 26, tzinfo=timezone.utc)
    )
    assert day_before.task_states == {"activate": "success"}, day_before.output
    assert the_domains(sandbox) == {"hooli.com"}

    day = activate_sql(sql="high_intent.sql", sql_conn_id="warehouse", logical_date=DAY)
    assert day.task_states == {"activate": "success"}, day.output
    assert the_domains(sandbox) == {"acme.com", "globex.com", "initech.io"}
    assert day.xcom["activate"]["removed"] == 1


def test_a_missing_column_fails_the_task_without_retries_before_anything_is_sent(sandbox, warehouse, activate_sql):
    psql(warehouse, SMALL_AUDIENCE)
    query = "SELECT account_key, website FROM crm.high_intent WHERE day = '{{ ds }}'"

    outcome = activate_sql(sql=query, sql_conn_id="warehouse")

    assert outcome.task_states == {"activate": "failed"}  # not up_for_retry, though retries=3
    assert (
        "sql: the query's result has no column for 'accountKey.sourceKey' (mapped to identity:primaryId), nor for "
        "'accountOrganization.domain' (mapped to xdm:companyWebsiteDomain); its columns are: account_key, website."
    ) in outcome.output
    assert sandbox.request_log() == []
    assert "globex" not in outcome.output.lower() and "acme" not in outcome.output


def test_a_broken_query_fails_the_task_without_retries_with_the_drivers_message(sandbox, warehouse, activate_sql):
    outcome = activate_sql(sql="SELECT account_key FROM crm.no_such_table", sql_conn_id="warehouse")

    assert outcome.task_states == {"activate": "failed"}
    assert "sql: the query failed on connection 'warehouse' (postgres): UndefinedTable: " in outcome.output
    assert 'relation "crm.no_such_table" does not exist' in outcome.output
    assert sandbox.request_log() == []


def test_a_connection_that_is_no_database_fails_the_task_naming_it(sandbox, activate_sql):
    outcome = activate_sql(sql="SELECT 1", sql_conn_id="bombora_default")

    assert outcome.task_states == {"activate": "failed"}
    assert "sql: connection 'bombora_default' (bombora): its hook, " in outcome.output
    assert "is not a SQL hook (a common-sql DbApiHook)" in outcome.output
    assert sandbox.request_log() == []


# --- SQLite (no server needed) ----------------------------------------------------------------------


@pytest.fixture
def sqlite_warehouse(tmp_path, monkeypatch) -> Path:
    """``AIRFLOW_CONN_WAREHOUSE_LITE``: a SQLite file with 1,000 messy accounts of two days."""
    path = tmp_path / "warehouse.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE high_intent (account_key TEXT, website TEXT, day TEXT)")
        spellings = ["company{}.com", "https://www.Company{}.com/x", "WWW.COMPANY{}.COM", " company{}.com. "]
        db.executemany(
            "INSERT INTO high_intent VALUES (?, ?, ?)",
            [
                (f"A-{n}", "not a domain" if n % 100 == 0 else spellings[n % 4].format(n), "2026-11-27")
                for n in range(1, 1001)
            ]
            + [(f"B-{n}", f"yesterday{n}.com", "2026-11-26") for n in range(1, 11)],
        )
    db.close()
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_LITE", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    return path


SQLITE_QUERY = (
    'SELECT account_key AS ACCOUNTKEY__SOURCEKEY, website AS "AccountOrganization.Domain" '
    "FROM high_intent WHERE day = '{{ ds }}'"
)


def test_sqlite_a_templated_query_activates_the_exact_list(
    sandbox, sqlite_warehouse, activate_sql, cursor_spies, monkeypatch
):
    monkeypatch.setattr(sql_source, "SQL_CHUNK_SIZE", 300)

    outcome = activate_sql(sql=SQLITE_QUERY, sql_conn_id="warehouse_lite")

    assert outcome.task_states == {"activate": "success"}, outcome.output
    assert the_domains(sandbox) == {f"company{n}.com" for n in range(1, 1001) if n % 100 != 0}
    assert (outcome.xcom["activate"]["accounts_received"], outcome.xcom["activate"]["rejected"]) == (1000, 10)
    (spy,) = cursor_spies
    assert not spy.server_side and spy.fetch_sizes == [300] * 5 and spy.whole_reads == [] and spy.closed


def test_sqlite_a_missing_column_and_a_broken_query_fail_the_task(sandbox, sqlite_warehouse, activate_sql):
    missing = activate_sql(sql="SELECT account_key, website AS domain FROM high_intent", sql_conn_id="warehouse_lite")
    broken = activate_sql(sql="SELECT * FROM nowhere", sql_conn_id="warehouse_lite")

    assert missing.task_states == broken.task_states == {"activate": "failed"}
    assert "no column for 'accountKey.sourceKey'" in missing.output
    assert "its columns are: account_key, domain." in missing.output
    assert (
        "sql: the query failed on connection 'warehouse_lite' (sqlite): OperationalError: no such table: nowhere"
    ) in broken.output
    assert sandbox.request_log() == []


def test_sqlite_rows_feed_the_activation_and_the_connection_closes_on_an_early_stop(sqlite_warehouse, cursor_spies):
    query = SQLITE_QUERY.replace("{{ ds }}", "2026-11-27")
    records = sql_source.iter_sql_records(query, "warehouse_lite", MAPPINGS, MIRROR, chunk_size=100)
    first = next(records)
    assert first == (1, {"accountKey.sourceKey": "A-1", "accountOrganization.domain": "https://www.Company1.com/x"})
    records.close()
    assert cursor_spies[0].closed and cursor_spies[0].fetch_sizes == [100]

    day_before = SQLITE_QUERY.replace("{{ ds }}", "2026-11-26")
    desired = collect_audience(
        sql_source.iter_sql_records(day_before, "warehouse_lite", MAPPINGS, MIRROR), MAPPINGS, MIRROR
    )
    assert desired.to_add_candidates == {f"yesterday{n}.com" for n in range(1, 11)}
    with pytest.raises(BomboraValidationError, match="statement returned no result"):
        list(sql_source.iter_sql_records("UPDATE high_intent SET day = NULL", "warehouse_lite", MAPPINGS, MIRROR))
    with sqlite3.connect(sqlite_warehouse) as db:  # the statement's change was never committed
        assert db.execute("SELECT count(*) FROM high_intent WHERE day IS NULL").fetchone() == (0,)
    db.close()


def test_without_postgresql_the_tests_skip_saying_how_to_install_it_and_fail_under_ci(monkeypatch):
    """Without PostgreSQL the skip says how to install it; under CI it is a failure."""
    import postgres_cluster

    monkeypatch.setattr(postgres_cluster, "postgres_bindir", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install postgresql-15"):
        require_postgres_bindir("the SQL source's integration tests query a real PostgreSQL server")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="PostgreSQL is not installed"):
        require_postgres_bindir("the SQL source's integration tests query a real PostgreSQL server")

