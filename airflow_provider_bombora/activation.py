"""Activating an account audience, the whole policy: read and check the audience, resolve the
list, check ownership and snapshot, plan, write.

This is the operator's work without Airflow: it talks to Bombora only through the client it is
given (any object with :class:`~airflow_provider_bombora.hooks.bombora.BomboraHook`'s account
list methods) and imports neither Airflow nor an HTTP library, so it is tested alone (with a
fake client) and reused by anything that activates audiences. Every decision that depends on
the sync mode is made here or in :mod:`~airflow_provider_bombora.plan`.
"""

from __future__ import annotations

import heapq
import json
import logging
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from airflow_provider_bombora.exceptions import (
    BomboraApiError,
    BomboraAudienceConflictError,
    BomboraPendingUpdateError,
    BomboraValidationError,
    StaleSnapshotError,
)
from airflow_provider_bombora.export_status import is_pending, wait_until
from airflow_provider_bombora.mappings import ValidatedMappings
from airflow_provider_bombora.ownership import ListOwnership, parse_description, render_description
from airflow_provider_bombora.parameters import DELTA, MIRROR
from airflow_provider_bombora.plan import DesiredAudience, Plan, collect_desired, plan_delta, plan_mirror
from airflow_provider_bombora.records import iter_records

log = logging.getLogger(__name__)

MANUAL = "Manual"
#: Domains of each side of a plan shown in the log and the summary; a dry run writes the whole
#: plan to a file when it has more.
PLAN_SAMPLE_SIZE = 10


class AccountListClient(Protocol):
    """The part of the hook that activation needs."""

    def find_account_list(self, name: str) -> dict | None: ...
    def create_account_list(self, name: str, description: str | None = None) -> str: ...
    def get_account_list(self, account_list_id: str) -> dict: ...
    def update_account_list(self, account_list_id: str, definition: dict) -> dict: ...
    def iter_account_domains(self, account_list_id: str) -> Iterable[str]: ...
    def add_accounts(self, account_list_id: str, domains: Any, batch_size: int = ..., progress: Any = ...) -> int: ...
    def delete_accounts(self, account_list_id: str, ids: Any, batch_size: int = ..., progress: Any = ...) -> int: ...


@dataclass(frozen=True)
class ActivationRequest:
    """What to activate, and how."""

    audience_name: str
    dataflow_id: str
    sync_mode: str = MIRROR
    status_field: str = "status"
    audience_description: str | None = None
    snapshot: str | None = None
    batch_size: int = 1000
    max_rejected_ratio: float = 0.1
    allow_empty: bool = False
    allow_stale: bool = False
    adopt_existing: bool = False
    dry_run: bool = False
    plan_file: str | None = None
    pending_update_timeout: float = 900.0
    poll_interval: float = 10.0


def read_audience(accounts: object, mappings: ValidatedMappings, request: ActivationRequest) -> DesiredAudience:
    """Read the audience's records (streamed) into the domains wanted; no network call.

    :raises BomboraValidationError: for an input that cannot be read (see
        :func:`~airflow_provider_bombora.records.iter_records`).
    """
    required = [mappings.primary_id_source, mappings.domain_source]
    if request.sync_mode == DELTA:
        required.append(request.status_field)
    return collect_desired(
        iter_records(accounts, required_sources=tuple(required)),
        mappings,
        sync_mode=request.sync_mode,
        status_field=request.status_field,
    )


