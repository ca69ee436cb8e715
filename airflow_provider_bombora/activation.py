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
from typing import Protocol

from airflow_provider_bombora.claim import ClaimClient, ListClaim, write_description
from airflow_provider_bombora.exceptions import (
    BomboraApiError,
    BomboraAudienceConflictError,
    BomboraValidationError,
)
from airflow_provider_bombora.mappings import ValidatedMappings
from airflow_provider_bombora.ownership import MANUAL, ListOwnership, parse_description, render_description
from airflow_provider_bombora.parameters import DELTA, MIRROR
from airflow_provider_bombora.plan import DesiredAudience, Plan, collect_desired, plan_delta, plan_mirror
from airflow_provider_bombora.records import NumberedRecords, iter_records
from airflow_provider_bombora.writes import WriteClient, wait_until_applied, write_plan

log = logging.getLogger(__name__)

#: Rounds of writes a contended run makes before it gives up on bringing the list to its accounts.
MAX_CONVERGE_ROUNDS = 5
#: Domains of each side of a plan shown in the log and the summary; a dry run writes the whole
#: plan to a file when it has more.
PLAN_SAMPLE_SIZE = 10


class AccountListClient(WriteClient, ClaimClient, Protocol):
    """The part of the hook that activation needs: what writing a plan and claiming need, and these."""

    def find_account_list(self, name: str) -> dict | None: ...
    def create_account_list(self, name: str, description: str | None = None) -> str: ...
    def iter_account_domains(self, account_list_id: str) -> Iterable[str]: ...


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
    #: The parameter the audience came from, named in the audience policies' errors.
    source_field: str = "accounts"
    pending_update_timeout: float = 900.0
    poll_interval: float = 10.0


def required_sources(mappings: ValidatedMappings, request: ActivationRequest) -> tuple[str, ...]:
    """The record fields an activation reads: the primary id, the domain, and in delta mode the status."""
    required = [mappings.primary_id_source, mappings.domain_source]
    if request.sync_mode == DELTA:
        required.append(request.status_field)
    return tuple(required)


def collect_audience(
    records: NumberedRecords, mappings: ValidatedMappings, request: ActivationRequest
) -> DesiredAudience:
    """The domains wanted, from ``(position, record)`` pairs of any source, read once, streamed."""
    return collect_desired(records, mappings, sync_mode=request.sync_mode, status_field=request.status_field)


def read_audience(
    accounts: object, mappings: ValidatedMappings, request: ActivationRequest, *, conn_id: str | None = None
) -> DesiredAudience:
    """Read the audience's records (streamed) into the domains wanted; nothing is sent to Bombora.

    :param accounts: Records, a local file, or object storage (a URL or an ``ObjectStoragePath``;
        see :func:`~airflow_provider_bombora.records.iter_records`).
    :param conn_id: The object store's Airflow connection, for a URL.
    :raises BomboraValidationError: for an input that cannot be read.
    """
    records = iter_records(accounts, required_sources=required_sources(mappings, request), conn_id=conn_id)
    return collect_audience(records, mappings, request)


