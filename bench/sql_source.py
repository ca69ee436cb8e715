"""Benchmark 6: the SQL source (``sql=``) against its driver alone, on a throwaway PostgreSQL cluster.

A table of account rows (the mix of :mod:`bench.data`, made by ``generate_series`` on the server)
is read with the same query, the same chunk size, each read a fresh process
(:mod:`bench.sql_worker`), interleaved and repeated:

* **provider**: :func:`~airflow_provider_bombora.sources.sql.iter_sql_records`, PostgresHook's
  connection, a named server-side cursor, ``fetchmany``, the columns matched, a dict per row,
  every record consumed;
* **driver alone**: the same driver (psycopg 3 or psycopg2, as PostgresHook picks), a named
  cursor, ``fetchmany`` of the same size, each row's two columns read (unpacked), nothing built;
* **driver alone, rows not read**: the same, each chunk dropped unread (the reference of the
  earlier runs, reported beside the other).

Then, where a sandbox is given, the whole activation: ``operator.execute()`` with ``sql=`` into
an empty sandbox list (:mod:`bench.end_to_end_worker`).

The cluster comes from ``tests/postgres_cluster.py`` (shared with the tests that need PostgreSQL;
its folder is put on ``sys.path``). Without PostgreSQL or its drivers the benchmark is skipped,
with the reason, and the report says so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench.servers import RemoteSandbox, RunningServer

if TYPE_CHECKING:
    from postgres_cluster import PostgresCluster

TESTS_DIR = Path(__file__).resolve().parent.parent / "tests"
CONN_ID = "bench_warehouse"
PROVIDER = "provider (iter_sql_records)"
DRIVER = "driver alone (named cursor, fetchmany)"
UNREAD = "driver alone, rows not read"
ACTIVATION = "activation (operator.execute, sql=)"
QUERY = (
    'SELECT account_key AS "accountKey.sourceKey", website AS "accountOrganization.domain" '
    "FROM bench.accounts ORDER BY n"
)
RUN_DATE = "2026-11-27T00:00:00+00:00"
#: The rows of bench/data.py's records (domain_value), made on the server.
LOAD = """
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;
CREATE TABLE bench.accounts AS
SELECT n,
       'crm-' || lpad(n::text, 7, '0') AS account_key,
       CASE WHEN n % 200 = 199 THEN 'n/a'
            WHEN n % 100 = 99 THEN 'company' || lpad((n - 1)::text, 7, '0') || '.com'
            WHEN n % 50 = 49 THEN '  COMPANY' || lpad(n::text, 7, '0') || '.COM '
            WHEN n % 20 = 19 THEN 'https://www.Company' || lpad(n::text, 7, '0') || '.com/about'
            ELSE 'company' || lpad(n::text, 7, '0') || '.com'
       END AS website
FROM generate_series(0, {rows} - 1) AS n;
CREATE UNIQUE INDEX ON bench.accounts (n);
VACUUM ANALYZE bench.accounts;
"""


@dataclass(frozen=True)
class SqlRead:
    """One way of reading the query: the fastest of its runs, and the highest peak of them."""

    reader: str
    driver: str
    rows: int
    chunk_size: int
    runs: int
    seconds: float
    baseline_rss: int
    peak_rss: int

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds

    @property
    def peak_bytes_per_account(self) -> float:
        return (self.peak_rss - self.baseline_rss) / self.rows


@dataclass(frozen=True)
class SqlFigure:
    """The SQL benchmark's figures, or why it was skipped (``skipped`` set, the rest empty)."""

    rows: int
    chunk_size: int
    reads: tuple[SqlRead, ...] = ()
    skipped: str | None = None
    #: The driver alone with its rows not read (not in ``reads``: the provider's target is against
    #: the driver that reads them).
    unread: SqlRead | None = None

    def read(self, reader: str) -> SqlRead | None:
        return next((read for read in self.reads if read.reader == reader), None)

    @property
    def provider_vs_driver(self) -> float | None:
        """Provider rows/s ÷ driver rows/s."""
        provider, driver = self.read(PROVIDER), self.read(DRIVER)
        if provider is None or driver is None:
            return None
        return provider.rows_per_second / driver.rows_per_second

    @property
    def provider_vs_unread(self) -> float | None:
        """Provider rows/s ÷ the rows/s of the driver that does not read its rows."""
        provider = self.read(PROVIDER)
        if provider is None or self.unread is None:
            return None
        return provider.rows_per_second / self.unread.rows_per_second