def check_audience(desired: DesiredAudience, request: ActivationRequest) -> None:
    """The audience policies, applied before anything is sent: too many rejected records, or a
    mirror activation that would empty the list, fail; some rejected records are a warning.

    :raises BomboraValidationError: for ``accounts``, saying why and what to fix.
    """
    rejected = sum(desired.rejected_by_reason.values())
    hints = "".join(f" {hint}." for hint in desired.hints)
    if desired.received and rejected / desired.received > request.max_rejected_ratio:
        raise BomboraValidationError(
            "accounts",
            f"{rejected} of {desired.received} records rejected ({rejected / desired.received:.1%}), "
            f"more than max_rejected_ratio={request.max_rejected_ratio:g}; nothing was sent. "
            f"Reasons: {_reasons(desired)}. Sample: {_sample(desired)}.{hints} Fix the input or raise "
            "max_rejected_ratio.",
        )
    if request.sync_mode == MIRROR and not desired.to_add_candidates and not request.allow_empty:
        raise BomboraValidationError(
            "accounts",
            f"no valid account in {desired.received} records: a mirror activation would empty "
            f"the account list {request.audience_name!r}. Check the input, or set allow_empty=True "
            f"if the audience really is empty.{hints}",
        )
    if rejected:
        log.warning(
            "%d of %d records rejected (%s): %s.%s", rejected, desired.received, _reasons(desired), _sample(desired), hints
        )


def _reasons(desired: DesiredAudience) -> str:
    return ", ".join(f"{reason}: {count}" for reason, count in sorted(desired.rejected_by_reason.items()))


def _sample(desired: DesiredAudience) -> str:
    """The first rejections, as ``record 7: email (j***@acme.com)``; values are masked upstream."""
    return "; ".join(
        f"record {entry['record']}: {entry['reason']}" + (f" ({entry['value']})" if entry.get("value") else "")
        for entry in desired.rejected_sample[:5]
    )


