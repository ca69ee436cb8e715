"""One read of a PostgreSQL query, in a process of its own: ``python -m bench.sql_worker``.

``--mode provider`` reads it as the operator's ``sql=`` does, through
:func:`airflow_provider_bombora.sources.sql.iter_sql_records` on the connection in
``AIRFLOW_CONN_<conn id>`` (PostgresHook, its driver, a named server-side cursor, ``fetchmany``
of ``--chunk-size``, the columns matched, a dict per row), every ``(position, record)`` pair read
by a ``for`` loop that unpacks it, as the activation's reader does, and dropped.
``--mode driver`` is the reference: the driver PostgresHook uses, alone, the same query on a
named cursor, ``fetchmany`` of the same size, each row's columns read (unpacked into the account
key and the website: what any use of the rows does at the least), nothing built.
``--mode unread`` is the same without reading the rows (``fetchmany`` only, each chunk dropped),
the reference of the earlier runs, still reported.

Everything either mode imports is imported first (and, for the provider, the hook made once,
without a query), and the garbage collector makes a full collection; then the peak resident set
size is reset (the baseline). Prints one JSON
object on its last line of stdout: seconds, rows, baseline and peak RSS, the driver's name.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from typing import Any

from bench.rss import peak_rss_bytes, reset_peak_rss

MAPPINGS = [
    {"source": "xdm:accountKey.sourceKey", "target": "identity:primaryId"},
    {"source": "xdm:accountOrganization.domain", "target": "xdm:companyWebsiteDomain"},
]


def driver_name() -> str:
    """The driver PostgresHook connects with: ``psycopg`` (3) or ``psycopg2``."""
    from airflow.providers.postgres.hooks import postgres

    return "psycopg" if postgres.USE_PSYCOPG3 else "psycopg2"


def _collect_garbage() -> None:
    """A full collection before the timed read, in every mode: the objects the imports left (more
    in provider mode, which imports the provider and the common-sql and postgres hooks) would
    otherwise be traversed by the first full collection of the process, about 0.08 s here, which
    falls in the provider's read and not in the driver's (measured with gc.callbacks)."""
    gc.collect()


def _read_with_provider(sql: str, conn_id: str, chunk_size: int) -> tuple[int, float, int]:
    from airflow_provider_bombora.activation import ActivationRequest
    from airflow_provider_bombora.mappings import validate_mappings
    from airflow_provider_bombora.sources.sql import iter_sql_records, sql_hook

    mappings = validate_mappings(MAPPINGS)
    request = ActivationRequest(audience_name="Bench", dataflow_id="bench.sql")
    sql_hook(conn_id)  # the connection read and the hook made once: their imports are in the baseline
    _collect_garbage()
    baseline = reset_peak_rss()
    start = time.perf_counter()
    _position = 0  # the last row number: the rows read
    # Read as the activation reads it (collect_desired: one (position, record) pair at a time,
    # unpacked), and as the driver's rows are read below.
    for _position, _record in iter_sql_records(sql, conn_id, mappings, request, chunk_size=chunk_size):
        pass
    seconds = time.perf_counter() - start
    return baseline, seconds, _position


def _read_with_driver(
    sql: str, dsn: dict[str, Any], driver: str, chunk_size: int, *, read_columns: bool
) -> tuple[int, float, int]:
    module: Any
    if driver == "psycopg":
        import psycopg as module
    else:
        import psycopg2 as module
    _collect_garbage()
    baseline = reset_peak_rss()
    start = time.perf_counter()
    connection = module.connect(**dsn)
    rows = 0
    try:
        cursor = connection.cursor(name="bench_driver_alone")
        cursor.execute(sql)
        while chunk := cursor.fetchmany(chunk_size):
            rows += len(chunk)
            if read_columns:
                for _account_key, _website in chunk:  # the query's two columns
                    pass
        cursor.close()
    finally:
        connection.close()
    return baseline, time.perf_counter() - start, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["provider", "driver", "unread"], required=True)
    parser.add_argument("--sql", required=True, help="the query")
    parser.add_argument("--conn-id", required=True, help="the connection (AIRFLOW_CONN_<ID> in the environment)")
    parser.add_argument("--chunk-size", type=int, required=True, help="rows per fetchmany")
    args = parser.parse_args(argv)

    from airflow.sdk import BaseHook

    driver = driver_name()
    if args.mode == "provider":
        baseline, seconds, rows = _read_with_provider(args.sql, args.conn_id, args.chunk_size)
    else:
        connection = BaseHook.get_connection(args.conn_id)
        dsn = {"host": connection.host, "port": connection.port, "user": connection.login, "dbname": connection.schema}
        baseline, seconds, rows = _read_with_driver(
            args.sql, dsn, driver, args.chunk_size, read_columns=args.mode == "driver"
        )
    peak = peak_rss_bytes()
    print(json.dumps({"seconds": seconds, "rows": rows, "baseline_rss": baseline, "peak_rss": peak, "driver": driver}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
