"""Benchmark 4: what the provider adds to the parse of a DAG file, by ``python -X importtime``.

A DAG file that uses the provider imports ``airflow.sdk`` and the provider's operator (and
sensor) modules. The baseline is a process importing ``airflow.sdk`` alone; the provider's
cost is the import time of the modules that only the second process imports (the sum of
their own times, so nothing is counted twice). Each is run several times; medians are kept.
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass, field

BASELINE_MODULE = "airflow.sdk"
PROVIDER_MODULES = ("airflow_provider_bombora.operators.bombora", "airflow_provider_bombora.sensors.bombora")
# Modules a DAG file must not pay for: HTTP clients, the web stack, the sandbox.
HEAVY_PREFIXES = (
    "requests",
    "urllib3",
    "charset_normalizer",
    "chardet",
    "idna",
    "httpx",
    "httpcore",
    "aiohttp",
    "fastapi",
    "starlette",
    "uvicorn",
    "airflow_provider_bombora.sandbox",
    "airflow_provider_bombora.hooks",
)


@dataclass(frozen=True)
class ImportFigure:
    """The provider's modules' import cost over the baseline's, medians of ``runs`` runs."""

    modules: tuple[str, ...]
    runs: int
    baseline_ms: float
    added_ms: float
    added_modules: dict[str, float]  # module -> its own import time, ms
    heavy_added: tuple[str, ...]  # HEAVY_PREFIXES modules the provider's imports bring in
    heavy_in_baseline: tuple[str, ...] = field(default=())  # ... that airflow.sdk already imports


def _is_heavy(module: str) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in HEAVY_PREFIXES)


def _import_times(modules: list[str]) -> dict[str, int]:
    """module -> its own import time in microseconds, for a fresh interpreter importing ``modules``."""
    code = "; ".join(f"import {module}" for module in modules)
    finished = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, env=os.environ.copy()
    )
    if finished.returncode != 0:
        raise RuntimeError(f"python -c {code!r} failed:\n{finished.stderr[-3000:]}")
    times = {}
    for line in finished.stderr.splitlines():
        # "import time:  self [us] | cumulative | imported package"; the header's fields are not numbers
        fields = line.removeprefix("import time:").split("|")
        if len(fields) == 3 and fields[0].strip().isdigit():
            times[fields[2].strip()] = int(fields[0])
    return times


def measure_imports(runs: int) -> ImportFigure:
    """Import ``airflow.sdk`` alone and with the provider's modules (those that exist), ``runs`` times each."""
    modules = tuple(module for module in PROVIDER_MODULES if importlib.util.find_spec(module) is not None)
    baseline_totals, added_totals = [], []
    added_by_module: dict[str, list[int]] = {}
    baseline_modules: set[str] = set()
    for _ in range(runs):
        baseline = _import_times([BASELINE_MODULE])
        with_provider = _import_times([BASELINE_MODULE, *modules])
        baseline_modules |= baseline.keys()
        added = {module: own for module, own in with_provider.items() if module not in baseline}
        baseline_totals.append(sum(baseline.values()))
        added_totals.append(sum(added.values()))
        for module, own in added.items():
            added_by_module.setdefault(module, []).append(own)
    return ImportFigure(
        modules=modules,
        runs=runs,
        baseline_ms=statistics.median(baseline_totals) / 1000,
        added_ms=statistics.median(added_totals) / 1000,
        added_modules={module: statistics.median(times) / 1000 for module, times in added_by_module.items()},
        heavy_added=tuple(sorted(module for module in added_by_module if _is_heavy(module))),
        heavy_in_baseline=tuple(sorted(name for name in baseline_modules if "." not in name and _is_heavy(name))),
    )
