"""What every route module of the sandbox shares: JSON answers, the parsed body, the token check."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi import Request
from starlette.responses import Response

from airflow_provider_bombora.sandbox.state import ApiError, SandboxState
from airflow_provider_bombora.sandbox.traffic import INVALID_JSON, PARSED_BODY


def json_response(value: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """``value`` encoded with ``json.dumps`` directly (large answers must not go through pydantic)."""
    return Response(json.dumps(value), status, headers, media_type="application/json")


def message_response(status: int, message: str | None, headers: Mapping[str, str] | None = None) -> Response:
    """An error answer as the real API's: ``{"message": ...}``."""
    return json_response({"message": message}, status, headers)


def sandbox_state(request: Request) -> SandboxState:
    """Credentials, tokens, settings and account lists of the app serving ``request``."""
    return request.app.state.sandbox


def parsed_body(request: Request) -> Any:
    """The request's JSON body (parsed once by the traffic middleware); 400 if there is none."""
    body = request.scope[PARSED_BODY]
    if body is None or body is INVALID_JSON:
        raise ApiError(400, "Request body must be JSON")
    return body


async def require_token(request: Request) -> None:
    """Route dependency: a valid bearer token, else 401 (as for every product API)."""
    sandbox_state(request).check_token(request.headers.get("authorization"))