def activate_audience(
    client: AccountListClient,
    request: ActivationRequest,
    desired: DesiredAudience,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> dict:
    """Bring the audience's Bombora account list in step with ``desired``; return the summary.

    Raises :class:`BomboraValidationError` (nothing sent) when the audience fails
    :func:`check_audience`, :class:`BomboraAudienceConflictError` (nothing written) when the list
    belongs to another dataflow, and :class:`StaleSnapshotError` when it holds a newer snapshot.
    """
    check_audience(desired, request)
    summary = client.find_account_list(request.audience_name)
    ownership = _check_ownership(summary, request)
    _check_snapshot(ownership, request)

    account_list_id = summary["id"] if summary else None
    current: Iterable[str] = ()
    if account_list_id is not None:
        _wait_until_applied(client, account_list_id, request, sleep)
        current = client.iter_account_domains(account_list_id)  # decoded as the planner reads it

    if request.sync_mode == MIRROR:
        plan = plan_mirror(desired.to_add_candidates, current)  # consumes the set: it is not needed after
    else:
        plan = plan_delta(desired.to_add_candidates, desired.to_remove_candidates, current)

    result = _result(request, desired, plan, account_list_id)
    if request.dry_run:
        result["plan_file"] = _write_plan_file(plan, request)
        log.info(
            "Dry run: would add %d accounts (%s) and remove %d (%s); nothing sent.%s",
            len(plan.to_add),
            ", ".join(result["plan_sample"]["to_add"]) or "none",
            len(plan.to_remove),
            ", ".join(result["plan_sample"]["to_remove"]) or "none",
            f" The whole plan: {result['plan_file']}" if result["plan_file"] else "",
        )
        return result

    if plan.to_add or plan.to_remove:
        # Taken before the first write: the export status sensor waits for a change after it.
        result["submitted_at"] = datetime.now(timezone.utc).isoformat()
    description = render_description(
        request.audience_description, ListOwnership(request.dataflow_id, _newest_snapshot(ownership, request))
    )
    if account_list_id is None:
        account_list_id = _create_list(client, request, description)
        result["account_list_id"] = account_list_id
    elif (summary.get("description") or None) != description:
        # Claiming before the first account write: a crash mid-run must not let an older
        # snapshot overwrite what this run has started to apply.
        _update_description(client, account_list_id, description)

    _send(client.delete_accounts, "removed", client, account_list_id, plan.to_remove, request, sleep)
    _send(client.add_accounts, "added", client, account_list_id, plan.to_add, request, sleep)
    log.info(
        "Account list %s (%r): %d added, %d removed, %d unchanged, %d rejected.",
        account_list_id, request.audience_name, len(plan.to_add), len(plan.to_remove), plan.unchanged, result["rejected"],
    )
    return result


def _check_ownership(summary: dict | None, request: ActivationRequest) -> ListOwnership | None:
    """The list's ownership if this dataflow may write to it; a conflict error otherwise."""
    if summary is None:
        return None
    account_list_id, name = summary.get("id"), request.audience_name
    if summary.get("type") != MANUAL:
        raise BomboraAudienceConflictError(
            f"Audience {name!r}: Bombora account list {account_list_id} has this name but is a "
            f"{summary.get('type')} list; only Manual lists accept account uploads. "
            "Choose another audience_name."
        )
    _, ownership = parse_description(summary.get("description"))
    if ownership is None:
        if request.adopt_existing:
            log.info("Adopting Manual account list %s (%r) for dataflow %r.", account_list_id, name, request.dataflow_id)
            return None
        raise BomboraAudienceConflictError(
            f"Audience {name!r}: Bombora account list {account_list_id} has this name but was not "
            "activated by airflow-provider-bombora (no ownership marker in its description). "
            "Set adopt_existing=True to take it over for dataflow "
            f"{request.dataflow_id!r}, or choose another audience_name."
        )
    if ownership.dataflow_id != request.dataflow_id:
        raise BomboraAudienceConflictError(
            f"Audience {name!r} was already activated to Bombora account list {account_list_id} through "
            f"dataflow {ownership.dataflow_id!r}; this task is dataflow {request.dataflow_id!r}. "
            "An audience can be activated through one dataflow only: use another audience_name, "
            f"or set dataflow_id={ownership.dataflow_id!r} if this task really replaces that dataflow."
        )
    return ownership


def _check_snapshot(ownership: ListOwnership | None, request: ActivationRequest) -> None:
    applied = ownership.snapshot_datetime() if ownership else None
    if applied is None or request.snapshot is None or request.allow_stale:
        return
    if datetime.fromisoformat(request.snapshot) < applied:
        raise StaleSnapshotError(
            f"Audience {request.audience_name!r}: the account list already holds snapshot "
            f"{ownership.snapshot}, newer than this run's {request.snapshot}; skipping so that an "
            "older run never overwrites a newer state. Set allow_stale=True to apply it anyway."
        )


def _newest_snapshot(ownership: ListOwnership | None, request: ActivationRequest) -> str | None:
    """The snapshot to record: this run's, unless an allowed stale run would move it back."""
    if ownership is None or ownership.snapshot is None or request.snapshot is None:
        return request.snapshot or (ownership.snapshot if ownership else None)
    return max(ownership.snapshot, request.snapshot, key=datetime.fromisoformat)


def _wait_until_applied(
    client: AccountListClient, account_list_id: str, request: ActivationRequest, sleep: Callable[[float], None]
) -> bool:
    """Wait, bounded, until the list has no pending update: until then its domains are stale.

    Returns whether there was an update to wait for.
    """

    def timed_out(_: str) -> BomboraPendingUpdateError:
        return BomboraPendingUpdateError(
            f"account list still has an update pending after {request.pending_update_timeout:g} s; "
            "Bombora has not applied the previous write yet. Retry later or raise pending_update_timeout.",
            status=409,
            path=f"account-list/{account_list_id}",
        )

    return wait_until(
        lambda: "an update is pending" if is_pending(client.get_account_list(account_list_id)) else None,
        timeout=request.pending_update_timeout,
        poll_interval=request.poll_interval,
        timed_out=timed_out,
        describe=f"Account list {account_list_id}",
        sleep=sleep,
    )


def _create_list(client: AccountListClient, request: ActivationRequest, description: str) -> str:
    try:
        return client.create_account_list(request.audience_name, description)
    except BomboraApiError as error:
        if error.status != 422:
            raise
        # No idempotency keys: a create retried after a lost answer finds its own list.
        summary = client.find_account_list(request.audience_name)
        if summary is None:
            raise
        _check_ownership(summary, request)
        return summary["id"]


def _update_description(client: AccountListClient, account_list_id: str, description: str) -> None:
    definition = client.get_account_list(account_list_id)
    metadata = definition.get("metadata") or {}
    client.update_account_list(
        account_list_id,
        {
            "type": definition.get("type", MANUAL),
            "metadata": {"name": metadata.get("name"), "description": description},
            "specification": definition.get("specification") or {},
        },
    )


def _send(
    write: Callable[..., int],
    verb: str,
    client: AccountListClient,
    account_list_id: str,
    domains: list[str],
    request: ActivationRequest,
    sleep: Callable[[float], None],
) -> None:
    """Send ``domains`` in batches; on 409 wait for the pending update and resume where it stopped."""
    progress = ProgressLog(verb, len(domains))
    done = 0
    stalled_since: float | None = None
    while done < len(domains):
        sent_in_call = 0

        def on_batch(sent: int) -> None:
            nonlocal sent_in_call
            sent_in_call = sent
            progress.update(done + sent)

        try:
            write(account_list_id, domains[done:] if done else domains, batch_size=request.batch_size, progress=on_batch)
            return
        except BomboraPendingUpdateError as error:
            done += sent_in_call
            now = time.monotonic()
            if sent_in_call or stalled_since is None:
                stalled_since = now
            elif now - stalled_since >= request.pending_update_timeout:
                raise BomboraPendingUpdateError(
                    f"Bombora kept answering 409 to account writes on list {account_list_id} for "
                    f"{request.pending_update_timeout:g} s; retry later or raise pending_update_timeout.",
                    status=409,
                    method=error.method,
                    path=error.path,
                ) from error
            if not _wait_until_applied(client, account_list_id, request, sleep):
                # 409 with no update pending: the list is "currently in use"; give it time.
                sleep(request.poll_interval)


class ProgressLog:
    """Logs progress of a long upload at every 10% step ("added 40,000 of 100,000 accounts (40%)")."""

    def __init__(self, verb: str, total: int) -> None:
        self.verb = verb
        self.total = total
        self._next_tenth = 1

    def update(self, done: int) -> None:
        if not self.total:
            return
        tenth = done * 10 // self.total
        if tenth >= self._next_tenth:
            self._next_tenth = tenth + 1
            log.info("%s %s of %s accounts (%d%%)", self.verb, f"{done:,}", f"{self.total:,}", done * 100 // self.total)


def _result(request: ActivationRequest, desired: DesiredAudience, plan: Plan, account_list_id: str | None) -> dict:
    return {
        "account_list_id": account_list_id,
        "audience_name": request.audience_name,
        "dataflow_id": request.dataflow_id,
        "sync_mode": request.sync_mode,
        "dry_run": request.dry_run,
        "snapshot": request.snapshot,
        "accounts_received": desired.received,
        "accounts_valid": desired.valid,
        "duplicates": desired.duplicates,
        "added": len(plan.to_add),
        "removed": len(plan.to_remove),
        "unchanged": plan.unchanged,
        "rejected": sum(desired.rejected_by_reason.values()),
        "rejected_by_reason": dict(desired.rejected_by_reason),
        "rejected_sample": list(desired.rejected_sample),
        # The first domains in alphabetical order: the same sample at every rerun of a plan.
        "plan_sample": {
            "to_add": heapq.nsmallest(PLAN_SAMPLE_SIZE, plan.to_add),
            "to_remove": heapq.nsmallest(PLAN_SAMPLE_SIZE, plan.to_remove),
        },
        "submitted_at": None,
    }


def _write_plan_file(plan: Plan, request: ActivationRequest) -> str | None:
    """Write a dry run's whole plan as JSON Lines (``{"action": "add"|"remove", "domain"}``) to
    ``request.plan_file``, or to a temporary file when the plan is longer than its sample."""
    path = request.plan_file
    if path is None:
        if max(len(plan.to_add), len(plan.to_remove)) <= PLAN_SAMPLE_SIZE:
            return None
        with tempfile.NamedTemporaryFile(prefix="bombora-plan-", suffix=".jsonl", delete=False) as file:
            path = file.name
    with open(path, "w", encoding="utf-8") as file:
        for action, domains in (("remove", plan.to_remove), ("add", plan.to_add)):
            for domain in domains:
                file.write(json.dumps({"action": action, "domain": domain}) + "\n")
    return path
