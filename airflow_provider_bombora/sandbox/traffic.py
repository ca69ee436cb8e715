"""What happens to a request before the API sees it: the request log and injected faults.

:class:`TrafficMiddleware` must be the outermost ASGI layer: to drop a connection it
closes the server's transport, which it finds through the server's own ``send`` callable.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from airflow_provider_bombora.sandbox.state import ApiError, Settings, utc_timestamp

ADMIN_PREFIX = "/_sandbox"
# scope key of the request body parsed once here, for the handlers and the log
PARSED_BODY = "bombora_sandbox.body"
INVALID_JSON = object()  # PARSED_BODY when the body is not JSON
FAULT_ACTIONS = ("status", "drop", "delay", "expire_tokens")


@lru_cache(maxsize=256)
def path_glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a fault's path glob: ``*`` alone matches any path; otherwise ``*`` matches
    within one path segment (never a ``/``), ``**`` matches across segments and ``?`` one
    character other than ``/``. Everything else matches literally, the whole path."""
    if pattern == "*":
        return re.compile(".*")
    wildcards = {"**": ".*", "*": "[^/]*", "?": "[^/]"}
    parts = re.split(r"(\*\*|\*|\?)", pattern)
    return re.compile("".join(wildcards.get(part, re.escape(part)) for part in parts))


@dataclass
class FaultRule:
    id: int
    method: str  # upper case, or "*" for any
    path: str
    count: int  # matching requests still to fault
    after: int  # matching requests still to let through before the first fault
    action: str
    status: int | None
    retry_after: str | None
    delay: float | None
    body: Any

    @classmethod
    def from_json(cls, rule_id: int, spec: Any) -> FaultRule:
        def require(condition: bool, message: str) -> None:
            if not condition:
                raise ApiError(400, message)

        require(isinstance(spec, dict), "Fault must be a JSON object")
        method, path = spec.get("method", "*"), spec.get("path")
        require(isinstance(method, str) and method != "", "method must be an HTTP method or *")
        require(isinstance(path, str) and path.startswith(("/", "*")), "path must be a glob starting with / (or *)")
        action = spec.get("action", "status")
        require(action in FAULT_ACTIONS, f"action must be one of {', '.join(FAULT_ACTIONS)}")
        count = spec.get("count", 1)
        require(isinstance(count, int) and not isinstance(count, bool) and count >= 1, "count must be >= 1")
        after = spec.get("after", 0)
        require(isinstance(after, int) and not isinstance(after, bool) and after >= 0, "after must be >= 0")
        status = spec.get("status")
        if action == "status":
            require(isinstance(status, int) and 400 <= status <= 599, "status must be an HTTP error status")
        retry_after = spec.get("retry_after")
        require(
            retry_after is None or (isinstance(retry_after, (str, int)) and not isinstance(retry_after, bool)),
            "retry_after must be seconds or an HTTP date",
        )
        delay = spec.get("delay")
        if action == "delay":
            require(
                isinstance(delay, (int, float)) and not isinstance(delay, bool) and delay >= 0,
                "delay must be a number of seconds >= 0",
            )
        body = spec.get("body", {"message": f"Fault injected by the sandbox (HTTP {status})"})
        return cls(
            id=rule_id,
            method=method.upper(),
            path=path,
            count=count,
            after=after,
            action=action,
            status=status if action == "status" else None,
            retry_after=None if retry_after is None else str(retry_after),
            delay=float(delay) if action == "delay" else None,
            body=body,
        )

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method) and path_glob_regex(self.path).fullmatch(path) is not None

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "method": self.method,
            "path": self.path,
            "count": self.count,
            "after": self.after,
            "action": self.action,
            "status": self.status,
            "retry_after": self.retry_after,
            "delay": self.delay,
            "body": self.body,
        }


