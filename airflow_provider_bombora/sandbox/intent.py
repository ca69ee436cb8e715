"""The sandbox's Intent API (``/intent/v1``) and topic taxonomy (``/reference/v1/topics``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from airflow_provider_bombora.sandbox.admin_client import AdminClient
from airflow_provider_bombora.sandbox.routing import require_token
from airflow_provider_bombora.sandbox.state import Settings
from airflow_provider_bombora.sandbox.traffic import ADMIN_PREFIX

api = APIRouter(dependencies=[Depends(require_token)])
admin_api = APIRouter(prefix=f"{ADMIN_PREFIX}/intent")


class IntentData:
    """Intent data, signal definitions and topics of one sandbox."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def reset(self) -> None:
        """Forget signal definitions and page tokens."""


class IntentAdmin(AdminClient):
    """:class:`~.server.SandboxAdmin`'s helpers for intent data."""
