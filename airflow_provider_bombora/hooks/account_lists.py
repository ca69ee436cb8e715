"""The Account List API calls of the synchronous hook (``/account-list/v1``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from airflow_provider_bombora.hooks.base import BomboraBaseHook
from airflow_provider_bombora.hooks.wire import (
    ACCOUNT_LISTS_ANSWER,
    ACCOUNT_LISTS_PATH,
    AccountDomains,
    account_list_path,
    account_lists_of,
    accounts_body,
    delete_accounts_body,
    has_id,
    is_account_lists_answer,
    is_object,
    json_bytes,
    select_account_list,
    unique_batches,
)


class AccountListCalls(BomboraBaseHook):
    """Read and write account lists and their accounts."""

    def list_account_lists(self) -> list[dict[str, Any]]:
        """Summaries of all account lists: ``id``, ``name``, ``type``, ``accountTotal``, ``pendingUpdate``...

        Accepts both documented answers: a bare array and ``{"accountLists": [...]}``.
        """
        return account_lists_of(
            self._call("GET", ACCOUNT_LISTS_PATH, check=is_account_lists_answer, expected=ACCOUNT_LISTS_ANSWER)
        )

    def find_account_list(self, name: str) -> dict[str, Any] | None:
        """The summary of the account list named exactly ``name`` (case-sensitive), or None.

        :raises BomboraApiError: if several lists have that name: Bombora keeps names unique,
            and picking one could write to the wrong list.
        """
        return select_account_list(self.list_account_lists(), name)

    def create_account_list(self, name: str, description: str | None = None, *, type: str = "Manual") -> str:
        """Create an account list and return its id.

        Not idempotent: a retried create that had succeeded makes a second list (or a 422 for
        the name in use), so look the name up with :meth:`find_account_list` first.

        :param name: The list's name, unique among the customer's lists.
        :param description: Optional description.
        :param type: ``Manual`` (the only type that accepts uploads), ``Derived``, ``Surge`` or
            ``VisitorInsights``.
        """
        metadata = {"name": name} if description is None else {"name": name, "description": description}
        body = json_bytes({"type": type, "metadata": metadata, "specification": {}})
        payload = self._call(
            "POST",
            ACCOUNT_LISTS_PATH,
            body,
            check=has_id,
            expected='{"id": "<new list id>"}',
        )
        return payload["id"]

    def get_account_list(self, account_list_id: str) -> dict[str, Any]:
        """The AccountListDefinition (``type``, ``metadata``, ``specification``, ``accountsLastModified``)."""
        return self._call(
            "GET", account_list_path(account_list_id), check=is_object, expected="an account list definition"
        )

    def update_account_list(self, account_list_id: str, definition: dict[str, Any]) -> dict[str, Any]:
        """Replace a list's definition (``type`` and ``parentId`` cannot change); return the stored one."""
        return self._call(
            "PUT",
            account_list_path(account_list_id),
            json_bytes(definition),
            check=is_object,
            expected="an account list definition",
        )

    def delete_account_list(self, account_list_id: str) -> None:
        """Delete an account list (409 :class:`BomboraPendingUpdateError` if a Derived list depends on it)."""
        self._call("DELETE", account_list_path(account_list_id))

    def add_accounts(
        self,
        account_list_id: str,
        domains: Iterable[str],
        batch_size: int = 1000,
        *,
        progress: Callable[[int], None] | None = None,
        before_each: Callable[[], None] | None = None,
    ) -> int:
        """Add (or update) accounts identified by domain, in batches; return how many were sent.

        ``domains`` is read lazily (a generator works; only one batch is held in memory). Repeats
        within a batch are dropped, since Bombora rejects a body that repeats an identifier.
        Bombora applies the upload asynchronously (``pendingUpdate``). An invalid item raises
        :class:`BomboraValidationError` when reached, after the batches before it were sent.

        :param account_list_id: The Manual account list to add to.
        :param domains: Bare domains, e.g. ``acme.com``.
        :param batch_size: Accounts per request, 1 to 10000.
        :param progress: Called after each batch with the number of accounts sent so far.
        :param before_each: Called before every attempt to send a batch, retries included; what it
            raises stops the writes (the activation checks its claim on the list there).
        """
        path = account_list_path(account_list_id, "/accounts")
        return self._write_in_batches(path, accounts_body, domains, batch_size, "domains", progress, before_each)

    def delete_accounts(
        self,
        account_list_id: str,
        ids: Iterable[str],
        batch_size: int = 1000,
        *,
        progress: Callable[[int], None] | None = None,
        before_each: Callable[[], None] | None = None,
    ) -> int:
        """Remove accounts by identifier (the domain, unless added with an ``id``); return how many were sent.

        Same batching rules as :meth:`add_accounts`. Answered 409 (:class:`BomboraPendingUpdateError`)
        while an update of the list is pending.

        :param account_list_id: The account list to remove from.
        :param ids: Account identifiers.
        :param batch_size: Identifiers per request, 1 to 10000.
        :param progress: Called after each batch with the number of identifiers sent so far.
        :param before_each: As for :meth:`add_accounts`.
        """
        path = account_list_path(account_list_id, "/delete-accounts")
        return self._write_in_batches(path, delete_accounts_body, ids, batch_size, "ids", progress, before_each)

    def _write_in_batches(
        self,
        path: str,
        encode: Callable[[list[str]], bytes],
        values: Iterable[str],
        batch_size: int,
        name: str,
        progress: Callable[[int], None] | None,
        before_each: Callable[[], None] | None,
    ) -> int:
        sent = 0
        for batch in unique_batches(values, batch_size, name):
            self._call("POST", path, encode(batch), before_attempt=before_each)
            sent += len(batch)
            if progress is not None:
                progress(sent)
        return sent

    def empty_account_list(self, account_list_id: str) -> None:
        """Remove every account from a list (idempotent; 409 while an update is pending)."""
        self._call("DELETE", account_list_path(account_list_id, "/accounts"))

    def get_account_domains(self, account_list_id: str) -> list[str]:
        """All distinct domains in a list."""
        return list(self.iter_account_domains(account_list_id))

    def iter_account_domains(self, account_list_id: str) -> AccountDomains:
        """All distinct domains in a list, decoded one at a time as they are iterated
        (see :class:`~airflow_provider_bombora.hooks.wire.AccountDomains`)."""
        path = account_list_path(account_list_id, "/accounts/domains")
        return AccountDomains.of_answer(self._authorized("GET", path).content, path)
