"""Run the sandbox in a background thread of this process, and drive its admin API.

The helpers talk HTTP to the running server (with urllib, on purpose not the provider's
hook), so they work the same against a sandbox started by another process.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
import time
from typing import Any
from urllib.parse import quote

import uvicorn

from airflow_provider_bombora.sandbox.app import create_app
from airflow_provider_bombora.sandbox.digital_audiences import DigitalAudienceAdmin
from airflow_provider_bombora.sandbox.intent import IntentAdmin

START_TIMEOUT = 10.0  # seconds
# Requests still held by a "delay" fault get this long to finish when the server stops.
GRACEFUL_SHUTDOWN_TIMEOUT = 5


def check_bind_host(host: str, allow_remote: bool) -> None:
    """Refuse non-loopback addresses unless asked: the sandbox has demo credentials and no TLS."""
    if allow_remote or host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name
        loopback = False
    if not loopback:
        raise ValueError(
            f"Refusing to bind the Bombora sandbox to {host!r}: it accepts demo credentials over "
            "plain HTTP. Use a loopback address (127.0.0.1, ::1, localhost) or allow_remote=True "
            "(--allow-remote)."
        )


def _bind(host: str, port: int) -> socket.socket:
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def _url(bound_address: str, port: int) -> str:
    address = ipaddress.ip_address(bound_address.split("%")[0])
    if address.is_unspecified:  # bound to all interfaces: local clients use loopback
        address = ipaddress.ip_address("::1" if address.version == 6 else "127.0.0.1")
    host = f"[{address}]" if address.version == 6 else str(address)
    return f"http://{host}:{port}"


class SandboxAdmin(DigitalAudienceAdmin, IntentAdmin):
    """The admin API of the sandbox at ``url``: :class:`SandboxServer`'s helpers, which work
    the same against a sandbox that another process serves (``SandboxAdmin`` with its URL)."""

    def inject_fault(
        self,
        method: str,
        path: str,
        *,
        status: int | None = None,
        retry_after: int | str | None = None,
        action: str = "status",
        delay: float | None = None,
        count: int = 1,
        after: int = 0,
        message: str | None = None,
    ) -> dict:
        """Answer the next ``count`` requests matching ``method`` ("*" = any) and the ``path``
        glob with a fault instead of processing them, once ``after`` matching requests have
        gone through untouched; returns the rule with its id.

        ``action``: ``status`` (answer ``status``, with ``Retry-After: retry_after`` if given),
        ``drop`` (close the connection), ``delay`` (wait ``delay`` seconds, then process) or
        ``expire_tokens`` (expire every token issued so far, then process: an API call gets 401).
        Each faulted request's log entry names the rule in its ``fault`` field."""
        rule = {
            "method": method,
            "path": path,
            "count": count,
            "after": after,
            "action": action,
            "status": status,
            "retry_after": retry_after,
            "delay": delay,
        }
        if message is not None:
            rule["body"] = {"message": message}
        return self._admin("POST", "/faults", rule)

    def clear_faults(self) -> None:
        self._admin("DELETE", "/faults")

    def expire_tokens(self) -> None:
        """Make every token issued so far expired."""
        self._admin("POST", "/expire-tokens")

    def request_log(self, since: int | None = None) -> list[dict]:
        """Logged API requests, oldest first; with ``since``, only those with a greater ``seq``."""
        return self._admin("GET", "/requests" if since is None else f"/requests?since={int(since)}")

    def clear_request_log(self) -> None:
        self._admin("DELETE", "/requests")

    def reset(self) -> None:
        """Forget all lists, tokens, faults and logged requests; settings stay."""
        self._admin("POST", "/reset")

    def configure(self, **settings: Any) -> dict:
        """Change ``processing_delay``, ``token_lifetime``, ``log_bodies`` and/or ``latency``; returns all settings."""
        return self._admin("PUT", "/settings", settings)

    def seed_account_list(
        self,
        name: str,
        *,
        type: str = "Manual",
        description: str | None = None,
        domains: Any = (),
        pending_update: bool = False,
        parent_id: str | None = None,
    ) -> dict:
        """Create a list of any type directly, ``domains`` already applied; returns its summary."""
        return self._admin(
            "POST",
            "/account-lists",
            {
                "name": name,
                "type": type,
                "description": description,
                "domains": list(domains),
                "pending_update": pending_update,
                "parent_id": parent_id,
            },
        )

    def account_lists(self) -> list[dict]:
        """Every list's summary with its applied ``domains``."""
        return self._admin("GET", "/state")


class SandboxServer(SandboxAdmin):
    """A local Bombora API sandbox served by uvicorn in a daemon thread.

    The socket is bound on construction, so ``port`` and ``url`` are known before
    :meth:`start`; ``port=0`` picks a free port. A server can be started once.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        client_id: str = "sandbox-client-id",
        client_secret: str = "sandbox-client-secret",
        processing_delay: float = 0.0,
        token_lifetime: int = 86400,
        allow_remote: bool = False,
        latency: float = 0.0,
    ):
        check_bind_host(host, allow_remote)
        self.client_id = client_id
        self.client_secret = client_secret
        self.app = create_app(
            client_id=client_id,
            client_secret=client_secret,
            processing_delay=processing_delay,
            token_lifetime=token_lifetime,
            latency=latency,
        )
        # "localhost" may resolve to ::1 first; clients try 127.0.0.1 as often, so use it.
        self._socket = _bind("127.0.0.1" if host == "localhost" else host, port)
        bound_address, self.port = self._socket.getsockname()[:2]
        self.url = _url(bound_address, self.port)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SandboxServer:
        """Serve in a daemon thread; return once connections are accepted."""
        if self._thread is not None:
            raise RuntimeError("This SandboxServer was already started; create a new one")
        config = uvicorn.Config(
            self.app,
            log_config=None,  # leave the host process's logging alone
            log_level="warning",
            access_log=False,
            lifespan="off",
            proxy_headers=False,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_TIMEOUT,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"bombora-sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"The Bombora sandbox did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Shut down gracefully and wait for the thread; safe to call more than once."""
        if self._server is not None and self._thread is not None and self._thread.is_alive():
            self._server.should_exit = True
            self._thread.join(GRACEFUL_SHUTDOWN_TIMEOUT + 5)
        self._socket.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # Airflow connection

    def connection_uri(self, conn_type: str = "bombora") -> str:
        """An Airflow connection URI; the host, scheme included, is URL-encoded so it survives."""
        login, password, host = (quote(part, safe="") for part in (self.client_id, self.client_secret, self.url))
        return f"{conn_type}://{login}:{password}@{host}"

    def connection_json(self) -> str:
        """The connection in Airflow's JSON form, e.g. for ``AIRFLOW_CONN_BOMBORA_DEFAULT``."""
        return json.dumps(
            {"conn_type": "bombora", "host": self.url, "login": self.client_id, "password": self.client_secret}
        )
