"""What the intent transfer tests share: the load itself, and the rows of a written file and of the
sandbox's own pages, each read independently of the operator's code."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path

from airflow_provider_bombora.transfers.intent import BomboraIntentToStorageOperator

TOPIC_NAMES = ["Customer Data Platform", "Account Based Marketing", "Intent Data"]
DAY = "2026-11-27"


def load(destination, **kwargs) -> dict:
    """Run one load in this process (``execute`` with the run's date), as a worker would."""
    kwargs.setdefault("topics", None if "signal_definition_id" in kwargs else TOPIC_NAMES)
    task = BomboraIntentToStorageOperator(task_id="load_intent", destination=destination, **kwargs)
    return task.execute({"ds": DAY})


def read_lines(data: bytes, name: str) -> list[str]:
    return (gzip.decompress(data) if name.endswith(".gz") else data).decode().splitlines()


def jsonl_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in read_lines(path.read_bytes(), path.name)]


def csv_rows(path: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO("\n".join(read_lines(path.read_bytes(), path.name)) + "\n")))


def served(api, body: dict) -> list[dict]:
    """Every row the sandbox serves for ``body``, read with plain requests, plus the snapshot date."""
    return [{**row, "snapshotDate": DAY} for row in api.rows(body, limit=10_000)]


def served_pages(api, body: dict, limit: int) -> Iterator[list[dict]]:
    """The sandbox's pages for ``body``, one at a time (none held after it is used)."""
    token = api.start(body)
    while token is not None:
        response = api.page(token, limit)
        assert response.status_code == 200, response.text
        page = response.json()
        yield page["data"]
        token = page["nextPageToken"]


def leftovers(folder: Path) -> list[str]:
    """Files in ``folder`` other than finished destinations: the temporary ones."""
    return sorted(path.name for path in folder.rglob("*") if path.name.endswith(".tmp"))
