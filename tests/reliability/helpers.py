"""Shared helpers of the reliability tests (imported as ``helpers``: pytest puts this folder on
``sys.path`` because it has no ``__init__.py``; the fixtures themselves come from tests/conftest.py).
"""

from __future__ import annotations

import faulthandler
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from airflow_provider_bombora.ownership import ListOwnership, render_description

TOKEN = "/oauth/token"
LISTS = "/account-list/v1/account-list"
ONE_LIST = f"{LISTS}/*"
UPLOADS = f"{LISTS}/*/accounts"
REMOVALS = f"{LISTS}/*/delete-accounts"
DOMAINS = "/account-list/**/domains"

MAPPINGS = [
    {"source": "xdm:accountKey.sourceKey", "target": "identity:primaryId"},
    {"source": "xdm:accountOrganization.domain", "target": "xdm:companyWebsiteDomain"},
]

# One operator task; ``kwargs`` is a dict literal of its other arguments.
OPERATOR_DAG = """
from airflow.sdk import DAG
from airflow_provider_bombora.operators.bombora import BomboraActivateAudienceOperator

with DAG({dag_id!r}, schedule=None) as dag:
    BomboraActivateAudienceOperator(
        task_id="activate",
        mappings={mappings!r},
        poll_interval=0.05,
        **{kwargs!r},
    )
"""

# A hook retry, as BomboraHook logs it at WARNING level.
RETRY_LINE = re.compile(
    r"Bombora API (?P<method>[A-Z]+) (?P<path>\S+): (?P<reason>.+?) "
    r"\(attempt (?P<attempt>\d+) of (?P<attempts>\d+)\); retrying in (?P<wait>[0-9.]+) s"
)


def operator_dag(dag_id: str, **kwargs) -> str:
    return OPERATOR_DAG.format(dag_id=dag_id, mappings=MAPPINGS, kwargs=kwargs)


def record(index: int, domain: object, **extra) -> dict:
    return {"accountKey": {"sourceKey": f"key-{index}"}, "accountOrganization": {"domain": domain}, **extra}


def records(domains: Iterable[object], **extra) -> list[dict]:
    return [record(index, domain, **extra) for index, domain in enumerate(domains)]


def write_jsonl(path: Path, domains: Iterable[object]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in records(domains)))
    return path


def seed_owned_list(sandbox, name: str, dataflow_id: str, domains: Iterable[str], snapshot: str) -> dict:
    """A list as a previous run of ``dataflow_id`` left it: its marker, ``domains`` applied."""
    description = render_description(None, ListOwnership(dataflow_id, snapshot))
    return sandbox.seed_account_list(name, description=description, domains=list(domains))


def is_write(entry: dict) -> bool:
    return entry["method"] in ("POST", "PUT", "DELETE") and entry["path"] != TOKEN


def account_writes(log: list[dict]) -> list[dict]:
    """Uploads and removals of accounts."""
    return [e for e in log if e["method"] == "POST" and e["path"].endswith(("/accounts", "/delete-accounts"))]


def identifiers(entry: dict) -> list[str]:
    """The account identifiers of an upload or removal body."""
    body = entry["body"]
    if entry["path"].endswith("/delete-accounts"):
        return list(body["ids"])
    return [account.get("id", account["domain"]) for account in body]


def assert_no_duplicate_identifiers(log: list[dict]) -> int:
    """Every logged upload and removal body names each identifier once; returns how many were checked."""
    writes = account_writes(log)
    for entry in writes:
        assert entry["body"] is not None, f"request {entry['seq']} was logged without its body"
        repeated = [ident for ident, count in Counter(identifiers(entry)).items() if count > 1]
        assert not repeated, f"request {entry['seq']} {entry['path']} repeats {repeated[:5]}"
    return len(writes)


def uploaded(log: list[dict]) -> set[str]:
    """Domains of every upload that the sandbox accepted."""
    return {
        account["domain"]
        for entry in log
        if entry["method"] == "POST" and entry["path"].endswith("/accounts") and entry["status"] == 202
        for account in entry["body"]
    }


T = TypeVar("T")


def wait_for(condition: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll ``condition`` until it is truthy; fail after ``timeout`` seconds (a bounded loop)."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.02)
    return value


def the_list(sandbox, name: str) -> dict:
    (account_list,) = [item for item in sandbox.account_lists() if item["name"] == name]
    return account_list


def settled_list(sandbox, name: str, timeout: float = 15.0) -> dict:
    """The list once the sandbox has applied every pending update."""
    def applied() -> dict | None:
        account_list = the_list(sandbox, name)
        return None if account_list["pendingUpdate"] else account_list

    return wait_for(applied, timeout, f"the pending update of {name!r} to be applied")


def answered_log(sandbox, rule_id: int | None, timeout: float = 10.0) -> list[dict]:
    """The request log once every request a ``delay`` fault rule held has been answered
    (a held request is still processed after its client gave up on it)."""

    def answered() -> list[dict] | None:
        log = sandbox.request_log()
        return log if all(e["status"] is not None for e in log if e["fault"] == rule_id) else None

    return sandbox.request_log() if rule_id is None else wait_for(answered, timeout, "the held requests to be answered")


def retry_lines(output: str) -> list[dict]:
    """The hook's retry warnings in a run's output, in order, each as a dict (``wait`` in seconds).

    The output joins the task's stdout (structlog lines, which start with a timestamp) and the
    log records pytest captured; depending on what configured logging first, a warning lands
    in one or both. The timestamped lines are used when there are any, so none counts twice.
    """
    lines = [line for line in output.splitlines() if RETRY_LINE.search(line)]
    stamped = [line for line in lines if re.match(r"\d{4}-\d\d-\d\dT", line)]
    found = []
    for line in stamped or lines:
        match = RETRY_LINE.search(line)
        assert match is not None  # the lines were chosen by this pattern
        retry: dict = match.groupdict()
        for name in ("attempt", "attempts"):
            retry[name] = int(retry[name])
        retry["wait"] = float(retry["wait"])
        found.append(retry)
    return found


def timestamp(entry: dict) -> float:
    """A log entry's receive time (ISO 8601, UTC without zone) in seconds."""
    from datetime import datetime, timezone

    return datetime.fromisoformat(entry["time"]).replace(tzinfo=timezone.utc).timestamp()


class HangGuard:
    """Dump every thread's stack and end the test process if a test runs ``seconds`` past its
    start: a hung retry loop becomes a failure with a traceback instead of a CI job that never
    ends. Not a timing assertion: the bound is minutes, far above any normal run."""

    def __init__(self, seconds: float = 300.0) -> None:
        self.seconds = seconds

    def __enter__(self) -> HangGuard:
        faulthandler.dump_traceback_later(self.seconds, exit=True)
        return self

    def __exit__(self, *exc_info) -> None:
        faulthandler.cancel_dump_traceback_later()
