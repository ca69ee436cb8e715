"""The benchmarks still run: ``python -m bench --smoke`` on tiny inputs, in seconds.

Only that the run completes and that its results have their parts is checked: timings on a
shared machine prove nothing, and the full run (bench/run.sh) is where figures come from.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_smoke_run_completes_and_writes_every_result(tmp_path):
    output = tmp_path / "results.json"
    finished = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--output", str(output)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    sections = ("### 1. Upload", "### 2. End-to-end", "### 3. Domain", "### 4. DAG-parse", "### 5. Deferrable",
                "### 6. SQL source", "### 7. Object storage folder")  # fmt: skip
    for section in sections:
        assert section in finished.stdout

    results = json.loads(output.read_text())
    assert results.keys() == {
        "machine",
        "sizes",
        "upload",
        "upload_ratios",
        "end_to_end",
        "normalisation",
        "imports",
        "triggers",
        "sql_source",
        "object_storage_folder",
    }
    assert {"cpus", "cpu_model", "memory_gib", "python", "airflow"} <= results["machine"].keys()
    assert {"provider (BomboraHook.add_accounts)", "ceiling (bare requests.Session)"} <= {
        figure["client"] for figure in results["upload"]
    }
    for ratios in results["upload_ratios"].values():
        assert ratios.keys() == {"provider_vs_ceiling", "provider_vs_http_hook", "batched_vs_per_account"}
    assert {run["kind"] for run in results["end_to_end"]} == {"first run", "rerun, 1% changed"}
    for run in results["end_to_end"]:
        assert {"seconds", "peak_bytes_per_account", "requests", "request_bound"} <= run.keys()
    assert {"seconds_per_million"} <= results["normalisation"].keys()
    assert {"added_ms", "added_modules", "heavy_added"} <= results["imports"].keys()
    assert {"cpu_ms_per_poll_cycle", "requests_per_trigger_per_poll", "token_fetches_per_trigger"} <= results[
        "triggers"
    ].keys()

    sql = results["sql_source"]
    # Without PostgreSQL the SQL benchmark is skipped, saying why; CI has it, and must not skip.
    if sql["skipped"] is not None:
        assert "- Skipped: " in finished.stdout
        assert os.environ.get("CI", "").lower() != "true", sql["skipped"]
    else:
        assert {read["reader"] for read in sql["reads"]} == {
            "provider (iter_sql_records)",
            "driver alone (named cursor, fetchmany)",
            "activation (operator.execute, sql=)",
        }
        assert {read["rows"] for read in sql["reads"]} == {results["sizes"]["sql_rows"]}
        assert sql["provider_vs_driver"] > 0
        for read in sql["reads"]:
            assert {"seconds", "rows_per_second", "peak_bytes_per_account"} <= read.keys()
    folder = results["object_storage_folder"]
    assert [run["parts"] for run in folder["runs"]] == [results["sizes"]["folder_parts"], 1]
    for run in folder["runs"]:
        assert run["records"] == results["sizes"]["folder_records"]
        assert run["added"] == folder["runs"][0]["added"] > 0  # both inputs gave the same accounts
        assert {"seconds", "records_per_second", "peak_bytes_per_account"} <= run.keys()
    assert folder["folder_vs_plain"] > 0
