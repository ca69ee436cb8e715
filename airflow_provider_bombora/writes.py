"""Writing a plan to an account list: batches, the 409 "update pending" waits, progress, and the
checks of the run's claim between batches. Pure module: no Airflow or HTTP import; it writes
through the client it is given (the hook).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from airflow_provider_bombora.claim import ListClaim
from airflow_provider_bombora.exceptions import BomboraPendingUpdateError
from airflow_provider_bombora.export_status import is_pending
from airflow_provider_bombora.plan import Plan
from airflow_provider_bombora.polling import wait_until

log = logging.getLogger(__name__)


class WriteClient(Protocol):
    """The part of the hook that writing a plan needs."""

    def get_account_list(self, account_list_id: str) -> dict: ...
    def add_accounts(
        self, account_list_id: str, domains: Any, batch_size: int = ..., *, progress: Any = ..., before_each: Any = ...
    ) -> int: ...
    def delete_accounts(
        self, account_list_id: str, ids: Any, batch_size: int = ..., *, progress: Any = ..., before_each: Any = ...
    ) -> int: ...


class WriteSettings(Protocol):
    """The settings of a run that writing needs (an ``ActivationRequest`` has them)."""

    # Properties: read-only, as the fields of the frozen ActivationRequest are.
    @property
    def batch_size(self) -> int: ...
    @property
    def pending_update_timeout(self) -> float: ...
    @property
    def poll_interval(self) -> float: ...


def wait_until_applied(
    client: WriteClient, account_list_id: str, request: WriteSettings, sleep: Callable[[float], None]
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


def write_plan(
    client: WriteClient,
    account_list_id: str,
    plan: Plan,
    request: WriteSettings,
    sleep: Callable[[float], None],
    claim: ListClaim | None,
) -> None:
    """Send a plan: removals first, then additions."""
    send_in_batches(client.delete_accounts, "removed", client, account_list_id, plan.to_remove, request, sleep, claim)
    send_in_batches(client.add_accounts, "added", client, account_list_id, plan.to_add, request, sleep, claim)


def send_in_batches(
    write: Callable[..., int],
    verb: str,
    client: WriteClient,
    account_list_id: str,
    domains: list[str],
    request: WriteSettings,
    sleep: Callable[[float], None],
    claim: ListClaim | None,
) -> None:
    """Send ``domains`` in batches; on 409 wait for the pending update and resume where it stopped.

    With a ``claim``, it is checked before every attempt to send a batch, the hook's retries
    included: a newer run's claim stops the writes (``StaleSnapshotError``).
    """
    progress = ProgressLog(verb, len(domains))
    done = 0
    stalled_since: float | None = None
    while done < len(domains):
        sent_in_call = 0

        def on_batch(sent: int) -> None:
            nonlocal sent_in_call
            sent_in_call = sent
            progress.update(done + sent)  # noqa: B023 - called only by this iteration's write(), with its `done`

        try:
            write(
                account_list_id,
                domains[done:] if done else domains,
                batch_size=request.batch_size,
                progress=on_batch,
                before_each=claim.check if claim is not None else None,
            )
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
            if not wait_until_applied(client, account_list_id, request, sleep):
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
