"""Benchmark 2: end-to-end activation of an audience from a JSON Lines file, then a rerun.

For each audience size, into an empty list of the sandbox (reset first):

1. the first run mirrors every record's account into the new list;
2. the rerun reads the same records with 1% of them given a new domain, so it should send
   only the changes: the old domains removed, the new ones added.

Each run is a fresh process (:mod:`bench.end_to_end_worker`) so that its peak memory is its
own; the sandbox runs in another process and counts the requests each run sent.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import data
from bench.servers import RemoteSandbox, RunningServer

FIRST_RUN = "first run"
RERUN = "rerun, 1% changed"
# Requests of a run besides the account batches (each of which is preceded by a check of the
# run's claim on the list, see airflow_provider_bombora/claim.py): token, find the list, claim
# it (read, update, read back its description), check it has no pending update, read its
# domains, release the claim (read, update).
FIXED_REQUESTS = 9
#: Requests per account batch: the claim check, then the batch.
REQUESTS_PER_BATCH = 2
RUN_DATES = {FIRST_RUN: "2026-11-27T00:00:00+00:00", RERUN: "2026-11-28T00:00:00+00:00"}


@dataclass(frozen=True)
class ActivationRun:
    """One run of the operator: its input, what it did, and what it cost."""

    records: int
    kind: str
    seconds: float
    baseline_rss: int
    peak_rss: int
    requests: int
    added: int
    removed: int
    unchanged: int
    rejected: int
    batch_size: int

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds

    @property
    def peak_bytes_per_account(self) -> float:
        """Peak resident memory above the interpreter's baseline, per input record."""
        return (self.peak_rss - self.baseline_rss) / self.records

    @property
    def request_bound(self) -> int:
        """The most requests a run that sends only its changes may make."""
        batches = math.ceil(self.added / self.batch_size) + math.ceil(self.removed / self.batch_size)
        return REQUESTS_PER_BATCH * batches + FIXED_REQUESTS


def run_worker(sandbox: RunningServer, accounts: str | Path, audience: str, kind: str, batch_size: int) -> dict:
    """One activation of ``accounts`` (a file, or a URL) by :mod:`bench.end_to_end_worker`: its JSON line."""
    command = [
        sys.executable,
        "-m",
        "bench.end_to_end_worker",
        "--accounts",
        str(accounts),
        "--audience",
        audience,
        "--run-date",
        RUN_DATES[kind],
        "--batch-size",
        str(batch_size),
    ]
    environment = {**os.environ, "AIRFLOW_CONN_BOMBORA_DEFAULT": sandbox.connection_json}
    finished = subprocess.run(command, capture_output=True, text=True, env=environment)
    if finished.returncode != 0:
        raise RuntimeError(f"The activation of {accounts} failed:\n{finished.stderr[-3000:]}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def measure_activations(
    sandbox: RunningServer, admin: RemoteSandbox, sizes: Sequence[int], work_dir: Path, *, batch_size: int
) -> list[ActivationRun]:
    """A first run and a rerun for each size in ``sizes`` (records), each into an empty sandbox."""
    runs = []
    for size in sizes:
        admin.reset()
        inputs = {
            FIRST_RUN: data.write_jsonl(work_dir / f"accounts-{size}.jsonl", size),
            RERUN: data.write_jsonl(work_dir / f"accounts-{size}-changed.jsonl", size, changed=True),
        }
        for kind, accounts in inputs.items():
            mark = admin.last_seq()
            outcome = run_worker(sandbox, accounts, f"Bench audience {size}", kind, batch_size)
            result = outcome["result"]
            runs.append(
                ActivationRun(
                    records=size,
                    kind=kind,
                    seconds=outcome["seconds"],
                    baseline_rss=outcome["baseline_rss"],
                    peak_rss=outcome["peak_rss"],
                    requests=len(admin.request_log(since=mark)),
                    added=result["added"],
                    removed=result["removed"],
                    unchanged=result["unchanged"],
                    rejected=result["rejected"],
                    batch_size=batch_size,
                )
            )
        for accounts in inputs.values():
            accounts.unlink()
    return runs
