"""The sandbox's Digital Audience Builder API (``/digital-audiences/v1``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from airflow_provider_bombora.sandbox.admin_client import AdminClient
from airflow_provider_bombora.sandbox.routing import require_token
from airflow_provider_bombora.sandbox.state import Settings
from airflow_provider_bombora.sandbox.traffic import ADMIN_PREFIX

DIGITAL_AUDIENCES = "/digital-audiences/v1"

api = APIRouter(prefix=DIGITAL_AUDIENCES, dependencies=[Depends(require_token)])
admin_api = APIRouter(prefix=f"{ADMIN_PREFIX}/digital-audiences")


class DigitalAudiences:
    """The digital audiences of one sandbox."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def reset(self) -> None:
        """Forget every audience."""


class DigitalAudienceAdmin(AdminClient):
    """:class:`~.server.SandboxAdmin`'s helpers for digital audiences."""
