"""The Digital Audience Builder API calls of the synchronous hook (``/digital-audiences/v1``).

A digital audience pushes accounts to a data exchange (a DSP such as The Trade Desk or Xandr).
It is identified by its data exchange, external id and partner id; its body is built and
checked by :mod:`airflow_provider_bombora.digital_audiences` before any call.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_bombora.hooks.base import BomboraBaseHook
from airflow_provider_bombora.hooks.wire import (
    data_exchange_path,
    digital_audience_path,
    is_count,
    is_object,
    json_bytes,
)


class DigitalAudienceCalls(BomboraBaseHook):
    """Create, read, update, delete, activate, suspend and estimate digital audiences.

    Product access is granted by Bombora by hand: an app without it is answered 403
    (:class:`~airflow_provider_bombora.exceptions.BomboraAuthError`).
    """

    def create_digital_audience(self, data_exchange: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """Create an audience on ``data_exchange``; return the created audience if Bombora sends it back.

        Not idempotent: a create retried after its answer was lost is answered 409
        (:class:`~airflow_provider_bombora.exceptions.BomboraConflictError`, the external id is in
        use); read the audience with :meth:`get_digital_audience` to tell whose it is.
        """
        answer = self._call("POST", data_exchange_path(data_exchange), json_bytes(body))
        return answer if is_object(answer) else None

    def get_digital_audience(self, data_exchange: str, external_id: str, partner_id: str) -> dict[str, Any]:
        """The audience with its ``status`` (``Pending``, ``Active``, ``Suspended``); 404 raises
        :class:`~airflow_provider_bombora.exceptions.BomboraNotFoundError`."""
        return self._call(
            "GET",
            digital_audience_path(data_exchange, external_id, partner_id),
            check=is_object,
            expected="a digital audience",
        )

    def update_digital_audience(
        self, data_exchange: str, external_id: str, partner_id: str, body: dict[str, Any]
    ) -> None:
        """Replace the audience with ``body`` (a full overwrite: fields left out are cleared)."""
        self._call("PUT", digital_audience_path(data_exchange, external_id, partner_id), json_bytes(body))

    def delete_digital_audience(self, data_exchange: str, external_id: str, partner_id: str) -> None:
        """Delete the audience (404 if it does not exist)."""
        self._call("DELETE", digital_audience_path(data_exchange, external_id, partner_id))

    def activate_digital_audience(self, data_exchange: str, external_id: str, partner_id: str) -> None:
        """Activate a suspended audience; 409 (:class:`BomboraConflictError`) when it is not suspended."""
        self._call("PUT", digital_audience_path(data_exchange, external_id, partner_id, "/activate"))

    def suspend_digital_audience(self, data_exchange: str, external_id: str, partner_id: str) -> None:
        """Suspend the audience: the data exchange stops receiving it until it is activated."""
        self._call("PUT", digital_audience_path(data_exchange, external_id, partner_id, "/suspend"))

    def estimate_digital_audience(self, data_exchange: str, body: dict[str, Any]) -> int:
        """How many accounts an audience with ``body`` would reach (``{"count": n}``); creates nothing."""
        answer = self._call(
            "POST",
            data_exchange_path(data_exchange, "/estimate"),
            json_bytes(body),
            check=is_count,
            expected='{"count": <number of accounts>}',
        )
        return answer["count"]
