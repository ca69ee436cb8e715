"""An in-memory fake of BomboraHook's account list calls, for the pure activation tests.

Thread-safe, so that concurrent runs can share its lists; ``view()`` gives another client of
the same lists with its own call record, and ``before(kind, n, action)`` runs ``action`` just
before that client's n-th batch of ``kind`` ("add" or "delete") checks its claim, to play a
precise interleaving of runs.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

from airflow_provider_bombora.exceptions import BomboraApiError, BomboraPendingUpdateError
from airflow_provider_bombora.ownership import ListOwnership, render_description

NAME = "High intent accounts"


class FakeAccountLists:
    """The account list calls of BomboraHook, in memory, recording every call.

    ``pending_reads``: how many reads of a list still show a pending update after a write.
    ``conflicts``: ``{"add" | "delete": [batch numbers answered 409]}`` (1-based, counted per method).
    """

    def __init__(self, pending_reads: int = 0, conflicts: dict[str, list[int]] | None = None) -> None:
        self.lock = threading.RLock()
        self.lists: dict[str, dict] = {}
        self.pending_reads = pending_reads
        self.conflicts = conflicts or {}
        self.lose_create_answer = False
        self._pending: dict[str, int] = {}
        self._reset_client()

    def _reset_client(self) -> None:
        self.calls: list[str] = []
        self._batches = {"add": 0, "delete": 0}
        self._before: dict[tuple[str, int], Callable[[], object]] = {}

    def view(self) -> FakeAccountLists:
        """Another client of the same lists, with its own call record, batch counts and interleavings."""
        other = FakeAccountLists.__new__(FakeAccountLists)
        other.__dict__.update(self.__dict__)
        other._reset_client()
        return other

    def before(self, kind: str, batch: int, action: Callable[[], object]) -> None:
        """Run ``action`` just before this client's ``batch``-th batch of ``kind`` checks its claim
        (what it returns is ignored)."""
        self._before[(kind, batch)] = action

    def seed(
        self, domains=(), *, ownership: ListOwnership | None = None, type: str = "Manual", description=None
    ) -> str:
        list_id = str(uuid.uuid4())
        if ownership is not None:
            description = render_description(description, ownership)
        self.lists[list_id] = {"name": NAME, "type": type, "description": description, "domains": set(domains)}
        return list_id

    def writes(self) -> list[str]:
        return [call for call in self.calls if call.split()[0] in ("create", "update", "add", "delete")]

    # --- the client ---

    def find_account_list(self, name: str) -> dict | None:
        self.calls.append(f"find {name}")
        with self.lock:
            for list_id, stored in self.lists.items():
                if stored["name"] == name:
                    return {"id": list_id, "name": name, "type": stored["type"], "description": stored["description"]}
        return None

    def create_account_list(self, name: str, description: str | None = None) -> str:
        self.calls.append(f"create {name}")
        with self.lock:
            if any(stored["name"] == name for stored in self.lists.values()):
                raise BomboraApiError("name in use", status=422, method="POST", path="/account-list")
            list_id = str(uuid.uuid4())
            self.lists[list_id] = {"name": name, "type": "Manual", "description": description, "domains": set()}
            if self.lose_create_answer:  # the list is made, the answer says 422 (a retried POST)
                self.lose_create_answer = False
                raise BomboraApiError("name in use", status=422, method="POST", path="/account-list")
        return list_id

    def get_account_list(self, account_list_id: str) -> dict:
        self.calls.append(f"get {account_list_id}")
        with self.lock:
            stored = self.lists[account_list_id]
            pending = self._pending.get(account_list_id, 0) > 0
            if pending:
                self._pending[account_list_id] -= 1
            metadata = {"name": stored["name"], "description": stored["description"], "pendingUpdate": pending}
            return {"type": stored["type"], "metadata": metadata, "specification": {}}

    def update_account_list(self, account_list_id: str, definition: dict) -> dict:
        self.calls.append(f"update {account_list_id}")
        with self.lock:
            self.lists[account_list_id]["description"] = definition["metadata"]["description"]
        return definition

    def iter_account_domains(self, account_list_id: str):
        self.calls.append(f"domains {account_list_id}")
        with self.lock:
            return iter(sorted(self.lists[account_list_id]["domains"]))

    def add_accounts(self, account_list_id, domains, batch_size=1000, progress=None, before_each=None) -> int:
        return self._write("add", account_list_id, list(domains), batch_size, progress, before_each)

    def delete_accounts(self, account_list_id, ids, batch_size=1000, progress=None, before_each=None) -> int:
        return self._write("delete", account_list_id, list(ids), batch_size, progress, before_each)

    def _write(self, kind, account_list_id, values, batch_size, progress, before_each) -> int:
        """Apply the batches, answering 409 to those scheduled in ``conflicts``."""
        sent = 0
        for start in range(0, len(values), batch_size):
            self._batches[kind] += 1
            action = self._before.pop((kind, self._batches[kind]), None)
            if action is not None:
                action()
            if before_each is not None:
                before_each()
            batch = values[start : start + batch_size]
            if self._batches[kind] in self.conflicts.get(kind, []):
                self._pending[account_list_id] = self.pending_reads
                raise BomboraPendingUpdateError("pending", status=409, method="POST", path=f"/{kind}")
            self.calls.append(f"{kind} {len(batch)}")
            with self.lock:
                domains = self.lists[account_list_id]["domains"]
                if kind == "add":
                    domains.update(batch)
                else:
                    domains.difference_update(batch)
                self._pending[account_list_id] = self.pending_reads
            sent += len(batch)
            if progress is not None:
                progress(sent)
        return sent
