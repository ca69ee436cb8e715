"""The sandbox's Digital Audience Builder API (``/digital-audiences/v1``).

An audience is keyed by its data exchange, external id and partner id. Like account lists'
update jobs, the move from ``Pending`` to ``Active`` is lazy: the first read after
``processing_delay`` seconds (``time.monotonic()``) makes it, with no background thread.
The body rules live in :mod:`.digital_audience_rules`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from airflow_provider_bombora.sandbox.admin_client import AdminClient
from airflow_provider_bombora.sandbox.digital_audience_rules import (
    DATA_EXCHANGES,
    DEFAULTS,
    IDENTITY_FIELDS,
    READ_ONLY_FIELDS,
    audience_errors,
    estimated_count,
    required_on_create,
)
from airflow_provider_bombora.sandbox.routing import json_response, parsed_body, require_token
from airflow_provider_bombora.sandbox.state import ApiError, Settings, utc_timestamp
from airflow_provider_bombora.sandbox.traffic import ADMIN_PREFIX

DIGITAL_AUDIENCES = "/digital-audiences/v1"
AUDIENCE_PATH = "/{data_exchange}/{external_id}/{partner_id}"
# The partnerId of an audience created without one (exchanges other than adobe and appnexus).
DEFAULT_PARTNER_ID = "0"
# Assigned external ids: "bmb-<n>", or for media_math_direct (numeric, 7 digits at least) n + this.
MEDIA_MATH_ID_BASE = 1_000_000

api = APIRouter(prefix=DIGITAL_AUDIENCES, dependencies=[Depends(require_token)])
admin_api = APIRouter(prefix=f"{ADMIN_PREFIX}/digital-audiences")

AudienceKey = tuple[str, str, str]  # (data exchange, externalId, partnerId)


@dataclass
class Audience:
    data_exchange: str
    fields: dict[str, Any]  # the body as stored, externalId and partnerId included
    status: str
    created_date: str
    modified_date: str
    active_from: float | None = None  # while Pending: the monotonic time it becomes Active

    def settle(self) -> None:
        """Become Active if Pending and the processing delay has passed (in the status's own case)."""
        if self.active_from is not None and self.active_from <= time.monotonic():
            self.status = "ACTIVE" if self.status.isupper() else "Active"
            self.active_from = None

    def make_pending(self, processing_delay: float) -> None:
        self.status = "Pending"
        self.active_from = time.monotonic() + processing_delay

    def to_json(self) -> dict[str, Any]:
        dates = {"createdDate": self.created_date, "modifiedDate": self.modified_date}
        return {**self.fields, "status": self.status, **dates}


def _invalid(errors: dict[str, list[str]]) -> ApiError:
    return ApiError(422, "The digital audience is invalid", errors=errors)


def _check_data_exchange(data_exchange: str) -> None:
    if data_exchange not in DATA_EXCHANGES:
        raise ApiError(404, f"Unknown data exchange {data_exchange!r}")


def _object_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _invalid({"body": ["must be a JSON object"]})
    return body


def _check_audience(
    data_exchange: str,
    body: dict[str, Any],
    required: tuple[str, ...],
    path_errors: dict[str, list[str]] | None = None,
) -> None:
    """422 with every field error of ``body`` (and ``path_errors``) at once, if there is any."""
    all_errors = {**(path_errors or {}), **audience_errors(data_exchange, body, required)}
    if all_errors:
        raise _invalid(all_errors)


def _without_identity(fields: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(name for name in fields if name not in IDENTITY_FIELDS)


def _admin_check(condition: bool, message: str) -> None:
    if not condition:
        raise ApiError(400, message)


class DigitalAudiences:
    """The digital audiences of one sandbox."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.audiences: dict[AudienceKey, Audience] = {}
        self._assigned_ids = 0

    def reset(self) -> None:
        """Forget every audience."""
        self.audiences.clear()
        self._assigned_ids = 0

    def _audience(self, data_exchange: str, external_id: str, partner_id: str) -> Audience:
        _check_data_exchange(data_exchange)
        audience = self.audiences.get((data_exchange, external_id, partner_id))
        if audience is None:
            raise ApiError(404, f"No {data_exchange} audience {external_id!r} of partner {partner_id!r}")
        audience.settle()
        return audience

    def _refuse_external_id_in_use(self, data_exchange: str, external_id: str) -> None:
        if any(key[:2] == (data_exchange, external_id) for key in self.audiences):
            raise ApiError(409, f"externalId {external_id!r} is already in use on {data_exchange}")

    def _assign_external_id(self, data_exchange: str) -> str:
        while True:
            self._assigned_ids += 1
            if data_exchange == "media_math_direct":
                external_id = str(MEDIA_MATH_ID_BASE + self._assigned_ids)
            else:
                external_id = f"bmb-{self._assigned_ids}"
            if not any(key[:2] == (data_exchange, external_id) for key in self.audiences):
                return external_id

    def _store(self, data_exchange: str, fields: dict[str, Any], status: str) -> Audience:
        now = utc_timestamp()
        audience = Audience(data_exchange, fields, status, now, now)
        self.audiences[(data_exchange, fields["externalId"], fields["partnerId"])] = audience
        return audience

    def create(self, data_exchange: str, body: Any) -> dict[str, Any]:
        _check_data_exchange(data_exchange)
        body = _object_body(body)
        _check_audience(data_exchange, body, required_on_create(data_exchange))
        if "externalId" in body:
            self._refuse_external_id_in_use(data_exchange, body["externalId"])
        identity = {
            "externalId": body["externalId"] if "externalId" in body else self._assign_external_id(data_exchange),
            "partnerId": body.get("partnerId", DEFAULT_PARTNER_ID),
        }
        audience = self._store(data_exchange, {**DEFAULTS, **body, **identity}, "Pending")
        audience.make_pending(self.settings.processing_delay)
        return audience.to_json()

    def get(self, data_exchange: str, external_id: str, partner_id: str) -> dict[str, Any]:
        return self._audience(data_exchange, external_id, partner_id).to_json()

    def update(self, data_exchange: str, external_id: str, partner_id: str, body: Any) -> None:
        """Overwrite the audience with ``body``; a Suspended audience stays Suspended, any other is Pending again."""
        audience = self._audience(data_exchange, external_id, partner_id)
        body = _object_body(body)
        path_identity = {"externalId": external_id, "partnerId": partner_id}
        mismatches = {
            name: ["must match the audience's path"]
            for name, value in path_identity.items()
            if name in body and body[name] != value
        }
        _check_audience(data_exchange, body, _without_identity(required_on_create(data_exchange)), mismatches)
        audience.fields = {**DEFAULTS, **body, **path_identity}
        audience.modified_date = utc_timestamp()
        if audience.status.lower() != "suspended":
            audience.make_pending(self.settings.processing_delay)

    def delete(self, data_exchange: str, external_id: str, partner_id: str) -> None:
        self._audience(data_exchange, external_id, partner_id)
        del self.audiences[(data_exchange, external_id, partner_id)]

    def activate(self, data_exchange: str, external_id: str, partner_id: str) -> None:
        audience = self._audience(data_exchange, external_id, partner_id)
        if audience.status.lower() != "suspended":
            raise ApiError(409, f"The audience is {audience.status}, not Suspended")
        audience.make_pending(self.settings.processing_delay)
        audience.modified_date = utc_timestamp()

    def suspend(self, data_exchange: str, external_id: str, partner_id: str) -> None:
        audience = self._audience(data_exchange, external_id, partner_id)
        audience.status = "Suspended"
        audience.active_from = None
        audience.modified_date = utc_timestamp()

    def estimate(self, data_exchange: str, body: Any) -> dict[str, int]:
        _check_data_exchange(data_exchange)
        body = _object_body(body)
        _check_audience(data_exchange, body, _without_identity(required_on_create(data_exchange)))
        return {"count": estimated_count(body)}

    # Test-only administration

    def seed(self, body: Any) -> dict[str, Any]:
        """Store an audience as if made outside the provider: its shape is checked, not its fields."""
        _admin_check(isinstance(body, dict), "Body must be a JSON object")
        data_exchange = body.get("dataExchange")
        _admin_check(data_exchange in DATA_EXCHANGES, f"dataExchange must be one of {', '.join(DATA_EXCHANGES)}")
        for name in (*IDENTITY_FIELDS, "status"):
            _admin_check(isinstance(body.get(name), str) and body[name] != "", f"{name} must be a non-empty string")
        fields = body.get("fields", {})
        _admin_check(isinstance(fields, dict), "fields must be a JSON object")
        reserved = sorted(set(fields) & {*IDENTITY_FIELDS, *READ_ONLY_FIELDS})
        _admin_check(not reserved, f"fields must not hold {', '.join(reserved)}: they are arguments of their own")
        self._refuse_external_id_in_use(data_exchange, body["externalId"])
        identity = {name: body[name] for name in IDENTITY_FIELDS}
        audience = self._store(data_exchange, {**fields, **identity}, body["status"])
        if body["status"].lower() == "pending":
            audience.active_from = time.monotonic() + self.settings.processing_delay
        return {"dataExchange": data_exchange, **audience.to_json()}

    def dump(self) -> list[dict[str, Any]]:
        for audience in self.audiences.values():
            audience.settle()
        return [{"dataExchange": audience.data_exchange, **audience.to_json()} for audience in self.audiences.values()]


def _digital_audiences(request: Request) -> DigitalAudiences:
    return request.app.state.digital_audiences


def _no_content() -> Response:
    return Response(status_code=204)


@api.post("/{data_exchange}")
async def create_digital_audience(data_exchange: str, request: Request) -> Response:
    return json_response(_digital_audiences(request).create(data_exchange, parsed_body(request)), 201)


@api.post("/{data_exchange}/estimate")
async def estimate_digital_audience(data_exchange: str, request: Request) -> Response:
    return json_response(_digital_audiences(request).estimate(data_exchange, parsed_body(request)))


@api.get(AUDIENCE_PATH)
async def get_digital_audience(data_exchange: str, external_id: str, partner_id: str, request: Request) -> Response:
    return json_response(_digital_audiences(request).get(data_exchange, external_id, partner_id))


@api.put(AUDIENCE_PATH)
async def update_digital_audience(data_exchange: str, external_id: str, partner_id: str, request: Request) -> Response:
    _digital_audiences(request).update(data_exchange, external_id, partner_id, parsed_body(request))
    return _no_content()


@api.delete(AUDIENCE_PATH)
async def delete_digital_audience(data_exchange: str, external_id: str, partner_id: str, request: Request) -> Response:
    _digital_audiences(request).delete(data_exchange, external_id, partner_id)
    return _no_content()


@api.put(f"{AUDIENCE_PATH}/activate")
async def activate_digital_audience(
    data_exchange: str, external_id: str, partner_id: str, request: Request
) -> Response:
    _digital_audiences(request).activate(data_exchange, external_id, partner_id)
    return _no_content()


@api.put(f"{AUDIENCE_PATH}/suspend")
async def suspend_digital_audience(data_exchange: str, external_id: str, partner_id: str, request: Request) -> Response:
    _digital_audiences(request).suspend(data_exchange, external_id, partner_id)
    return _no_content()


@admin_api.get("")
async def list_digital_audiences(request: Request) -> Response:
    return json_response(_digital_audiences(request).dump())


@admin_api.post("")
async def seed_digital_audience(request: Request) -> Response:
    return json_response(_digital_audiences(request).seed(parsed_body(request)))


class DigitalAudienceAdmin(AdminClient):
    """:class:`~.server.SandboxAdmin`'s helpers for digital audiences."""

    def digital_audiences(self) -> list[dict[str, Any]]:
        """Every stored audience: its ``dataExchange``, all its fields and its current ``status``."""
        return self._admin("GET", "/digital-audiences")

    def seed_digital_audience(
        self, data_exchange: str, external_id: str, partner_id: str, *, status: str = "Active", **fields: Any
    ) -> dict[str, Any]:
        """Store an audience as if made outside the provider, ``fields`` (``name=``, ``endDate=``, ...)
        unchecked and ``status`` verbatim (``"ACTIVE"`` too); returns it with its ``dataExchange``.
        A ``Pending`` one becomes Active after the current ``processing_delay``."""
        return self._admin(
            "POST",
            "/digital-audiences",
            {
                "dataExchange": data_exchange,
                "externalId": external_id,
                "partnerId": partner_id,
                "status": status,
                "fields": fields,
            },
        )