def _unavailable() -> str | None:
    """Why the benchmark cannot run here, or None."""
    if str(TESTS_DIR) not in sys.path:
        sys.path.insert(0, str(TESTS_DIR))
    try:
        from postgres_cluster import INSTALL_HINT, postgres_bindir
    except ImportError as error:  # the module imports pytest (the test extra)
        return f"tests/postgres_cluster.py cannot be imported ({error}): install the test extra"
    if postgres_bindir() is None:
        return f"PostgreSQL is not installed (no initdb/pg_ctl): {INSTALL_HINT}"
    for module in ("airflow.providers.postgres.hooks.postgres", "psycopg2"):
        try:
            __import__(module)
        except ImportError as error:
            return f"{error.name} is missing: install the test extra (scripts/ensure-venv.sh test)"
    return None


@contextmanager
def _warehouse() -> Iterator[PostgresCluster]:
    from postgres_cluster import PostgresCluster, postgres_bindir

    bindir = postgres_bindir()
    assert bindir is not None  # checked by _unavailable()
    root = Path(tempfile.mkdtemp(prefix="bombora-bench-sql-"))
    root.chmod(0o755)  # PostgreSQL, run as the postgres user when we are root, must reach its folder
    cluster = PostgresCluster(bindir, root / "postgres", database="warehouse")
    try:
        yield cluster.start()
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def _connection_json(cluster: PostgresCluster) -> str:
    return json.dumps(
        {"conn_type": "postgres", "host": "127.0.0.1", "port": cluster.port, "login": "postgres",
         "schema": cluster.database}
    )  # fmt: skip


def _load(cluster: PostgresCluster, rows: int) -> None:
    import psycopg2

    connection = psycopg2.connect(host="127.0.0.1", port=cluster.port, user="postgres", dbname=cluster.database)
    try:
        connection.autocommit = True  # VACUUM runs outside a transaction
        with connection.cursor() as cursor:
            for statement in LOAD.format(rows=int(rows)).split(";"):  # one at a time: VACUUM in none
                if statement.strip():
                    cursor.execute(statement)
    finally:
        connection.close()


def _worker(command: list[str], environment: dict[str, str], what: str) -> dict:
    finished = subprocess.run([sys.executable, "-m", *command], capture_output=True, text=True, env=environment)
    if finished.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{finished.stderr[-3000:]}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def measure_sql(
    rows: int,
    *,
    chunk_size: int,
    repeats: int,
    sandbox: RunningServer | None = None,
    admin: RemoteSandbox | None = None,
    batch_size: int = 1000,
) -> SqlFigure:
    """Read ``rows`` rows through the provider and through the driver alone (``repeats`` times each,
    interleaved), then activate them once into the sandbox, if given."""
    reason = _unavailable()
    if reason is not None:
        return SqlFigure(rows=rows, chunk_size=chunk_size, skipped=reason)
    with _warehouse() as cluster:
        _load(cluster, rows)
        environment = {**os.environ, f"AIRFLOW_CONN_{CONN_ID.upper()}": _connection_json(cluster)}
        outcomes: dict[str, list[dict]] = {PROVIDER: [], DRIVER: [], UNREAD: []}
        for _repeat in range(repeats):
            for reader, mode in ((PROVIDER, "provider"), (DRIVER, "driver"), (UNREAD, "unread")):
                command = ["bench.sql_worker", "--mode", mode, "--sql", QUERY, "--conn-id", CONN_ID,
                           "--chunk-size", str(chunk_size)]  # fmt: skip
                outcomes[reader].append(_worker(command, environment, f"The SQL read ({mode})"))
        if sandbox is not None and admin is not None:
            admin.reset()
            command = [
                "bench.end_to_end_worker",
                *("--sql", QUERY, "--sql-conn-id", CONN_ID, "--audience", f"Bench SQL audience {rows}"),
                *("--run-date", RUN_DATE, "--batch-size", str(batch_size)),
            ]
            activation = _worker(
                command, {**environment, "AIRFLOW_CONN_BOMBORA_DEFAULT": sandbox.connection_json}, "The SQL activation"
            )
            activation["rows"] = activation["result"]["accounts_received"]
            activation["driver"] = outcomes[PROVIDER][0]["driver"]
            outcomes[ACTIVATION] = [activation]
    reads: list[SqlRead] = []
    for reader, runs in outcomes.items():
        if {run["rows"] for run in runs} != {rows}:
            raise RuntimeError(f"{reader} read {sorted({run['rows'] for run in runs})} rows, not {rows}")
        fastest = min(runs, key=lambda run: run["seconds"])
        highest = max(runs, key=lambda run: run["peak_rss"] - run["baseline_rss"])
        reads.append(
            SqlRead(
                reader=reader,
                driver=fastest["driver"],
                rows=rows,
                chunk_size=chunk_size,
                runs=len(runs),
                seconds=fastest["seconds"],
                baseline_rss=highest["baseline_rss"],
                peak_rss=highest["peak_rss"],
            )
        )
    unread = next(read for read in reads if read.reader == UNREAD)
    reads.remove(unread)
    return SqlFigure(rows=rows, chunk_size=chunk_size, reads=tuple(reads), unread=unread)
