"""Hook for the Bombora API: the only code of the provider that speaks HTTP synchronously.

:class:`BomboraHook` is the connection type's hook and has every call of the provider: the
Account List API (:mod:`.account_lists`), the Digital Audience Builder API
(:mod:`.digital_audiences`) and the Intent API (:mod:`.intent`), all through the session,
token and retry loop of :class:`~.base.BomboraBaseHook`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from airflow_provider_bombora import get_provider_info
from airflow_provider_bombora.exceptions import BomboraError, shorten
from airflow_provider_bombora.hooks.account_lists import AccountListCalls
from airflow_provider_bombora.hooks.digital_audiences import DigitalAudienceCalls
from airflow_provider_bombora.hooks.http_rules import redact
from airflow_provider_bombora.hooks.intent import IntentCalls

# Attempts and longest wait when testing a connection: the UI waits for the answer.
_TEST_CONNECTION_MAX_ATTEMPTS = 2
_TEST_CONNECTION_MAX_RETRY_WAIT = 5.0


class BomboraHook(AccountListCalls, DigitalAudienceCalls, IntentCalls):
    """Talk to the Bombora API with the Client ID and Client secret of an Airflow connection.

    See :class:`~.base.BomboraBaseHook` for the connection fields and options.
    """

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Connection form of Airflow 3.0/3.1, taken from :func:`get_provider_info` (read by 3.2+)."""
        connection_type = next(
            item for item in get_provider_info()["connection-types"] if item["connection-type"] == cls.conn_type
        )
        return {key.replace("-", "_"): value for key, value in connection_type["ui-field-behaviour"].items()}

    # --- Connection test ---

    def test_connection(self) -> tuple[bool, str]:
        """Get a token and list the account lists, for the "Test" button; never raises.

        Uses at most 2 attempts and 5 s waits, so that the UI answers quickly.
        """
        try:
            settings = self._get_settings()
            probe = type(self)(self.bombora_conn_id)
            probe._settings = replace(
                settings,
                options=replace(
                    settings.options,
                    max_attempts=min(settings.options.max_attempts, _TEST_CONNECTION_MAX_ATTEMPTS),
                    max_retry_wait=min(settings.options.max_retry_wait, _TEST_CONNECTION_MAX_RETRY_WAIT),
                ),
            )
            account_lists = probe.list_account_lists()
        except BomboraError as error:
            return False, str(error)
        except Exception as error:  # noqa: BLE001 - the UI wants an answer, whatever went wrong
            secret = self._settings.client_secret if self._settings else None
            return False, shorten(redact(f"{type(error).__name__}: {error}", (secret,)))
        message = f"Connected to Bombora at {settings.base_url}: {len(account_lists)} account lists visible"
        # `airflow connections test` prints only "Connection success!"; the log line says more.
        self.log.info("%s", message)
        return True, message
