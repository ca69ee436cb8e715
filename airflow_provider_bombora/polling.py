"""Waiting until Bombora has finished something: the machinery every sensor, trigger and wait shares.

Bombora works asynchronously twice over: an account list applies uploads in an update job
(:mod:`.export_status`), and a digital audience goes from ``Pending`` to ``Active``
(:mod:`.digital_audiences`). Each is a :class:`Watch`: what to read, how to decide from one
read, and how to name it. Everything else is written once, here: when to check again
(:class:`PollSchedule`), the blocking loop (:func:`wait_until`, :func:`wait_for`), one check that
survives a Bombora hiccup (:func:`check`), and the trigger's events and how a task turns them into
its result (:func:`success_event`, :func:`failure_event`, :func:`result_from_event`).

This module imports neither Airflow nor an HTTP library.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeVar

from airflow_provider_bombora.exceptions import BomboraError, is_transient_error

log = logging.getLogger(__name__)

W = TypeVar("W", bound="Watch")


@dataclass(frozen=True)
class Status:
    """The outcome of one check.

    :param done: Whether what is watched is finished (an export live, an audience active).
    :param result: Its state under the watch's ``result_keys`` (the task's return value once done).
    :param waiting_for: Why it is not finished yet, for the log; None once done.
    """

    done: bool
    result: dict[str, Any]
    waiting_for: str | None = None


class Watch(Protocol):
    """Something of Bombora's to wait for, as the sensor, its trigger and the operators need it.

    A watch is immutable and rebuilt from :meth:`to_parameters` in the triggerer; :meth:`read`
    and :meth:`aread` raise ``failure`` errors (not transient) when waiting longer cannot help.
    """

    #: The keys of :attr:`Status.result`, in order: the sensor's XCom return value.
    result_keys: ClassVar[tuple[str, ...]]
    #: Raised when the resource will not finish as expected (missing, suspended...).
    failure: ClassVar[type[BomboraError]]
    #: Raised when the wait ran out of time; a subclass of ``failure``.
    timeout: ClassVar[type[BomboraError]]
    #: What "done" is called in messages: "live", "active".
    finished: ClassVar[str]

    def describe(self) -> str: ...
    def identity(self) -> dict[str, Any]: ...
    def identified_by(self: W, result: Mapping[str, Any]) -> W: ...
    def to_parameters(self) -> dict[str, Any]: ...
    def read(self, client: Any) -> Status: ...
    async def aread(self, client: Any) -> Status: ...
    def success_message(self, result: Mapping[str, Any]) -> str: ...


#: The first wait between checks, in seconds; each wait doubles it, up to the poll interval.
FIRST_POLL_WAIT = 1.0


class PollSchedule:
    """When to check again: after 1 s, then 2, 4, 8 ... up to ``poll_interval``; never past ``deadline``.

    Bombora often applies a small upload within seconds: the first checks come quickly, and a
    long wait settles to one check per ``poll_interval``.

    :param poll_interval: The longest wait between two checks, in seconds.
    :param deadline: When the wait ends, on ``clock``'s scale.
    :param clock: ``time.monotonic`` (the default) in a task; ``time.time`` for a trigger, whose
        deadline is serialised and read by another process.
    """

    def __init__(self, poll_interval: float, deadline: float, clock: Callable[[], float] | None = None) -> None:
        self.poll_interval = poll_interval
        self.deadline = deadline
        self._clock = clock or time.monotonic
        self._next = min(FIRST_POLL_WAIT, poll_interval)

    def remaining(self) -> float:
        """Seconds left until the deadline (0 or less once it has passed)."""
        return self.deadline - self._clock()

    def next_wait(self) -> float | None:
        """Seconds to wait before the next check, or None when the deadline has passed."""
        remaining = self.remaining()
        if remaining <= 0:
            return None
        wait, self._next = min(self._next, remaining), min(self._next * 2, self.poll_interval)
        return wait


def wait_until(
    check: Callable[[], str | None],
    *,
    timeout: float,
    poll_interval: float,
    timed_out: Callable[[str], Exception],
    describe: str,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Call ``check`` until it returns None (done), waiting as :class:`PollSchedule` says.

    :param check: Returns None when the wait is over, else what it is waiting for (logged).
    :param timed_out: The exception to raise, given the last reason, when ``timeout`` passes.
    :param describe: What is waited on, for the log.
    :returns: Whether there was anything to wait for.
    """
    schedule = PollSchedule(poll_interval, time.monotonic() + timeout)
    waited = False
    while (waiting_for := check()) is not None:
        wait = schedule.next_wait()
        if wait is None:
            raise timed_out(waiting_for)
        log.info("%s: %s; next check in %.3g s", describe, waiting_for, wait)
        sleep(wait)
        waited = True
    return waited


def timeout_message(watch: Watch, limit: str, waiting_for: str | None) -> str:
    """Why a wait ended unfinished.

    :param limit: How long the wait was allowed, e.g. ``"within 3600 s"``.
    :param waiting_for: What the last check was waiting for; None if no check finished.
    """
    reason = waiting_for or "no check finished in time"
    return f"{watch.describe()} was not {watch.finished} {limit}: {reason}."


def check(client: Any, watch: Watch) -> Status | None:
    """One check; None, with a warning, when Bombora could not be reached even after the hook's retries."""
    try:
        return watch.read(client)
    except BomboraError as error:
        if not is_transient_error(error):
            raise
        log.warning("%s: could not check, will try again: %s", watch.describe(), error)
        return None


def wait_for(
    client: Any,
    watch: Watch,
    *,
    poll_interval: float = 60.0,
    timeout: float = 60 * 60,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Block until ``watch`` is done; return its result (the sensor's, for a task that waits itself).

    :raises: the watch's ``timeout`` error when it is not done within ``timeout``, its
        ``failure`` error when waiting cannot help, ``BomboraApiError`` when Bombora refuses the
        credentials or answers unexpectedly.
    """
    found: dict[str, Any] = {}
    current = watch

    def check_once() -> str | None:
        nonlocal current
        status = check(client, current)
        if status is None:
            return "Bombora could not be reached"
        found.update(status.result)
        current = current.identified_by(status.result)
        return None if status.done else status.waiting_for

    wait_until(
        check_once,
        timeout=timeout,
        poll_interval=poll_interval,
        timed_out=lambda waiting_for: watch.timeout(timeout_message(current, f"within {timeout:g} s", waiting_for)),
        describe=watch.describe(),
        sleep=sleep,
    )
    return found


# --- Trigger events ---------------------------------------------------------------------------


def success_event(status: Status, watch: Watch) -> dict[str, Any]:
    """The payload of the event that reports a finished wait; it carries the result."""
    return {"status": "success", "message": watch.success_message(status.result), **status.result}


def failure_event(kind: str, message: str, watch: Watch) -> dict[str, Any]:
    """The payload of an ``error`` or ``timeout`` event: the message and what was watched."""
    return {"status": kind, "message": message, **watch.identity()}


def result_from_event(event: Mapping[str, Any], watch_type: type[Watch]) -> dict[str, Any]:
    """The task's result from a trigger event, for the ``execute_complete`` of sensors and operators.

    :raises: ``watch_type.timeout`` for a ``timeout`` event, ``watch_type.failure`` for an
        ``error`` event (or anything unexpected).
    """
    status = event.get("status")
    if status == "success":
        return {key: event[key] for key in watch_type.result_keys}
    message = event.get("message") or f"the status trigger ended with status {status!r}"
    if status == "timeout":
        raise watch_type.timeout(message)
    raise watch_type.failure(message)