def check_audience(desired: DesiredAudience, request: ActivationRequest) -> None:
    """The audience policies, applied before anything is sent: too many rejected records, or a
    mirror activation that would empty the list, fail; some rejected records are a warning.

    :raises BomboraValidationError: for ``accounts``, saying why and what to fix.
    """
    rejected = sum(desired.rejected_by_reason.values())
    hints = "".join(f" {hint}." for hint in desired.hints)
    if desired.received and rejected / desired.received > request.max_rejected_ratio:
        raise BomboraValidationError(
            request.source_field,
            f"{rejected} of {desired.received} records rejected ({rejected / desired.received:.1%}), "
            f"more than max_rejected_ratio={request.max_rejected_ratio:g}; nothing was sent. "
            f"Reasons: {_reasons(desired)}. Sample: {_sample(desired)}.{hints} Fix the input or raise "
            "max_rejected_ratio.",
        )
    if request.sync_mode == MIRROR and not desired.to_add_candidates and not request.allow_empty:
        raise BomboraValidationError(
            request.source_field,
            f"no valid account in {desired.received} records: a mirror activation would empty "
            f"the account list {request.audience_name!r}. Check the input, or set allow_empty=True "
            f"if the audience really is empty.{hints}",
        )
    if rejected:
        log.warning(
            "%d of %d records rejected (%s): %s.%s",
            rejected, desired.received, _reasons(desired), _sample(desired), hints,
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

    Runs of one audience may run at once (a backfill runs up to ten): they coordinate through
    the list's marker (:mod:`~airflow_provider_bombora.claim`), and the list ends equal to the
    newest snapshot's accounts.

    Raises :class:`BomboraValidationError` (nothing sent) when the audience fails
    :func:`check_audience`, :class:`BomboraAudienceConflictError` (nothing written) when the list
    belongs to another dataflow, and :class:`StaleSnapshotError` when it holds a newer snapshot.
    """
    check_audience(desired, request)
    summary = client.find_account_list(request.audience_name)
    found = _check_ownership(summary, request)
    # Runs are ordered by snapshot, unless allow_stale (or no snapshot) takes a run out of the order.
    ordered = request.snapshot is not None and not request.allow_stale
    account_list_id = summary["id"] if summary else None
    claim = _claim(client, account_list_id, request) if ordered and account_list_id else None
    if claim is not None:
        claim.refuse_if_newer(found)
    done = ListOwnership(request.dataflow_id, request.snapshot)
    if claim is not None and found != done and not request.dry_run:
        # Claimed before the members are read: a run that starts now sees this snapshot.
        claim.take()
    wanted = _Wanted.of(desired, request)
    # An ordered run keeps its wanted set whole: should other runs write meanwhile, it plans again.
    plan = _plan(client, account_list_id, wanted.copy() if ordered else wanted, request, sleep)

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
    if account_list_id is None:
        account_list_id, claim = _create_list(client, request, ordered)
        result["account_list_id"] = account_list_id
    elif claim is not None:
        if not claim.taken and (plan.to_add or plan.to_remove):
            claim.take()  # a rerun of the snapshot the list holds, with something to write
    elif summary is not None and (summary.get("description") or None) != (
        description := _unordered_description(found, request)
    ):
        # Recorded before the first account write: a crash mid-run leaves the list marked.
        write_description(client, account_list_id, client.get_account_list(account_list_id), description)

    write_plan(client, account_list_id, plan, request, sleep, claim)
    if claim is not None and claim.taken:
        if claim.contended:
            _converge(client, account_list_id, wanted, request, sleep, claim)
        for _ in range(MAX_CONVERGE_ROUNDS):
            if claim.release():
                break
            _converge(client, account_list_id, wanted, request, sleep, claim)
        else:
            raise BomboraApiError(
                f"Audience {request.audience_name!r}: older runs kept claiming account list {account_list_id} "
                "while this run checked it; retry the task",
                path=f"account-list/{account_list_id}",
            )
    log.info(
        "Account list %s (%r): %d added, %d removed, %d unchanged, %d rejected.",
        account_list_id, request.audience_name,
        len(plan.to_add), len(plan.to_remove), plan.unchanged, result["rejected"],
    )
    return result


@dataclass(frozen=True)
class _Wanted:
    """What the list must hold: ``add`` members (all of them in mirror mode) and ``remove`` exits."""

    mirror: bool
    add: set[str]
    remove: set[str]

    @classmethod
    def of(cls, desired: DesiredAudience, request: ActivationRequest) -> _Wanted:
        return cls(request.sync_mode == MIRROR, desired.to_add_candidates, desired.to_remove_candidates)

    def copy(self) -> _Wanted:
        """A copy for planning: a mirror plan consumes its set, and a contended run plans again."""
        return _Wanted(self.mirror, set(self.add), self.remove)


def _plan(
    client: AccountListClient,
    account_list_id: str | None,
    wanted: _Wanted,
    request: ActivationRequest,
    sleep: Callable[[float], None],
) -> Plan:
    """The writes that bring the list to ``wanted``, from its members once Bombora has applied
    every update (until then they are stale)."""
    current: Iterable[str] = ()
    if account_list_id is not None:
        wait_until_applied(client, account_list_id, request, sleep)
        current = client.iter_account_domains(account_list_id)  # decoded as the planner reads it
    if wanted.mirror:
        return plan_mirror(wanted.add, current)  # consumes the set
    return plan_delta(wanted.add, wanted.remove, current)


def _converge(
    client: AccountListClient,
    account_list_id: str,
    wanted: _Wanted,
    request: ActivationRequest,
    sleep: Callable[[float], None],
    claim: ListClaim,
) -> None:
    """Another run was at work on the list: write what still differs until the list holds ``wanted``."""
    for round_number in range(1, MAX_CONVERGE_ROUNDS + 1):
        claim.check()
        plan = _plan(client, account_list_id, wanted.copy(), request, sleep)
        if not (plan.to_add or plan.to_remove):
            log.info(
                "Account list %s holds this run's accounts (checked after other runs wrote to it).", account_list_id
            )
            return
        log.warning(
            "Account list %s: other runs wrote to it meanwhile; writing %d additions and %d removals "
            "again (round %d).", account_list_id, len(plan.to_add), len(plan.to_remove), round_number,
        )
        write_plan(client, account_list_id, plan, request, sleep, claim)
    raise BomboraApiError(
        f"Audience {request.audience_name!r}: account list {account_list_id} still differs from this run's "
        f"accounts after {MAX_CONVERGE_ROUNDS} rounds of writes while other runs wrote to it; retry the task",
        path=f"account-list/{account_list_id}",
    )


def _claim(client: AccountListClient, account_list_id: str, request: ActivationRequest) -> ListClaim:
    assert request.snapshot is not None
    return ListClaim(
        client,
        account_list_id,
        audience_name=request.audience_name,
        dataflow_id=request.dataflow_id,
        snapshot=request.snapshot,
        user_description=request.audience_description,
    )


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
            log.info(
                "Adopting Manual account list %s (%r) for dataflow %r.", account_list_id, name, request.dataflow_id
            )
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


def _unordered_description(found: ListOwnership | None, request: ActivationRequest) -> str:
    """The description a run out of the snapshot order records: the newest snapshot stays, so that
    an allowed stale run never moves it back."""
    snapshots = [snapshot for snapshot in (found.snapshot if found else None, request.snapshot) if snapshot]
    newest = max(snapshots, key=datetime.fromisoformat) if snapshots else None
    return render_description(request.audience_description, ListOwnership(request.dataflow_id, newest))


def _create_list(client: AccountListClient, request: ActivationRequest, ordered: bool) -> tuple[str, ListClaim | None]:
    """Create the list, claimed in its description; return its id and the claim (None if not ordered).

    Answered 422 "name in use", the list was made meanwhile: by this run (a create retried after a
    lost answer: there are no idempotency keys) or by a concurrent run. Either way it is then an
    existing list, claimed like one, and the run verifies its result.
    """
    ownership = ListOwnership(request.dataflow_id, request.snapshot, writing=ordered)
    if ordered:
        description = render_description(request.audience_description, ownership)
    else:
        description = _unordered_description(None, request)
    try:
        account_list_id = client.create_account_list(request.audience_name, description)
    except BomboraApiError as error:
        if error.status != 422:
            raise
        summary = client.find_account_list(request.audience_name)
        if summary is None:
            raise
        _check_ownership(summary, request)
        if not ordered:
            return summary["id"], None
        claim = _claim(client, summary["id"], request)
        claim.contended = True
        claim.take()
        return summary["id"], claim
    if not ordered:
        return account_list_id, None
    claim = _claim(client, account_list_id, request)
    claim.created()
    return account_list_id, claim


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
