"""How concurrent runs of one audience agree on whose snapshot the account list holds.

Bombora has no locks and no conditional writes, so runs coordinate through the ownership
marker in the list's description (:mod:`~airflow_provider_bombora.ownership`):

1. **Claim.** Before it writes, a run puts its snapshot into the marker with ``"writing": true``
   and reads the marker back. Finding a newer snapshot there, at any point, ends the run
   (:class:`~airflow_provider_bombora.exceptions.StaleSnapshotError`: skipped). Finding an older
   one where its own should be (an older run wrote its claim over this one) it claims again.
2. **Check.** Before every attempt to send a batch of accounts (the hook's retries included),
   it reads the marker: an older run stops at its next request after a newer claim.
3. **Verify.** A run that saw another run at work on the list (a claim of another snapshot
   still ``writing``, its own claim overwritten, a create answered "name in use") does not
   trust its plan: once Bombora has applied every update, it reads the list and writes what
   still differs from its accounts, until the list equals them.
4. **Release.** At the end it clears ``writing``, if the marker is still its own; finding an
   older run's claim there instead, it verifies the list first (step 3).

So the newest run is the last to write, and it checks the result. The limit: an older run
that read the marker just before the newest run claimed may send one more request after the
newest run's check of the list (the time between a check and the write that follows it);
see docs/operator.md. Pure module: no Airflow or HTTP import.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Protocol

from airflow_provider_bombora.exceptions import BomboraApiError, StaleSnapshotError
from airflow_provider_bombora.ownership import MANUAL, ListOwnership, parse_description, render_description

log = logging.getLogger(__name__)

#: Claims in a row overwritten by older runs before a run gives up (each is followed by a read).
MAX_CLAIMS = 10


class ClaimClient(Protocol):
    """The part of the hook that claiming needs."""

    def get_account_list(self, account_list_id: str) -> dict: ...
    def update_account_list(self, account_list_id: str, definition: dict) -> dict: ...


def description_of(account_list: dict[str, Any]) -> str | None:
    """The description of an AccountListDefinition (under ``metadata``) or a summary (top level)."""
    metadata = account_list.get("metadata") or {}
    return metadata.get("description", account_list.get("description"))


def is_newer(snapshot: str | None, than: str | None) -> bool:
    """Whether snapshot ``snapshot`` is later than ``than`` (a missing one is older than any)."""
    if snapshot is None:
        return False
    return than is None or datetime.fromisoformat(snapshot) > datetime.fromisoformat(than)


class ListClaim:
    """One run's claim on its audience's account list.

    :param client: Reads and updates the list's definition.
    :param account_list_id: The list.
    :param audience_name: For messages.
    :param dataflow_id: The dataflow that owns the list.
    :param snapshot: This run's snapshot (ISO 8601).
    :param user_description: The text the marker line follows in the description.
    """

    def __init__(
        self,
        client: ClaimClient,
        account_list_id: str,
        *,
        audience_name: str,
        dataflow_id: str,
        snapshot: str,
        user_description: str | None,
    ) -> None:
        self.client = client
        self.account_list_id = account_list_id
        self.audience_name = audience_name
        self.snapshot = snapshot
        self.user_description = user_description
        self.mine = ListOwnership(dataflow_id, snapshot, writing=True)
        #: Whether another run was seen at work on the list: the result must then be verified.
        self.contended = False
        #: Whether this run has put its claim in the marker (then it releases it at the end).
        self.taken = False

    # --- the steps ---

    def take(self) -> None:
        """Claim the list: write this run's snapshot into the marker, and read it back.

        The marker is read again right before the write, so that only one request's time
        separates the check for a newer claim from the write that would overwrite it.

        :raises StaleSnapshotError: when the list holds, or comes to hold, a newer snapshot.
        :raises BomboraApiError: when older runs overwrote the claim :data:`MAX_CLAIMS` times.
        """
        for _ in range(MAX_CLAIMS):
            definition = self.client.get_account_list(self.account_list_id)
            self._note(self._ownership(definition))
            self._write(self.mine, definition)
            self.taken = True
            found = self._ownership(self.client.get_account_list(self.account_list_id))
            self._note(found)
            if found == self.mine:
                log.info("Account list %s claimed for snapshot %s.", self.account_list_id, self.snapshot)
                return
            self.contended = True  # an older run wrote its claim over this one
            log.warning(
                "Account list %s: a run of snapshot %s wrote its claim over this run's (%s); claiming again.",
                self.account_list_id, found.snapshot if found else None, self.snapshot,
            )
        raise BomboraApiError(
            f"Audience {self.audience_name!r}: the claim on account list {self.account_list_id} was "
            f"overwritten by older runs {MAX_CLAIMS} times in a row; retry later",
            path=f"account-list/{self.account_list_id}",
        )

    def created(self) -> None:
        """This run made the list, its claim in the description it was created with."""
        self.taken = True

    def refuse_if_newer(self, found: ListOwnership | None) -> None:
        """:raises StaleSnapshotError: when ``found`` holds a snapshot newer than this run's."""
        self._refuse_newer(found)

    def check(self) -> None:
        """Before a write: make sure the claim still holds, and claim again after an older run.

        :raises StaleSnapshotError: when a newer run has claimed the list.
        """
        definition = self.client.get_account_list(self.account_list_id)
        found = self._ownership(definition)
        if found != self.mine:
            self._note(found)
            self.contended = True
            self.take()

    def release(self) -> bool:
        """After the writes: clear ``writing`` if the marker is still this run's claim.

        Returns False, releasing nothing, when an older run's claim is found there instead: the
        list must then be verified (:attr:`contended` is set) before releasing again.

        :raises StaleSnapshotError: when a newer run claimed the list meanwhile (that run
            verifies the list itself).
        """
        definition = self.client.get_account_list(self.account_list_id)
        found = self._ownership(definition)
        self._note(found)
        if found != self.mine:
            self.contended = True
            return False
        self._write(ListOwnership(self.mine.dataflow_id, self.snapshot), definition)
        return True

    # --- helpers ---

    def _note(self, found: ListOwnership | None) -> None:
        """What a read of the marker tells: a newer claim ends the run; another snapshot's run
        still writing means this run's result must be verified."""
        self._refuse_newer(found)
        if found is not None and found.writing and found.snapshot != self.snapshot:
            self.contended = True

    def _refuse_newer(self, found: ListOwnership | None) -> None:
        if found is not None and is_newer(found.snapshot, self.snapshot):
            raise StaleSnapshotError(
                f"Audience {self.audience_name!r}: the account list already holds snapshot "
                f"{found.snapshot}, newer than this run's {self.snapshot}; skipping so that an "
                "older run never overwrites a newer state. Set allow_stale=True to apply it anyway."
            )

    def _ownership(self, definition: dict[str, Any]) -> ListOwnership | None:
        return parse_description(description_of(definition))[1]

    def _write(self, ownership: ListOwnership, definition: dict[str, Any]) -> None:
        description = render_description(self.user_description, ownership)
        write_description(self.client, self.account_list_id, definition, description)


def write_description(client: ClaimClient, account_list_id: str, definition: dict[str, Any], description: str) -> None:
    """Replace a list's description, keeping the rest of its definition (a PUT replaces it all)."""
    metadata = definition.get("metadata") or {}
    client.update_account_list(
        account_list_id,
        {
            "type": definition.get("type", MANUAL),
            "metadata": {"name": metadata.get("name"), "description": description},
            "specification": definition.get("specification") or {},
        },
    )
