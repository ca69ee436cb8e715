"""Triggers that wait, in the triggerer, until Bombora has finished: an export live, an audience active.

One polling loop (:class:`BomboraStatusTrigger`) serves both: each trigger only says what it
watches (a :class:`~airflow_provider_bombora.polling.Watch`) and how it is serialised.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from datetime import datetime, timezone
from typing import Any, TypeVar

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_bombora.digital_audiences import DigitalAudienceTarget
from airflow_provider_bombora.exceptions import BomboraError, is_transient_error
from airflow_provider_bombora.export_status import ExportTarget
from airflow_provider_bombora.hooks.bombora_async import BomboraAsyncHook
from airflow_provider_bombora.parameters import validate_non_negative_seconds
from airflow_provider_bombora.polling import PollSchedule, Watch, failure_event, success_event, timeout_message

T = TypeVar("T")


class BomboraStatusTrigger(BaseTrigger):
    """
    Poll what ``target`` watches until it is finished, then emit one event.

    The decision is the watch's, the same as the sensor's poke. The event is ``{"status":
    "success", "message", **result}`` when finished, ``{"status": "error", "message", **identity}``
    when waiting cannot help (missing, suspended, credentials refused), and ``{"status":
    "timeout", ...}`` (same keys) at ``deadline``. Trouble that may pass (429, 5xx, dropped
    connections) is retried by the hook, then by the next poll.

    Only parameters are serialised: never a token or a secret (the trigger gets its own token
    from the connection, in the triggerer).

    :param deadline: When to give up, as seconds since the epoch (``time.time()``). The trigger
        keeps its own deadline so that a wait that runs out ends with an event that says what
        it was still waiting for (the task then fails with ``AirflowSensorTimeout``, which
        ``soft_fail`` turns into a skip); a deferral's timeout would only fail the task with
        "trigger timeout".
    :param poll_interval: Longest wait between checks, in seconds (the first come sooner: see
        :class:`~airflow_provider_bombora.polling.PollSchedule`).
    :param bombora_conn_id: The Bombora connection.
    """

    def __init__(self, target: Watch, *, deadline: float, poll_interval: float, bombora_conn_id: str) -> None:
        super().__init__()
        self.target = target
        self.deadline = validate_non_negative_seconds("deadline", deadline)
        self.poll_interval = validate_non_negative_seconds("poll_interval", poll_interval)
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
        yield TriggerEvent(await self._wait())

    async def _wait(self) -> dict[str, Any]:
        """Poll until finished, failed, or past the deadline; return the event's payload."""
        target = self.target
        waiting_for: str | None = None
        schedule = PollSchedule(self.poll_interval, self.deadline, clock=time.time)
        # The client is closed however this ends, cancellation (trigger cleanup) included.
        async with BomboraAsyncHook(self.bombora_conn_id) as hook:
            while (remaining := schedule.remaining()) > 0:
                try:
                    # A check never outlives the deadline, retries included.
                    status = await _within(target.aread(hook), remaining)
                except asyncio.TimeoutError:
                    break
                except BomboraError as error:
                    if not is_transient_error(error):
                        return failure_event("error", str(error), target)
                    waiting_for = f"Bombora could not be reached ({error})"
                    log = self.log.warning
                else:
                    if status.done:
                        return success_event(status, target)
                    target = target.identified_by(status.result)
                    waiting_for = status.waiting_for
                    log = self.log.info
                wait = schedule.next_wait()
                if wait is None:
                    break
                log("%s: %s; next check in %.3g s", target.describe(), waiting_for, wait)
                await asyncio.sleep(wait)
        deadline = datetime.fromtimestamp(self.deadline, timezone.utc).isoformat()
        return failure_event("timeout", timeout_message(target, f"by the deadline {deadline}", waiting_for), target)


class BomboraExportStatusTrigger(BomboraStatusTrigger):
    """
    Poll a Bombora account list until its export is live (see
    :class:`~airflow_provider_bombora.sensors.bombora.BomboraExportStatusSensor`).

    :param account_list_id: The account list to watch; or ``audience_name``.
    :param audience_name: The name of the list, looked up once when no id is given.
    :param submitted_after: ISO 8601 time of the upload to wait for (see the sensor).
    :param expected_account_total: The account total the live list must have.
    :param deadline: See :class:`BomboraStatusTrigger`.
    :param poll_interval: See :class:`BomboraStatusTrigger`.
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
        target = ExportTarget.from_parameters(
            account_list_id=account_list_id,
            audience_name=audience_name,
            submitted_after=submitted_after,
            expected_account_total=expected_account_total,
        )
        super().__init__(target, deadline=deadline, poll_interval=poll_interval, bombora_conn_id=bombora_conn_id)


class BomboraDigitalAudienceTrigger(BomboraStatusTrigger):
    """
    Poll a Bombora digital audience until it is active (see
    :class:`~airflow_provider_bombora.sensors.bombora.BomboraDigitalAudienceSensor`).

    :param data_exchange: The audience's data exchange (``trade_desk_direct``, ``appnexus`` ...).
    :param external_id: The audience's external id.
    :param partner_id: The audience's partner id.
    :param deadline: See :class:`BomboraStatusTrigger`.
    :param poll_interval: See :class:`BomboraStatusTrigger`.
    :param bombora_conn_id: The Bombora connection.
    """

    def __init__(
        self,
        *,
        deadline: float,
        data_exchange: str,
        external_id: str,
        partner_id: str,
        poll_interval: float = 60.0,
        bombora_conn_id: str = BomboraAsyncHook.default_conn_name,
    ) -> None:
        target = DigitalAudienceTarget.from_parameters(
            data_exchange=data_exchange, external_id=external_id, partner_id=partner_id
        )
        super().__init__(target, deadline=deadline, poll_interval=poll_interval, bombora_conn_id=bombora_conn_id)


async def _within(check: Awaitable[T], seconds: float) -> T:
    """``await check``, raising ``asyncio.TimeoutError`` after ``seconds``.

    Not ``asyncio.wait_for``: before Python 3.12 it swallows a cancellation that arrives as the
    awaited check completes (CPython gh-86296), and a cancelled trigger would poll on until its
    deadline. ``asyncio.wait`` never swallows the caller's cancellation.
    """
    task = asyncio.ensure_future(check)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    finally:
        if not task.done():
            task.cancel()
            # Let the check unwind (close what it opened) before this returns or raises.
            await asyncio.gather(task, return_exceptions=True)
    if not done:
        raise asyncio.TimeoutError
    return task.result()
