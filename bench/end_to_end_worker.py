"""One activation, as a task runs it, in a process of its own: ``python -m bench.end_to_end_worker``.

Builds :class:`BomboraActivateAudienceOperator` and calls its ``execute`` with the minimal
context a scheduled run gives it (``data_interval_end`` and ``logical_date``), against the
connection in ``AIRFLOW_CONN_BOMBORA_DEFAULT``. Everything the activation imports is
imported, and the connection read, first; then the peak resident set size is reset to the
current one (Linux's ``/proc/self/clear_refs``), the baseline: the interpreter with its
modules. The peak after ``execute`` less the baseline is what the activation itself holds
at its worst (without the reset, memory freed by the imports would hide the first tens of
megabytes). Prints one JSON object on its last line of stdout.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import sys
import time
from typing import TYPE_CHECKING

import pendulum

# Imported by execute(): imported here, they are part of the baseline.
import airflow_provider_bombora.activation
import airflow_provider_bombora.hooks.bombora
import airflow_provider_bombora.plan
import airflow_provider_bombora.records  # noqa: F401 - loaded for the baseline, never used by name
from airflow_provider_bombora.mappings import (
    DOMAIN_SOURCE,
    DOMAIN_TARGET,
    PRIMARY_ID_TARGET,
    SUGGESTED_PRIMARY_ID_SOURCE,
)
from airflow_provider_bombora.operators.bombora import BomboraActivateAudienceOperator
from bench.rss import peak_rss_bytes, reset_peak_rss

if TYPE_CHECKING:
    from airflow.sdk import Context

MAPPINGS = [
    {"source": SUGGESTED_PRIMARY_ID_SOURCE, "target": PRIMARY_ID_TARGET},
    {"source": DOMAIN_SOURCE, "target": DOMAIN_TARGET},
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--accounts", help="the accounts: a JSON Lines file, or a URL (file:///folder/)")
    source.add_argument("--sql", help="a query whose rows are the accounts (with --sql-conn-id)")
    parser.add_argument("--sql-conn-id", help="the connection --sql runs on")
    parser.add_argument("--audience", required=True, help="the audience (account list) name")
    parser.add_argument("--run-date", required=True, help="the run's logical date, ISO 8601")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--profile", help="write a cProfile of execute() to this file")
    args = parser.parse_args(argv)

    operator = BomboraActivateAudienceOperator(
        task_id="activate",
        audience_name=args.audience,
        accounts=args.accounts,
        sql=args.sql,
        sql_conn_id=args.sql_conn_id,
        mappings=MAPPINGS,
        dataflow_id="bench.activate",
        batch_size=args.batch_size,
    )
    run_date = pendulum.parse(args.run_date)
    if not isinstance(run_date, pendulum.DateTime):
        parser.error(f"--run-date must be a date or a date-time, got {args.run_date!r}")
    context: Context = {"data_interval_end": run_date, "logical_date": run_date}

    _ = operator.hook.base_url  # reads the connection (no request): its imports belong to the baseline too
    if args.sql_conn_id:
        # The SQL source, the connection's hook and its driver: imported, and the hook made once
        # (no query), before the baseline, as the Bombora connection is.
        from airflow_provider_bombora.sources.sql import sql_hook

        sql_hook(args.sql_conn_id)
    elif "://" in args.accounts:
        # Object storage: its source module and the store's filesystem, loaded (a stat, nothing read).
        from airflow.sdk import ObjectStoragePath

        import airflow_provider_bombora.sources.object_storage  # noqa: F401 - for the baseline

        ObjectStoragePath(args.accounts).exists()
    baseline = reset_peak_rss()
    profiler = cProfile.Profile() if args.profile else None
    start = time.perf_counter()
    if profiler:
        profiler.enable()
    result = operator.execute(context)
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.profile)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "baseline_rss": baseline, "peak_rss": peak_rss_bytes(), "result": result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
