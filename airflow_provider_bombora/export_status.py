"""Is an export to Bombora live yet? The decision the export sensor, its trigger and the operator share.

Bombora applies account uploads asynchronously: an account list shows ``pendingUpdate: true``
until its update job has run, then ``accountTotal`` and ``accountsLastModified`` change. An
export is *live* when its list has no pending update and, if the upload was submitted at a
known time, its ``accountsLastModified`` is not older than it.

:class:`ExportTarget` is a :class:`~airflow_provider_bombora.polling.Watch`: the waiting itself
(schedule, loop, trigger events) is :mod:`.polling`'s. This module imports neither Airflow nor
an HTTP library: it reads account lists through the client it is given
(:class:`~airflow_provider_bombora.hooks.bombora.BomboraHook`, or
:class:`~airflow_provider_bombora.hooks.bombora_async.BomboraAsyncHook` for ``aread``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, ClassVar, Protocol

from airflow_provider_bombora.exceptions import (
    BomboraError,
    BomboraExportStatusError,
    BomboraExportTimeoutError,
    BomboraNotFoundError,
    BomboraValidationError,
)
from airflow_provider_bombora.polling import Status

#: The keys of the result (the sensor's XCom return value), in this order.
RESULT_KEYS = ("account_list_id", "audience_name", "account_total", "accounts_last_modified", "pending_update")

# What a template renders for a missing value ("{{ ... }}" of None is the text "None").
_BLANK = ("", "None")


class ExportStatusClient(Protocol):
    """The part of the synchronous hook that reading an export status needs."""

    def get_account_list(self, account_list_id: str) -> dict: ...
    def find_account_list(self, name: str) -> dict | None: ...


class AsyncExportStatusClient(Protocol):
    """The part of the asynchronous hook that reading an export status needs."""

    def get_account_list(self, account_list_id: str) -> Awaitable[dict]: ...
    def find_account_list(self, name: str) -> Awaitable[dict | None]: ...


@dataclass(frozen=True)
class ExportTarget:
    """Which account list to watch, and what "live" means for it.

    :param account_list_id: The account list's id; when None the list is looked up by ``audience_name``.
    :param audience_name: The list's name (used for the lookup, and in messages).
    :param submitted_after: When the upload was submitted (aware, UTC); None: any applied state counts.
    :param expected_account_total: The account total the live list must have; None: any.
    """

    result_keys: ClassVar[tuple[str, ...]] = RESULT_KEYS
    failure: ClassVar[type[BomboraError]] = BomboraExportStatusError
    timeout: ClassVar[type[BomboraError]] = BomboraExportTimeoutError
    finished: ClassVar[str] = "live"

    account_list_id: str | None = None
    audience_name: str | None = None
    submitted_after: datetime | None = None
    expected_account_total: int | None = None

    @classmethod
    def from_parameters(
        cls,
        *,
        account_list_id: Any = None,
        audience_name: Any = None,
        submitted_after: Any = None,
        expected_account_total: Any = None,
    ) -> ExportTarget:
        """Validate task parameters as rendered by templating and build the target.

        An empty value, or the text ``None`` (what a template renders for a missing value),
        counts as not given. ``submitted_after`` is an ISO 8601 string or a datetime; without a
        zone it means UTC. ``expected_account_total`` may be a whole number or its text.

        :raises BomboraValidationError: naming the parameter at fault.
        """
        target = cls(
            account_list_id=_text_or_none("account_list_id", account_list_id),
            audience_name=_text_or_none("audience_name", audience_name),
            submitted_after=_submitted_after(submitted_after),
            expected_account_total=_account_total(expected_account_total),
        )
        if target.account_list_id is None and target.audience_name is None:
            raise BomboraValidationError(
                "account_list_id",
                "neither account_list_id nor audience_name has a value; give one of them "
                "(a template that renders '' or 'None' counts as no value: did the upstream task "
                "return no account list id, e.g. in a dry run?)",
            )
        return target

    def to_parameters(self) -> dict[str, Any]:
        """The JSON-serialisable parameters :meth:`from_parameters` rebuilds this target from."""
        return {
            "account_list_id": self.account_list_id,
            "audience_name": self.audience_name,
            "submitted_after": self.submitted_after.isoformat() if self.submitted_after else None,
            "expected_account_total": self.expected_account_total,
        }

    def identified_by(self, result: Mapping[str, Any]) -> ExportTarget:
        """This target with the id and name a check found filled in: later checks read the list by id."""
        return replace(
            self,
            account_list_id=self.account_list_id or result["account_list_id"],
            audience_name=self.audience_name or result["audience_name"],
        )

    def describe(self) -> str:
        """How messages name the list: ``Bombora account list <id> ('<name>')``."""
        if self.account_list_id is not None and self.audience_name is not None:
            return f"Bombora account list {self.account_list_id} ({self.audience_name!r})"
        named = self.account_list_id if self.account_list_id is not None else repr(self.audience_name)
        return f"Bombora account list {named}"

    def identity(self) -> dict[str, Any]:
        """What names the list in a failure event."""
        return {"account_list_id": self.account_list_id, "audience_name": self.audience_name}

    def read(self, client: ExportStatusClient) -> Status:
        """Read the list through a synchronous hook and evaluate it (see :func:`evaluate_export_status`).

        :raises BomboraExportStatusError: when the list does not exist (404, or no list of that name).
        :raises BomboraApiError: when Bombora could not be asked (the hook's retries ran out).
        """
        with _missing_list_reported(self):
            account_list = _fetch(client, self)
        return evaluate_export_status(_found(account_list, self), self)

    async def aread(self, client: AsyncExportStatusClient) -> Status:
        """:meth:`read` through an asynchronous hook."""
        with _missing_list_reported(self):
            account_list = await _fetch(client, self)
        return evaluate_export_status(_found(account_list, self), self)

    def success_message(self, result: Mapping[str, Any]) -> str:
        """The log line of a live export."""
        return (
            f"{self.identified_by(result).describe()} is live: "
            f"{result['account_total']} accounts, last modified {result['accounts_last_modified']} (UTC)."
        )


def evaluate_export_status(account_list: Mapping[str, Any], target: ExportTarget) -> Status:
    """Decide from one read of the list whether the export is live.

    ``account_list`` is an AccountListDefinition (``GET /account-list/{id}``: ``name``,
    ``accountTotal`` and ``pendingUpdate`` under ``metadata``) or an AccountListSummary
    (``GET /account-list``: the same fields at the top level); ``accountsLastModified`` is a
    UTC time without zone in both.

    The export is live when ``pendingUpdate`` is false and, if ``target.submitted_after`` is set,
    ``accountsLastModified`` is not older than it, compared in UTC at the precision Bombora gives
    (a time in whole seconds is compared with ``submitted_after`` cut to whole seconds).

    :raises BomboraExportStatusError: when the live list's ``accountTotal`` is not
        ``target.expected_account_total``; the message gives both numbers.
    """
    metadata = account_list.get("metadata") or {}
    result = {
        "account_list_id": target.account_list_id or account_list.get("id"),
        "audience_name": metadata.get("name", account_list.get("name", target.audience_name)),
        "account_total": metadata.get("accountTotal", account_list.get("accountTotal")),
        "accounts_last_modified": account_list.get("accountsLastModified"),
        "pending_update": is_pending(account_list),
    }
    if result["pending_update"]:
        return Status(False, result, "Bombora has not applied the last upload yet (pendingUpdate is true)")
    submitted_after = target.submitted_after
    if submitted_after is not None:
        last_modified = result["accounts_last_modified"]
        if last_modified is None:
            return Status(
                False,
                result,
                f"no upload has been applied to it yet (no accountsLastModified), so none submitted after "
                f"{submitted_after.isoformat()}",
            )
        if not _not_older(last_modified, submitted_after, target):
            return Status(
                False,
                result,
                f"accountsLastModified {last_modified} (UTC) is before submitted_after "
                f"{submitted_after.isoformat()}: Bombora has not applied that upload yet",
            )
    expected = target.expected_account_total
    if expected is not None and result["account_total"] != expected:
        raise BomboraExportStatusError(
            f"{target.describe()} is live with accountTotal {result['account_total']}, but "
            f"expected_account_total is {expected}"
        )
    return Status(True, result)


def is_pending(account_list: Mapping[str, Any]) -> bool:
    """``pendingUpdate`` of an AccountListDefinition (under ``metadata``) or a summary (top level)."""
    metadata = account_list.get("metadata") or {}
    return bool(metadata.get("pendingUpdate", account_list.get("pendingUpdate", False)))


# --- Helpers ----------------------------------------------------------------------------------


def _fetch(client: Any, target: ExportTarget) -> Any:
    """The list's definition by id, or its summary by name (a value, or an awaitable of one)."""
    if target.account_list_id is not None:
        return client.get_account_list(target.account_list_id)
    return client.find_account_list(target.audience_name)


@contextmanager
def _missing_list_reported(target: ExportTarget) -> Iterator[None]:
    try:
        yield
    except BomboraNotFoundError as error:
        raise BomboraExportStatusError(
            f"{target.describe()} does not exist (HTTP 404): it was deleted, or the id is wrong"
        ) from error


def _found(account_list: Mapping[str, Any] | None, target: ExportTarget) -> Mapping[str, Any]:
    if account_list is None:
        raise BomboraExportStatusError(
            f"No Bombora account list is named {target.audience_name!r}: it was deleted or renamed, "
            "or the name is wrong"
        )
    return account_list


def _not_older(last_modified: str, submitted_after: datetime, target: ExportTarget) -> bool:
    try:
        modified = _parse_utc(last_modified) if isinstance(last_modified, str) else None
    except ValueError:
        modified = None
    if modified is None:
        raise BomboraExportStatusError(
            f"{target.describe()}: Bombora gave accountsLastModified {last_modified!r}, not an ISO 8601 time"
        )
    if "." not in last_modified:
        # Bombora may keep whole seconds: a job applied within the second of the submission
        # would otherwise look older than it, and the wait would never end.
        submitted_after = submitted_after.replace(microsecond=0)
    return modified >= submitted_after


def _parse_utc(value: str | datetime) -> datetime:
    """An aware UTC datetime from a datetime or ISO 8601 text; no zone means UTC (as Bombora's times)."""
    if not isinstance(value, datetime):
        text = value.strip()
        # Python 3.10's fromisoformat does not read a "Z" suffix.
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text)
    else:
        moment = value
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _text_or_none(field: str, value: Any) -> str | None:
    if value is None or (isinstance(value, str) and value.strip() in _BLANK):
        return None
    if not isinstance(value, str):
        raise BomboraValidationError(field, f"must be a string, got {type(value).__name__} {value!r:.60}")
    return value.strip()


def _submitted_after(value: Any) -> datetime | None:
    if value is None or (isinstance(value, str) and value.strip() in _BLANK):
        return None
    if not isinstance(value, (str, datetime)):
        raise BomboraValidationError("submitted_after", f"must be an ISO 8601 date-time, got {value!r:.60}")
    try:
        return _parse_utc(value)
    except ValueError:
        raise BomboraValidationError(
            "submitted_after", f"must be an ISO 8601 date-time such as 2026-11-27T10:00:00+00:00, got {value!r:.60}"
        ) from None


def _account_total(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and value.strip() in _BLANK):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise BomboraValidationError("expected_account_total", f"must be a whole number >= 0, got {value!r:.60}")
