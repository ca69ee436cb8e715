"""Per-request latency: every API request waits ``Settings.latency`` seconds before it is handled.

It widens the race windows between concurrent clients (Airflow tasks, triggers) the way a
real network does. Admin calls (``/_sandbox/...``) are never delayed. The setting is read on
each request, so ``PUT /_sandbox/settings`` changes it at run time.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send

from airflow_provider_bombora.sandbox.state import Settings
from airflow_provider_bombora.sandbox.traffic import ADMIN_PREFIX


class LatencyMiddleware:
    """Sleep ``settings.latency`` seconds, then hand the request on unchanged (``send`` included,
    so that the traffic middleware inside still reaches the server's transport)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.settings.latency > 0:
            path = scope["path"]
            if not (path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")):
                await asyncio.sleep(self.settings.latency)
        await self.app(scope, receive, send)
