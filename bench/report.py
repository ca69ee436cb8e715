"""The benchmark's output: the machine it ran on, Markdown tables, the JSON results and the chart."""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, TypedDict

from bench.end_to_end import FIRST_RUN, FIXED_REQUESTS, REQUESTS_PER_BATCH, RERUN, ActivationRun
from bench.folder import FOLDER, FolderRun, folder_vs_plain
from bench.imports import ImportFigure
from bench.normalisation import NormalisationFigure
from bench.sql_source import ACTIVATION, SqlFigure, SqlRead
from bench.sql_source import PROVIDER as SQL_PROVIDER
from bench.triggers import TriggerFigure
from bench.upload import CEILING, HTTP_HOOK, PER_ACCOUNT, PROVIDER, UploadFigure

#: The largest peak memory above the interpreter's baseline an activation may use, per account.
PEAK_BYTES_PER_ACCOUNT_TARGET = 250
PROVIDER_CEILING_RATIO_TARGET = 0.9
IMPORT_MS_TARGET = 20.0
#: The SQL source's rows/s over its driver's alone (same query, cursor and chunk size).
SQL_PROVIDER_DRIVER_RATIO_TARGET = 0.8


def _first_line_with(path: str, prefix: str) -> str | None:
    try:
        with open(path) as file:
            return next((line.split(":", 1)[1].strip() for line in file if line.startswith(prefix)), None)
    except OSError:
        return None


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    mem_total = _first_line_with("/proc/meminfo", "MemTotal")
    return {
        "cpus": os.cpu_count(),
        "cpu_model": _first_line_with("/proc/cpuinfo", "model name") or platform.processor(),
        "memory_gib": round(int(mem_total.split()[0]) / 2**20, 1) if mem_total else None,
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "airflow": metadata.version("apache-airflow"),
        "requests": metadata.version("requests"),
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def machine_line(machine: dict[str, Any]) -> str:
    return (
        f"Measured {machine['measured_at']} on {machine['cpus']} × {machine['cpu_model']} (nproc {machine['cpus']}), "
        f"{machine['memory_gib']} GiB of memory, {machine['os']}, Python {machine['python']}, "
        f"Airflow {machine['airflow']}, requests {machine['requests']}."
    )


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table, its columns padded so that it reads in a terminal too."""
    cells = [list(map(str, headers))] + [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[column]) for row in cells) for column in range(len(headers))]
    lines = [
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + " |" for row in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def _verdict(met: bool) -> str:
    return "met" if met else "NOT MET"


class UploadRatios(TypedDict):
    provider_vs_ceiling: float
    provider_vs_http_hook: float | None  # None without the HttpHook (the bench extra)
    batched_vs_per_account: float


def upload_ratios(figures: Sequence[UploadFigure]) -> dict[str, UploadRatios]:
    """Per server: provider/ceiling, provider/HttpHook and batched/per-account throughput ratios."""
    ratios: dict[str, UploadRatios] = {}
    for server in dict.fromkeys(figure.server for figure in figures):
        rate = {figure.client: figure.accounts_per_second for figure in figures if figure.server == server}
        ratios[server] = {
            "provider_vs_ceiling": rate[PROVIDER] / rate[CEILING],
            "provider_vs_http_hook": rate[PROVIDER] / rate[HTTP_HOOK] if HTTP_HOOK in rate else None,
            "batched_vs_per_account": rate[PROVIDER] / rate[PER_ACCOUNT],
        }
    return ratios


def upload_section(figures: Sequence[UploadFigure], batch_size: int) -> str:
    ratios = upload_ratios(figures)
    rows = []
    for figure in figures:
        provider = next(f for f in figures if f.server == figure.server and f.client == PROVIDER)
        rows.append(
            [
                figure.server,
                figure.client,
                f"{figure.accounts:,}",
                f"{figure.requests:,}",
                f"{figure.seconds:.3f}",
                f"{figure.accounts_per_second:,.0f}",
                f"{provider.accounts_per_second / figure.accounts_per_second:.2f}",
            ]
        )
    lines = [
        f"### 1. Upload throughput: {figures[0].accounts:,} domains into an empty list, batches of {batch_size:,} "
        f"(fastest of {figures[0].repeats} interleaved runs)",
        "",
        _table(["server", "client", "accounts", "requests", "seconds", "accounts/s", "provider ÷ this"], rows),
        "",
    ]
    for server, ratio in ratios.items():
        http_hook, vs_ceiling = ratio["provider_vs_http_hook"], ratio["provider_vs_ceiling"]
        lines.append(
            f"- {server}: provider/ceiling **{vs_ceiling:.2f}** "
            f"(target ≥ {PROVIDER_CEILING_RATIO_TARGET}: {_verdict(vs_ceiling >= PROVIDER_CEILING_RATIO_TARGET)}), "
            + (f"provider/HttpHook **{http_hook:.2f}**, " if http_hook is not None else "HttpHook not installed, ")
            + f"batches/per-account requests **{ratio['batched_vs_per_account']:.0f}×**"
        )
    return "\n".join(lines)


def end_to_end_section(runs: Sequence[ActivationRun]) -> str:
    rows = [
        [
            f"{run.records:,}",
            run.kind,
            f"{run.seconds:.2f}",
            f"{run.records_per_second:,.0f}",
            f"{(run.peak_rss - run.baseline_rss) / 2**20:.0f}",
            f"{run.peak_bytes_per_account:.0f}",
            f"{run.requests:,}",
            f"{run.request_bound:,}",
            f"{run.added:,}",
            f"{run.removed:,}",
            f"{run.rejected:,}",
        ]
        for run in runs
    ]
    worst = max(runs, key=lambda run: run.peak_bytes_per_account)
    worst_bytes = worst.peak_bytes_per_account
    reruns_within_bound = all(run.requests <= run.request_bound for run in runs if run.kind == RERUN)
    first_runs = [run for run in runs if run.kind == FIRST_RUN]
    lines = [
        "### 2. End-to-end activation: operator.execute() of a JSON Lines file into the sandbox",
        "",
        _table(
            [
                "records",
                "run",
                "seconds",
                "records/s",
                "peak MiB above baseline",
                "bytes/account",
                "requests",
                "bound",
                "added",
                "removed",
                "rejected",
            ],
            rows,
        ),
        "",
        f"- Reruns send only the changes, within {REQUESTS_PER_BATCH} × (ceil(added / batch) + "
        f"ceil(removed / batch)) + {FIXED_REQUESTS} requests (a claim check before each batch): "
        f"{_verdict(reruns_within_bound)}",
        f"- Worst peak memory {worst_bytes:.0f} bytes/account ({worst.kind}, {worst.records:,} records; "
        f"target ≤ {PEAK_BYTES_PER_ACCOUNT_TARGET}: {_verdict(worst_bytes <= PEAK_BYTES_PER_ACCOUNT_TARGET)})",
    ]
    marginal = _marginal_memory(runs)
    if marginal:
        slopes = "; ".join(f"{kind} {bytes_per_account:.0f}" for kind, bytes_per_account in marginal.items())
        lines.append(f"- Marginal peak memory between the two largest sizes: {slopes} bytes/account")
    per_record = ", ".join(f"{run.records:,}: {run.seconds / run.records * 1e6:.1f} µs" for run in first_runs)
    lines.append(f"- First-run time per record: {per_record} (linear when these stay level)")
    return "\n".join(lines)


def _marginal_memory(runs: Sequence[ActivationRun]) -> dict[str, float]:
    """Per kind of run, the peak memory each account adds between the two largest sizes: the
    slope, without what a run holds whatever its size (buffers, the HTTP connection)."""
    slopes = {}
    for kind in (FIRST_RUN, RERUN):
        kind_runs = sorted((run for run in runs if run.kind == kind), key=lambda run: run.records)
        if len(kind_runs) >= 2:
            smaller, larger = kind_runs[-2:]
            peak_growth = (larger.peak_rss - larger.baseline_rss) - (smaller.peak_rss - smaller.baseline_rss)
            slopes[kind] = peak_growth / (larger.records - smaller.records)
    return slopes


def normalisation_section(figure: NormalisationFigure, runs: Sequence[ActivationRun]) -> str:
    largest = max((run for run in runs if run.kind == FIRST_RUN), key=lambda run: run.records)
    share = figure.seconds_per_million / (largest.seconds * 1_000_000 / largest.records)
    return "\n".join(
        [
            "### 3. Domain normalisation alone",
            "",
            _table(
                ["records", "seconds", "seconds per million", "ns/record", "rejected", "share of first run"],
                [
                    [
                        f"{figure.records:,}",
                        f"{figure.seconds:.3f}",
                        f"{figure.seconds_per_million:.2f}",
                        f"{figure.seconds_per_million * 1000:.0f}",
                        f"{figure.rejected:,}",
                        f"{share:.1%} of {largest.records:,}-record run",
                    ]
                ],
            ),
        ]
    )


def imports_section(figure: ImportFigure) -> str:
    rows = [[module, f"{ms:.2f}"] for module, ms in sorted(figure.added_modules.items(), key=lambda item: -item[1])]
    return "\n".join(
        [
            f"### 4. DAG-parse cost: importing {', '.join(figure.modules)} after airflow.sdk "
            f"(median of {figure.runs} runs of python -X importtime)",
            "",
            f"- airflow.sdk alone: {figure.baseline_ms:.0f} ms; the provider adds **{figure.added_ms:.1f} ms** "
            f"(target < {IMPORT_MS_TARGET:g} ms: {_verdict(figure.added_ms < IMPORT_MS_TARGET)})",
            f"- HTTP clients, web stack or sandbox added by the provider: {', '.join(figure.heavy_added) or 'none'} "
            f"(airflow.sdk itself already imports {', '.join(figure.heavy_in_baseline) or 'none of them'})",
            "",
            _table(["module added", "own import ms"], rows),
        ]
    )


def triggers_section(figure: TriggerFigure) -> str:
    cycle_ms = figure.cpu_ms_per_poll_cycle
    return "\n".join(
        [
            f"### 5. Deferrable sensors: {figure.triggers} triggers in one event loop, poll every "
            f"{figure.poll_interval:g} s, lists pending for {figure.processing_delay:g} s",
            "",
            _table(
                [
                    "triggers",
                    "wall s",
                    "start CPU ms/trigger",
                    "poll cycles",
                    "CPU ms per poll cycle",
                    "requests/trigger/poll",
                    "token fetches/trigger",
                    "live",
                ],
                [
                    [
                        figure.triggers,
                        f"{figure.wall_seconds:.1f}",
                        f"{figure.startup_cpu_ms_per_trigger:.1f}",
                        f"{figure.steady_poll_cycles:.0f}",
                        "n/a" if cycle_ms is None else f"{cycle_ms:.1f}",
                        f"{figure.requests_per_trigger_per_poll:.2f}",
                        f"{figure.token_fetches_per_trigger:.2f}",
                        f"{figure.successes}/{figure.triggers}",
                    ]
                ],
            ),
            "",
            f"- One request per trigger per poll and one token per trigger, not per poll: "
            f"{_verdict(figure.requests_per_trigger_per_poll == 1 and figure.token_fetches_per_trigger == 1)}",
        ]
    )


def sql_section(figure: SqlFigure) -> str:
    title = (
        f"### 6. SQL source: {figure.rows:,} PostgreSQL rows, the provider against its driver alone, "
        f"chunks of {figure.chunk_size:,}"
    )
    if figure.skipped is not None:
        return f"{title}\n\n- Skipped: {figure.skipped}"
    shown: list[SqlRead] = [*figure.reads, *([figure.unread] if figure.unread is not None else [])]
    rows = [
        [
            read.reader,
            read.driver,
            f"{read.rows:,}",
            read.runs,
            f"{read.seconds:.3f}",
            f"{read.rows_per_second:,.0f}",
            f"{(read.peak_rss - read.baseline_rss) / 2**20:.1f}",
            f"{read.peak_bytes_per_account:.1f}",
        ]
        for read in shown
    ]
    ratio = figure.provider_vs_driver
    provider = figure.read(SQL_PROVIDER)
    lines = [
        f"{title} (fastest of the interleaved runs, highest peak of them)",
        "",
        _table(
            ["reader", "driver", "rows", "runs", "seconds", "rows/s", "peak MiB above baseline", "bytes/account"],
            rows,
        ),
        "",
    ]
    if ratio is not None and provider is not None:
        lines += [
            f"- Provider rows/s ÷ driver rows/s (the driver reading each row's columns) **{ratio:.2f}** "
            f"(target ≥ {SQL_PROVIDER_DRIVER_RATIO_TARGET}: {_verdict(ratio >= SQL_PROVIDER_DRIVER_RATIO_TARGET)})",
            *(
                [f"- Provider rows/s ÷ rows/s of the driver not reading its rows **{figure.provider_vs_unread:.2f}**"]
                if figure.provider_vs_unread is not None
                else []
            ),
            f"- Provider read, peak memory {provider.peak_bytes_per_account:.1f} bytes/account "
            f"(target ≤ {PEAK_BYTES_PER_ACCOUNT_TARGET}: "
            f"{_verdict(provider.peak_bytes_per_account <= PEAK_BYTES_PER_ACCOUNT_TARGET)})",
        ]
    activation = figure.read(ACTIVATION)
    if activation is not None:
        lines.append(
            f"- Whole activation with sql= into the sandbox: {activation.seconds:.2f} s, "
            f"{activation.peak_bytes_per_account:.0f} bytes/account (target ≤ {PEAK_BYTES_PER_ACCOUNT_TARGET}: "
            f"{_verdict(activation.peak_bytes_per_account <= PEAK_BYTES_PER_ACCOUNT_TARGET)})"
        )
    return "\n".join(lines)


def folder_section(runs: Sequence[FolderRun]) -> str:
    folder = next(run for run in runs if run.source == FOLDER)
    ratio = folder_vs_plain(list(runs))
    rows = [
        [
            run.source,
            f"{run.records:,}",
            run.parts,
            f"{run.input_bytes / 2**20:.1f}",
            f"{run.seconds:.2f}",
            f"{run.records_per_second:,.0f}",
            f"{(run.peak_rss - run.baseline_rss) / 2**20:.0f}",
            f"{run.peak_bytes_per_account:.0f}",
            f"{run.added:,}",
            f"{run.rejected:,}",
        ]
        for run in runs
    ]
    return "\n".join(
        [
            f"### 7. Object storage folder: {folder.records:,} records in {folder.parts} .jsonl.gz parts and "
            "_SUCCESS, operator.execute() into the sandbox, against one plain .jsonl file",
            "",
            _table(
                [
                    "input",
                    "records",
                    "data files",
                    "MiB on disk",
                    "seconds",
                    "records/s",
                    "peak MiB above baseline",
                    "bytes/account",
                    "added",
                    "rejected",
                ],
                rows,
            ),
            "",
            f"- Folder records/s ÷ plain file records/s **{ratio:.2f}**",
            f"- Folder peak memory {folder.peak_bytes_per_account:.0f} bytes/account "
            f"(target ≤ {PEAK_BYTES_PER_ACCOUNT_TARGET}: "
            f"{_verdict(folder.peak_bytes_per_account <= PEAK_BYTES_PER_ACCOUNT_TARGET)})",
        ]
    )


def write_chart(runs: Sequence[ActivationRun], path: Path) -> None:
    """Throughput and peak memory per account against audience size, first runs and reruns."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib.ticker import FuncFormatter, NullLocator

    figure, (throughput, memory) = pyplot.subplots(1, 2, figsize=(11, 4.2))
    for kind, marker in ((FIRST_RUN, "o"), (RERUN, "s")):
        kind_runs = [run for run in runs if run.kind == kind]
        sizes = [run.records for run in kind_runs]
        throughput.plot(sizes, [run.records_per_second for run in kind_runs], marker=marker, label=kind)
        memory.plot(sizes, [run.peak_bytes_per_account for run in kind_runs], marker=marker, label=kind)
    memory.axhline(PEAK_BYTES_PER_ACCOUNT_TARGET, color="grey", linestyle="--", label="target")
    thousands = FuncFormatter(lambda value, _position: f"{value:,.0f}")
    for axes, title, label in (
        (throughput, "Throughput (higher is better)", "records / s"),
        (memory, "Peak memory above the interpreter (lower is better)", "bytes / account"),
    ):
        axes.set_xscale("log")
        axes.set_xticks(sorted({run.records for run in runs}))
        axes.xaxis.set_minor_locator(NullLocator())
        axes.xaxis.set_major_formatter(thousands)
        axes.yaxis.set_major_formatter(thousands)
        axes.set_xlabel("audience size (records)")
        axes.set_ylabel(label)
        axes.set_title(title)
        axes.set_ylim(bottom=0)
        axes.grid(True, alpha=0.3)
        axes.legend(loc="lower right")
    figure.suptitle("BomboraActivateAudienceOperator, mirror sync against the sandbox")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)


def as_json(value: Any) -> Any:
    """A figure (dataclass) with its derived properties, for the JSON results."""
    fields = dict(vars(value))
    for name in dir(type(value)):
        if isinstance(getattr(type(value), name), property):
            fields[name] = getattr(value, name)
    return fields


DOCS_RESULTS_START = "<!-- benchmark results: written by bench/run.sh from here -->"
DOCS_RESULTS_END = "<!-- benchmark results: to here -->"


def write_docs(path: Path, results_markdown: str) -> None:
    """Put ``results_markdown`` between the results markers of ``path`` (docs/performance.md)."""
    before, start, rest = path.read_text().partition(DOCS_RESULTS_START)
    _old_results, end, after = rest.partition(DOCS_RESULTS_END)
    if not start or not end:
        raise ValueError(f"{path} lacks the lines {DOCS_RESULTS_START!r} and {DOCS_RESULTS_END!r}")
    path.write_text(f"{before}{start}\n\n{results_markdown}\n\n{end}{after}")


def write_results(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=as_json) + "\n")
