"""Benchmark 7: a folder of ``.jsonl.gz`` parts read through ``accounts="file:///.../"``, against the
same records as one plain local ``.jsonl`` file.

The folder is what a warehouse export leaves: the records of :mod:`bench.data` split into parts
(``part-00000.jsonl.gz``, ...; gzip level 6, the usual default) and a ``_SUCCESS`` marker. Each
input is activated by :mod:`bench.end_to_end_worker` (``operator.execute()``, a fresh process)
into an empty sandbox list: a first run each, the same records, so the difference is the reading
(the listing, the decompression, the object storage layer).
"""

from __future__ import annotations

import gzip
import shutil
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from bench import data
from bench.end_to_end import FIRST_RUN, run_worker
from bench.servers import RemoteSandbox, RunningServer

FOLDER = "folder of .jsonl.gz parts (file:// URL)"
PLAIN = "one plain .jsonl file (local path)"


@dataclass(frozen=True)
class FolderRun:
    """One activation of the records from one input."""

    source: str
    records: int
    parts: int
    input_bytes: int
    seconds: float
    baseline_rss: int
    peak_rss: int
    added: int
    rejected: int

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds

    @property
    def peak_bytes_per_account(self) -> float:
        return (self.peak_rss - self.baseline_rss) / self.records


def write_parts(folder: Path, count: int, parts: int) -> Path:
    """:func:`bench.data.records` split into ``parts`` gzip JSON Lines files, and ``_SUCCESS``."""
    folder.mkdir(parents=True)
    records = data.records(count)
    for part in range(parts):
        size = count * (part + 1) // parts - count * part // parts
        with gzip.open(folder / f"part-{part:05d}.jsonl.gz", "wt", encoding="utf-8", compresslevel=6) as file:
            file.writelines(data.json_line(record) for record in islice(records, size))
    (folder / "_SUCCESS").write_bytes(b"")
    return folder


def _bytes(path: Path) -> int:
    return sum(file.stat().st_size for file in path.iterdir()) if path.is_dir() else path.stat().st_size


def measure_folder(
    sandbox: RunningServer, admin: RemoteSandbox, records: int, work_dir: Path, *, parts: int, batch_size: int
) -> list[FolderRun]:
    """Activate ``records`` records from a folder of ``parts`` parts, then from one plain file."""
    folder = write_parts(work_dir / f"export-{records}", records, parts)
    plain = data.write_jsonl(work_dir / f"accounts-{records}.jsonl", records)
    inputs = {FOLDER: (folder.as_uri() + "/", folder, parts), PLAIN: (str(plain), plain, 1)}
    runs = []
    try:
        for source, (accounts, path, part_count) in inputs.items():
            admin.reset()
            outcome = run_worker(sandbox, accounts, f"Bench folder audience {records}", FIRST_RUN, batch_size)
            result = outcome["result"]
            runs.append(
                FolderRun(
                    source=source,
                    records=records,
                    parts=part_count,
                    input_bytes=_bytes(path),
                    seconds=outcome["seconds"],
                    baseline_rss=outcome["baseline_rss"],
                    peak_rss=outcome["peak_rss"],
                    added=result["added"],
                    rejected=result["rejected"],
                )
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        plain.unlink(missing_ok=True)
    return runs


def folder_vs_plain(runs: list[FolderRun]) -> float:
    """Records/s from the folder ÷ records/s from the plain file."""
    rate = {run.source: run.records_per_second for run in runs}
    return rate[FOLDER] / rate[PLAIN]
