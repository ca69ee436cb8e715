"""One read of a PostgreSQL query, in a process of its own: ``python -m bench.sql_worker``.

``--mode provider`` reads it as the operator's ``sql=`` does, through
:func:`airflow_provider_bombora.sources.sql.iter_sql_records` on the connection in
``AIRFLOW_CONN_<conn id>`` (PostgresHook, its driver, a named server-side cursor, ``fetchmany``
of ``--chunk-size``, the columns matched, a dict per row), every record consumed and dropped.
``--mode driver`` is the reference: the driver PostgresHook uses, alone, the same query on a
named cursor, ``fetchmany`` of the same size, each row's columns read (unpacked into the account
key and the website: what any use of the rows does at the least), nothing built.
``--mode unread`` is the same without reading the rows (``fetchmany`` only, each chunk dropped),
the reference of the earlier runs, still reported.

Everything either mode imports is imported first (and, for the provider, the hook made once,
without a query); then the peak resident set size is reset (the baseline). Prints one JSON
object on its last line of stdout: seconds, rows, baseline and peak RSS, the driver's name.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import deque
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


def _read_with_provider(sql: str, conn_id: str, chunk_size: int) -> tuple[int, float, int]:
    from airflow_provider_bombora.activation import ActivationRequest
    from airflow_provider_bombora.mappings import validate_mappings
    from airflow_provider_bombora.sources.sql import iter_sql_records, sql_hook

    mappings = validate_mappings(MAPPINGS)
    request = ActivationRequest(audience_name="Bench", dataflow_id="bench.sql")
    sql_hook(conn_id)  # the connection read and the hook made once: their imports are in the baseline
    baseline = reset_peak_rss()
    start = time.perf_counter()
    last = deque(iter_sql_records(sql, conn_id, mappings, request, chunk_size=chunk_size), maxlen=1)
    seconds = time.perf_counter() - start
    return baseline, seconds, last[0][0] if last else 0


def _read_with_driver(
    sql: str, dsn: dict[str, Any], driver: str, chunk_size: int, *, read_columns: bool
) -> tuple[int, float, int]:
    module: Any
    if driver == "psycopg":
        import psycopg as module
    else:
        import psycopg2 as module
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