class FaultRules:
    """Queued fault rules; a matching request consumes one count of the first matching rule."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._next_id = 1

    def add(self, spec: Any) -> dict:
        rule = FaultRule.from_json(self._next_id, spec)
        self._next_id += 1
        self._rules.append(rule)
        return rule.to_json()

    def take(self, method: str, path: str) -> FaultRule | None:
        for rule in self._rules:
            if rule.matches(method, path):
                if rule.after:
                    rule.after -= 1
                    return None
                rule.count -= 1
                if rule.count == 0:
                    self._rules.remove(rule)
                return rule
        return None

    def to_json(self) -> list[dict]:
        return [rule.to_json() for rule in self._rules]

    def clear(self) -> None:
        self._rules.clear()


class RequestLog:
    """API requests as received; ``seq`` keeps growing across clears so ``since`` stays valid."""

    def __init__(self) -> None:
        self._entries: list[dict] = []
        self._last_seq = 0

    def record(self, method: str, path: str, query: str, body: Any) -> dict:
        self._last_seq += 1
        entry = {
            "seq": self._last_seq,
            "time": utc_timestamp(),
            "method": method,
            "path": path,
            "query": query,
            "status": None,  # set when the response starts; stays null for a dropped connection
            "body": body,
            "fault": None,  # the id of the fault rule that took this request, if one did
        }
        self._entries.append(entry)
        return entry

    def since(self, seq: int) -> list[dict]:
        return [entry for entry in self._entries if entry["seq"] > seq]

    def clear(self) -> None:
        self._entries.clear()


def _parse_json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return INVALID_JSON


def _loggable(path: str, body: Any) -> Any:
    if body is INVALID_JSON:
        return None
    if path == "/oauth/token" and isinstance(body, dict) and "client_secret" in body:
        return {**body, "client_secret": "***"}
    return body


class TrafficMiddleware:
    """Parses the body once, logs API requests and answers matching ones with faults."""

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        faults: FaultRules,
        log: RequestLog,
        expire_tokens: Callable[[], None] | None = None,
    ):
        self.app = app
        self.settings = settings
        self.faults = faults
        self.log = log
        self.expire_tokens = expire_tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        scope[PARSED_BODY] = parsed = _parse_json(body)
        receive = _replay(body, receive)
        path, method = scope["path"], scope["method"]
        if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
            await self.app(scope, receive, send)
            return

        logged_body = _loggable(path, parsed) if self.settings.log_bodies else None
        entry = self.log.record(method, path, scope["query_string"].decode("latin-1"), logged_body)

        async def send_and_log_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
            await send(message)

        fault = self.faults.take(method, path)
        if fault is None:
            await self.app(scope, receive, send_and_log_status)
            return
        entry["fault"] = fault.id
        if fault.action == "drop":
            await _drop_connection(send, receive)
        elif fault.action == "delay":
            assert fault.delay is not None  # FaultRule.from_json sets it for this action
            await asyncio.sleep(fault.delay)
            await self.app(scope, receive, send_and_log_status)
        elif fault.action == "expire_tokens":
            # Every token issued so far expires now; the request itself is then processed
            # normally, so an API call made with one of them gets 401.
            if self.expire_tokens is None:
                raise RuntimeError("The expire_tokens fault needs the sandbox's state")
            self.expire_tokens()
            await self.app(scope, receive, send_and_log_status)
        else:
            assert fault.status is not None  # FaultRule.from_json sets it for the status action
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
            await JSONResponse(fault.body, fault.status, headers)(scope, receive, send_and_log_status)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the already-read body to the app once, then defers to the server."""
    replayed = False

    async def replaying_receive() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replaying_receive


async def _drop_connection(send: Send, receive: Receive) -> None:
    """Close the connection without any response, as a crashed proxy would.

    ASGI has no way to do this: raising makes the server answer 500. uvicorn's ``send``
    is a bound method of its request cycle, which holds the connection's transport.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise RuntimeError("The drop fault needs the sandbox to run under uvicorn")
    transport.close()
    # Return only once the server has seen the connection go, else it would answer 500.
    while (await receive())["type"] != "http.disconnect":
        pass
