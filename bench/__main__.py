"""Run every benchmark against the same two servers, print the tables and write the results.

``python -m bench`` (from the repository root; ``bench/run.sh`` prepares the virtual
environment first) measures at full size: a few minutes on two cores. ``--smoke`` runs the
same code on tiny inputs in seconds, to check that the benchmarks work; its figures mean
nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench import report
from bench.data import domains
from bench.end_to_end import measure_activations
from bench.folder import folder_vs_plain, measure_folder
from bench.imports import measure_imports
from bench.normalisation import measure_normalisation
from bench.servers import running_servers
from bench.sql_source import measure_sql
from bench.triggers import measure_triggers
from bench.upload import measure_uploads

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / "bench" / "results"
CHART = REPO_ROOT / "docs" / "performance.png"
DOCS = REPO_ROOT / "docs" / "performance.md"


@dataclass(frozen=True)
class Sizes:
    """How much each benchmark does."""

    batch_size: int
    upload_accounts: int
    per_account_sample: int
    upload_repeats: int
    activation_sizes: tuple[int, ...]
    normalisation_repeats: int
    import_runs: int
    triggers: int
    trigger_processing_delay: float  # long enough for every trigger to start, then poll a few times
    trigger_poll_interval: float
    sql_rows: int
    sql_chunk_size: int
    sql_repeats: int
    folder_records: int
    folder_parts: int


FULL = Sizes(
    batch_size=1000,
    upload_accounts=100_000,
    per_account_sample=2_000,
    upload_repeats=5,
    activation_sizes=(100_000, 300_000, 1_000_000),
    normalisation_repeats=3,
    import_runs=7,
    triggers=200,
    trigger_processing_delay=15.0,
    trigger_poll_interval=0.5,
    sql_rows=1_000_000,
    sql_chunk_size=10_000,
    sql_repeats=5,
    folder_records=1_000_000,
    folder_parts=8,
)
SMOKE = Sizes(
    batch_size=100,
    upload_accounts=500,
    per_account_sample=20,
    upload_repeats=1,
    activation_sizes=(1_000,),
    normalisation_repeats=1,
    import_runs=1,
    triggers=5,
    trigger_processing_delay=1.0,
    trigger_poll_interval=0.2,
    sql_rows=300,
    sql_chunk_size=100,
    sql_repeats=1,
    folder_records=400,
    folder_parts=8,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the benchmarks run, in seconds")
    parser.add_argument("--output", type=Path, help="results JSON (default bench/results/latest.json, or smoke.json)")
    parser.add_argument("--chart", type=Path, help="chart PNG (default docs/performance.png; none with --smoke)")
    parser.add_argument(
        "--docs", type=Path, help="page whose results to rewrite (default docs/performance.md; none with --smoke)"
    )
    return parser


def _step(message: str) -> None:
    print(f"... {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    sizes = SMOKE if args.smoke else FULL
    output = args.output or RESULTS / ("smoke.json" if args.smoke else "latest.json")
    chart = args.chart or (None if args.smoke else CHART)
    docs = args.docs or (None if args.smoke else DOCS)
    started = time.monotonic()

    with running_servers() as (sandbox, stub, admin), tempfile.TemporaryDirectory(prefix="bombora-bench-") as work:
        _step(f"upload throughput: {sizes.upload_accounts:,} domains to the sandbox and the stub")
        uploads = measure_uploads(
            [sandbox, stub],
            domains(sizes.upload_accounts),
            batch_size=sizes.batch_size,
            per_account_sample=sizes.per_account_sample,
            repeats=sizes.upload_repeats,
        )
        _step(f"end-to-end activations of {', '.join(f'{size:,}' for size in sizes.activation_sizes)} records")
        activations = measure_activations(
            sandbox, admin, sizes.activation_sizes, Path(work), batch_size=sizes.batch_size
        )
        _step(f"SQL source: {sizes.sql_rows:,} PostgreSQL rows, the provider and the driver alone")
        sql = measure_sql(
            sizes.sql_rows,
            chunk_size=sizes.sql_chunk_size,
            repeats=sizes.sql_repeats,
            sandbox=sandbox,
            admin=admin,
            batch_size=sizes.batch_size,
        )
        if sql.skipped:
            _step(f"SQL source skipped: {sql.skipped}")
        _step(f"a folder of {sizes.folder_parts} .jsonl.gz parts, {sizes.folder_records:,} records")
        folder = measure_folder(
            sandbox, admin, sizes.folder_records, Path(work), parts=sizes.folder_parts, batch_size=sizes.batch_size
        )
        _step(f"{sizes.triggers} triggers")
        os.environ["AIRFLOW_CONN_BOMBORA_DEFAULT"] = sandbox.connection_json
        triggers = measure_triggers(
            admin,
            triggers=sizes.triggers,
            processing_delay=sizes.trigger_processing_delay,
            poll_interval=sizes.trigger_poll_interval,
        )
    _step("domain normalisation")
    normalisation = measure_normalisation(max(sizes.activation_sizes), sizes.normalisation_repeats)
    _step("import times")
    imports = measure_imports(sizes.import_runs)

    machine = report.machine()
    results_markdown = "\n\n".join(
        [
            f"{report.machine_line(machine)} The run took {time.monotonic() - started:.0f} s"
            f"{' (smoke run: tiny sizes, the figures mean nothing)' if args.smoke else ''}.",
            report.upload_section(uploads, sizes.batch_size),
            report.end_to_end_section(activations),
            report.normalisation_section(normalisation, activations),
            report.imports_section(imports),
            report.triggers_section(triggers),
            report.sql_section(sql),
            report.folder_section(folder),
        ]
    )
    print(results_markdown)
    report.write_results(
        output,
        {
            "machine": machine,
            "sizes": asdict(sizes),
            "upload": uploads,
            "upload_ratios": report.upload_ratios(uploads),
            "end_to_end": activations,
            "normalisation": normalisation,
            "imports": imports,
            "triggers": triggers,
            "sql_source": {
                **report.as_json(sql),
                "target_provider_vs_driver": report.SQL_PROVIDER_DRIVER_RATIO_TARGET,
            },
            "object_storage_folder": {
                "runs": folder,
                "folder_vs_plain": folder_vs_plain(folder),
            },
        },
    )
    written = [output]
    if chart is not None:
        report.write_chart(activations, chart)
        written.append(chart)
    if docs is not None:
        report.write_docs(docs, results_markdown)
        written.append(docs)
    print(f"\nWritten: {', '.join(map(str, written))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
