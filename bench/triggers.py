"""Benchmark 5: many deferrable sensors waiting at once, as the triggerer runs them.

``triggers`` account lists are seeded in the sandbox with an update pending for
``processing_delay`` seconds; one :class:`BomboraExportStatusTrigger` per list then polls it
every ``poll_interval`` seconds, all in one asyncio event loop, until every list is live.
Measured: the loop's CPU time to start the triggers (connection, HTTP client, token, first
poll) and then per poll cycle (one poll of every trigger), the API requests each poll costs
(the sandbox's request log over the polls counted at the trigger module's status reads) and
the token fetches per trigger. The triggers log at each poll, as in a triggerer; that output
is discarded.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from unittest import mock

from airflow_provider_bombora.export_status import ExportTarget
from airflow_provider_bombora.hooks.wire import TOKEN_PATH
from airflow_provider_bombora.triggers.bombora import BomboraExportStatusTrigger
from bench.servers import RemoteSandbox

DEADLINE_SECONDS = 120.0  # beyond the processing delay


@dataclass(frozen=True)
class TriggerFigure:
    triggers: int
    poll_interval: float
    processing_delay: float
    wall_seconds: float
    startup_cpu_seconds: float  # until every trigger finished its first poll
    steady_cpu_seconds: float  # from then on
    polls: int
    api_requests: int  # token fetches excluded
    token_fetches: int
    successes: int

    @property
    def startup_cpu_ms_per_trigger(self) -> float:
        return self.startup_cpu_seconds * 1000 / self.triggers

    @property
    def steady_poll_cycles(self) -> float:
        """Polls per trigger after the first: how many times the loop polled every list again."""
        return (self.polls - self.triggers) / self.triggers

    @property
    def cpu_ms_per_poll_cycle(self) -> float | None:
        cycles = self.steady_poll_cycles
        return self.steady_cpu_seconds * 1000 / cycles if cycles else None

    @property
    def requests_per_trigger_per_poll(self) -> float:
        return self.api_requests / self.polls

    @property
    def token_fetches_per_trigger(self) -> float:
        return self.token_fetches / self.triggers


@contextmanager
def _output_discarded() -> Iterator[None]:
    """Send this process's stdout and stderr (file descriptors 1 and 2) to /dev/null meanwhile."""
    saved = [os.dup(descriptor) for descriptor in (1, 2)]
    with open(os.devnull, "w") as devnull:
        for descriptor in (1, 2):
            os.dup2(devnull.fileno(), descriptor)
        try:
            yield
        finally:
            for descriptor, original in zip((1, 2), saved, strict=True):
                os.dup2(original, descriptor)
                os.close(original)


async def _first_events(triggers: list[BomboraExportStatusTrigger]) -> list[dict]:
    """Run every trigger to its first event, all in this event loop, as the triggerer does."""

    async def first_event(trigger: BomboraExportStatusTrigger) -> dict:
        async for event in trigger.run():
            return event.payload
        raise RuntimeError("the trigger ended without an event")

    return await asyncio.gather(*(first_event(trigger) for trigger in triggers))


def measure_triggers(
    admin: RemoteSandbox, *, triggers: int, processing_delay: float, poll_interval: float
) -> TriggerFigure:
    """Wait for ``triggers`` pending lists with one trigger each (connection ``bombora_default``).

    ``processing_delay`` must leave the lists pending for a few polls after every trigger
    started, or no steady-state poll cycle is measured.
    """
    admin.reset()
    admin.configure(processing_delay=processing_delay)
    list_ids = [
        admin.seed_account_list(f"Bench pending list {number}", pending_update=True)["id"] for number in range(triggers)
    ]
    deadline = time.time() + processing_delay + DEADLINE_SECONDS
    waiting = [
        BomboraExportStatusTrigger(deadline=deadline, account_list_id=list_id, poll_interval=poll_interval)
        for list_id in list_ids
    ]
    polls = 0
    startup_cpu_end: float | None = None
    read_status = ExportTarget.aread

    async def counted_read_status(self, client):
        nonlocal polls, startup_cpu_end
        status = await read_status(self, client)
        polls += 1
        if polls == triggers:
            startup_cpu_end = time.process_time()
        return status

    mark = admin.last_seq()
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    with mock.patch.object(ExportTarget, "aread", counted_read_status), _output_discarded():
        events = asyncio.run(_first_events(waiting))
    cpu_end, wall_seconds = time.process_time(), time.perf_counter() - wall_start
    assert startup_cpu_end is not None  # set by the poll that made `triggers` polls
    paths = Counter(entry["path"] for entry in admin.request_log(since=mark))
    admin.configure(processing_delay=0.0)
    return TriggerFigure(
        triggers=triggers,
        poll_interval=poll_interval,
        processing_delay=processing_delay,
        wall_seconds=wall_seconds,
        startup_cpu_seconds=startup_cpu_end - cpu_start,
        steady_cpu_seconds=cpu_end - startup_cpu_end,
        polls=polls,
        api_requests=sum(paths.values()) - paths[TOKEN_PATH],
        token_fetches=paths[TOKEN_PATH],
        successes=sum(event["status"] == "success" for event in events),
    )
