"""Trigger that waits, in the triggerer, until an export to Bombora is live."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_bombora.exceptions import BomboraApiError, BomboraError
from airflow_provider_bombora.export_status import (
    ExportTarget,
    aread_export_status,
    failure_event,
    success_event,
    timeout_message,
)
from airflow_provider_bombora.hooks.bombora import is_transient_error
from airflow_provider_bombora.hooks.bombora_async import BomboraAsyncHook


class BomboraExportStatusTrigger(BaseTrigger):
    """
    Poll a Bombora account list until its export is live, then emit one event.

    The decision is :func:`~airflow_provider_bombora.export_status.evaluate_export_status`,
    the same as the sensor's poke. The event is ``{"status": "success", "message", **result}``
    when the export is live, ``{"status": "error", "message", "account_list_id", "audience_name"}``
    when the list is missing, its account total is not the expected one, or Bombora refuses the
    credentials, and ``{"status": "timeout", ...}`` (same keys) at ``deadline``. Trouble that may
    pass (429, 5xx, dropped connections) is retried by the hook, then by the next poll.

    Only the parameters below are serialised: never a token or a secret (the trigger gets its
    own token from the connection, in the triggerer).

    :param deadline: When to give up, as seconds since the epoch (``time.time()``). The trigger
        keeps its own deadline: ``dag.test()`` ignores a deferral's timeout.
    :param account_list_id: The account list to watch; or ``audience_name``.
    :param audience_name: The name of the list, looked up once when no id is given.
    :param submitted_after: ISO 8601 time of the upload to wait for (see the sensor).
    :param expected_account_total: The account total the live list must have.
    :param poll_interval: Seconds between checks.
    :param bombora_conn_id: The Bombora connection.
    """

    def __init__(
        self,
        *,
        deadline: float,
        account_list_id: str | None = None,
        audience_name: str | None = None,
        submitted_after: str | None = None,
        expected_account_total: int | None = None,
        poll_interval: float = 60.0,
        bombora_conn_id: str = BomboraAsyncHook.default_conn_name,
    ) -> None:
        super().__init__()
        self.target = ExportTarget.from_parameters(
            account_list_id=account_list_id,
            audience_name=audience_name,
            submitted_after=submitted_after,
            expected_account_total=expected_account_total,
        )
        self.deadline = _seconds("deadline", deadline)
        self.poll_interval = _seconds("poll_interval", poll_interval)
        self.bombora_conn_id = bombora_conn_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                **self.target.to_parameters(),
                "deadline": self.deadline,
                "poll_interval": self.poll_interval,
                "bombora_conn_id": self.bombora_conn_id,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        # The event is decided, and the HTTP client closed, before it is yielded: after a task's
        # first event the generator is never resumed, so nothing may stay open across the yield.
        yield TriggerEvent(await self._wait_for_export())

    async def _wait_for_export(self) -> dict[str, Any]:
        """Poll until the export is live, fails, or the deadline passes; return the event's payload."""
        target = self.target
        waiting_for: str | None = None
        # The client is closed however this ends, cancellation (trigger cleanup) included.
        async with BomboraAsyncHook(self.bombora_conn_id) as hook:
            while (remaining := self.deadline - time.time()) > 0:
                try:
                    # A check never outlives the deadline, retries included.
                    status = await asyncio.wait_for(aread_export_status(hook, target), remaining)
                except asyncio.TimeoutError:
                    break
                except BomboraError as error:
                    if not (isinstance(error, BomboraApiError) and is_transient_error(error)):
                        return failure_event("error", str(error), target)
                    waiting_for = f"Bombora could not be reached ({error})"
                    self.log.warning("%s: %s; trying again in %g s", target.describe(), waiting_for, self.poll_interval)
                else:
                    if status.done:
                        return success_event(status, target)
                    target = target.identified_by(status.result)
                    waiting_for = status.waiting_for
                    self.log.info("%s: %s; next check in %g s", target.describe(), waiting_for, self.poll_interval)
                await asyncio.sleep(max(min(self.poll_interval, self.deadline - time.time()), 0))
        deadline = datetime.fromtimestamp(self.deadline, timezone.utc).isoformat()
        return failure_event("timeout", timeout_message(target, f"by the deadline {deadline}", waiting_for), target)


def _seconds(name: str, value: Any) -> float:
    """A finite number of seconds (a deserialised trigger may hand an int)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value!r}")
    return float(value)
