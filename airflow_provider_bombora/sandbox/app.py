"""The sandbox's FastAPI application: Bombora's token and Account List routes plus the
test-only admin API under ``/_sandbox/``.

Bodies are parsed once by :class:`~.traffic.TrafficMiddleware` and answers are encoded
with ``json.dumps`` directly: lists of a million domains must not go through pydantic.
Every error body is ``{"message": ...}``, like the real API's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp

from airflow_provider_bombora.sandbox.latency import LatencyMiddleware
from airflow_provider_bombora.sandbox.state import ApiError, SandboxState, Settings
from airflow_provider_bombora.sandbox.traffic import (
    ADMIN_PREFIX,
    INVALID_JSON,
    PARSED_BODY,
    FaultRules,
    RequestLog,
    TrafficMiddleware,
)

ACCOUNT_LISTS = "/account-list/v1/account-list"


def _json(value: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(value), status, headers, media_type="application/json")


def _message(status: int, message: str | None, headers: Mapping[str, str] | None = None) -> Response:
    return _json({"message": message}, status, headers)


def _state(request: Request) -> SandboxState:
    return request.app.state.sandbox


def _body(request: Request) -> Any:
    body = request.scope[PARSED_BODY]
    if body is None or body is INVALID_JSON:
        raise ApiError(400, "Request body must be JSON")
    return body


async def _require_token(request: Request) -> None:
    _state(request).check_token(request.headers.get("authorization"))


auth_api = APIRouter()
account_list_api = APIRouter(prefix=ACCOUNT_LISTS, dependencies=[Depends(_require_token)])
admin_api = APIRouter(prefix=ADMIN_PREFIX)


@auth_api.post("/oauth/token")
async def issue_token(request: Request) -> Response:
    return _json(_state(request).issue_token(_body(request)))


@account_list_api.get("")
async def list_account_lists(request: Request) -> Response:
    return _json(_state(request).summaries())


@account_list_api.post("")
async def create_account_list(request: Request) -> Response:
    return _json(_state(request).create_list(_body(request)))


@account_list_api.get("/{list_id}")
async def get_account_list(list_id: str, request: Request) -> Response:
    return _json(_state(request).get_list(list_id))


@account_list_api.put("/{list_id}")
async def update_account_list(list_id: str, request: Request) -> Response:
    return _json(_state(request).update_list(list_id, _body(request)))


@account_list_api.delete("/{list_id}")
async def delete_account_list(list_id: str, request: Request) -> Response:
    _state(request).delete_list(list_id)
    return _json({})


@account_list_api.post("/{list_id}/accounts")
async def add_accounts(list_id: str, request: Request) -> Response:
    _state(request).add_accounts(list_id, _body(request))
    return _json({}, 202)


@account_list_api.post("/{list_id}/delete-accounts")
async def delete_accounts(list_id: str, request: Request) -> Response:
    _state(request).delete_accounts(list_id, _body(request))
    return _json({})


@account_list_api.delete("/{list_id}/accounts")
async def empty_account_list(list_id: str, request: Request) -> Response:
    _state(request).empty_list(list_id)
    return _json({})


@account_list_api.get("/{list_id}/accounts/domains")
async def list_domains(list_id: str, request: Request) -> Response:
    return _json(_state(request).domains(list_id))


@admin_api.get("/faults")
async def list_faults(request: Request) -> Response:
    return _json(request.app.state.faults.to_json())


@admin_api.post("/faults")
async def add_fault(request: Request) -> Response:
    return _json(request.app.state.faults.add(_body(request)))


@admin_api.delete("/faults")
async def clear_faults(request: Request) -> Response:
    request.app.state.faults.clear()
    return _json({})


@admin_api.post("/expire-tokens")
async def expire_tokens(request: Request) -> Response:
    _state(request).expire_tokens()
    return _json({})


@admin_api.get("/requests")
async def request_log(request: Request) -> Response:
    since = request.query_params.get("since", "0")
    if not since.isdigit():
        raise ApiError(400, "since must be a request seq number")
    return _json(request.app.state.request_log.since(int(since)))


@admin_api.delete("/requests")
async def clear_request_log(request: Request) -> Response:
    request.app.state.request_log.clear()
    return _json({})


@admin_api.post("/reset")
async def reset(request: Request) -> Response:
    _state(request).reset()
    request.app.state.faults.clear()
    request.app.state.request_log.clear()
    return _json({})


@admin_api.get("/settings")
async def get_settings(request: Request) -> Response:
    return _json(asdict(_state(request).settings))


@admin_api.put("/settings")
async def update_settings(request: Request) -> Response:
    return _json(_state(request).settings.update(_body(request)))


@admin_api.post("/account-lists")
async def seed_account_list(request: Request) -> Response:
    return _json(_state(request).seed_list(_body(request)))


@admin_api.get("/state")
async def dump_state(request: Request) -> Response:
    return _json(_state(request).dump())


class _SandboxFastAPI(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        # Outside Starlette's own layers, so the traffic middleware gets uvicorn's `send`
        # (the latency layer around it passes `send` on unchanged).
        traffic = TrafficMiddleware(
            super().build_middleware_stack(),
            self.state.sandbox.settings,
            self.state.faults,
            self.state.request_log,
            expire_tokens=self.state.sandbox.expire_tokens,
        )
        return LatencyMiddleware(traffic, self.state.sandbox.settings)


async def _api_error(request: Request, error: ApiError) -> Response:
    return _message(error.status, error.message, error.headers)


async def _http_error(request: Request, error: HTTPException) -> Response:
    # Unknown routes (404) and methods (405) come here.
    return _message(error.status_code, error.detail, error.headers)


async def _validation_error(request: Request, error: RequestValidationError) -> Response:
    return _message(400, "Invalid request")


async def _internal_error(request: Request, error: Exception) -> Response:
    return _message(500, "Internal error in the Bombora sandbox")


def _latency(value: float) -> float:
    latency = float(value)
    if not 0 <= latency <= 60:
        raise ValueError(f"latency must be a number of seconds from 0 to 60, not {value!r}")
    return latency


def create_app(
    *,
    client_id: str = "sandbox-client-id",
    client_secret: str = "sandbox-client-secret",
    processing_delay: float = 0.0,
    token_lifetime: int = 86400,
    log_bodies: bool = True,
    latency: float = 0.0,
) -> FastAPI:
    """The sandbox app; its state is ``app.state.sandbox``, ``.faults`` and ``.request_log``."""
    app = _SandboxFastAPI(
        title="Bombora API sandbox",
        docs_url=f"{ADMIN_PREFIX}/docs",
        redoc_url=None,
        openapi_url=f"{ADMIN_PREFIX}/openapi.json",
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            RequestValidationError: _validation_error,
            Exception: _internal_error,
        },
    )
    app.state.sandbox = SandboxState(
        client_id,
        client_secret,
        Settings(
            processing_delay=float(processing_delay),
            token_lifetime=token_lifetime,
            log_bodies=log_bodies,
            latency=_latency(latency),
        ),
    )
    app.state.faults = FaultRules()
    app.state.request_log = RequestLog()
    for router in (auth_api, account_list_api, admin_api):
        app.include_router(router)
    return app
