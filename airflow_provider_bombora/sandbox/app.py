"""The sandbox's FastAPI application: Bombora's token and Account List routes plus the
test-only admin API under ``/_sandbox/``; the Digital Audience Builder and Intent APIs have
their own modules (:mod:`.digital_audiences`, :mod:`.intent`), included here.

Bodies are parsed once by :class:`~.traffic.TrafficMiddleware` and answers are encoded
with ``json.dumps`` directly: lists of a million domains must not go through pydantic.
Every error body is ``{"message": ...}``, like the real API's.
"""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp

from airflow_provider_bombora.sandbox import digital_audiences, intent
from airflow_provider_bombora.sandbox.latency import LatencyMiddleware
from airflow_provider_bombora.sandbox.routing import (
    json_response,
    message_response,
    parsed_body,
    require_token,
    sandbox_state,
)
from airflow_provider_bombora.sandbox.state import ApiError, SandboxState, Settings
from airflow_provider_bombora.sandbox.traffic import (
    ADMIN_PREFIX,
    FaultRules,
    RequestLog,
    TrafficMiddleware,
)

ACCOUNT_LISTS = "/account-list/v1/account-list"


auth_api = APIRouter()
account_list_api = APIRouter(prefix=ACCOUNT_LISTS, dependencies=[Depends(require_token)])
admin_api = APIRouter(prefix=ADMIN_PREFIX)


@auth_api.post("/oauth/token")
async def issue_token(request: Request) -> Response:
    return json_response(sandbox_state(request).issue_token(parsed_body(request)))


@account_list_api.get("")
async def list_account_lists(request: Request) -> Response:
    return json_response(sandbox_state(request).summaries())


@account_list_api.post("")
async def create_account_list(request: Request) -> Response:
    return json_response(sandbox_state(request).create_list(parsed_body(request)))


@account_list_api.get("/{list_id}")
async def get_account_list(list_id: str, request: Request) -> Response:
    return json_response(sandbox_state(request).get_list(list_id))


@account_list_api.put("/{list_id}")
async def update_account_list(list_id: str, request: Request) -> Response:
    return json_response(sandbox_state(request).update_list(list_id, parsed_body(request)))


@account_list_api.delete("/{list_id}")
async def delete_account_list(list_id: str, request: Request) -> Response:
    sandbox_state(request).delete_list(list_id)
    return json_response({})


@account_list_api.post("/{list_id}/accounts")
async def add_accounts(list_id: str, request: Request) -> Response:
    sandbox_state(request).add_accounts(list_id, parsed_body(request))
    return json_response({}, 202)


@account_list_api.post("/{list_id}/delete-accounts")
async def delete_accounts(list_id: str, request: Request) -> Response:
    sandbox_state(request).delete_accounts(list_id, parsed_body(request))
    return json_response({})


@account_list_api.delete("/{list_id}/accounts")
async def empty_account_list(list_id: str, request: Request) -> Response:
    sandbox_state(request).empty_list(list_id)
    return json_response({})


@account_list_api.get("/{list_id}/accounts/domains")
async def list_domains(list_id: str, request: Request) -> Response:
    return json_response(sandbox_state(request).domains(list_id))


@admin_api.get("/faults")
async def list_faults(request: Request) -> Response:
    return json_response(request.app.state.faults.to_json())


@admin_api.post("/faults")
async def add_fault(request: Request) -> Response:
    return json_response(request.app.state.faults.add(parsed_body(request)))


@admin_api.delete("/faults")
async def clear_faults(request: Request) -> Response:
    request.app.state.faults.clear()
    return json_response({})


@admin_api.post("/expire-tokens")
async def expire_tokens(request: Request) -> Response:
    sandbox_state(request).expire_tokens()
    return json_response({})


@admin_api.get("/requests")
async def request_log(request: Request) -> Response:
    since = request.query_params.get("since", "0")
    if not since.isdigit():
        raise ApiError(400, "since must be a request seq number")
    return json_response(request.app.state.request_log.since(int(since)))


@admin_api.delete("/requests")
async def clear_request_log(request: Request) -> Response:
    request.app.state.request_log.clear()
    return json_response({})


@admin_api.post("/reset")
async def reset(request: Request) -> Response:
    sandbox_state(request).reset()
    request.app.state.digital_audiences.reset()
    request.app.state.intent.reset()
    request.app.state.faults.clear()
    request.app.state.request_log.clear()
    return json_response({})


@admin_api.get("/settings")
async def get_settings(request: Request) -> Response:
    return json_response(asdict(sandbox_state(request).settings))


@admin_api.put("/settings")
async def update_settings(request: Request) -> Response:
    return json_response(sandbox_state(request).settings.update(parsed_body(request)))


@admin_api.post("/account-lists")
async def seed_account_list(request: Request) -> Response:
    return json_response(sandbox_state(request).seed_list(parsed_body(request)))


@admin_api.get("/state")
async def dump_state(request: Request) -> Response:
    return json_response(sandbox_state(request).dump())


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
    if error.errors is not None:
        return json_response({"errors": error.errors, "message": error.message}, error.status, error.headers)
    return message_response(error.status, error.message, error.headers)


async def _http_error(request: Request, error: HTTPException) -> Response:
    # Unknown routes (404) and methods (405) come here.
    return message_response(error.status_code, error.detail, error.headers)


async def _validation_error(request: Request, error: RequestValidationError) -> Response:
    return message_response(400, "Invalid request")


async def _internal_error(request: Request, error: Exception) -> Response:
    return message_response(500, "Internal error in the Bombora sandbox")


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
    app.state.digital_audiences = digital_audiences.DigitalAudiences(app.state.sandbox.settings)
    app.state.intent = intent.IntentData(app.state.sandbox.settings)
    app.state.faults = FaultRules()
    app.state.request_log = RequestLog()
    for router in (
        auth_api,
        account_list_api,
        digital_audiences.api,
        digital_audiences.admin_api,
        intent.api,
        intent.admin_api,
        admin_api,
    ):
        app.include_router(router)
    return app
