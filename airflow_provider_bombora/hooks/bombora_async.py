"""Asynchronous hook for the Bombora API, for triggers running in the triggerer's event loop.

:class:`BomboraAsyncHook` is the twin of :class:`~airflow_provider_bombora.hooks.bombora.BomboraHook`
over ``httpx``: it reads the same connection, gets its own access token, and follows the same
rules (:mod:`.settings`, :mod:`.http_rules`, :mod:`.wire`); only the transport differs. It offers
the reads a trigger needs, and imports no ``requests``.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from collections.abc import Callable
from typing import Any

import httpx
from airflow.sdk import BaseHook
from airflow.sdk.log import amask_secret
from tenacity import AsyncRetrying

from airflow_provider_bombora.exceptions import BomboraApiError
from airflow_provider_bombora.hooks.http_rules import (
    AccessToken,
    TransientFailure,
    access_token_from_answer,
    decode_answer,
    error_for_response,
    is_tls_failure,
    raise_for_retryable_status,
    retry_policy,
    token_request_body,
    transport_failure_reason,
)
from airflow_provider_bombora.hooks.settings import OPTION_NAMES, ConnectionSettings, connection_settings
from airflow_provider_bombora.hooks.wire import (
    ACCOUNT_LISTS_ANSWER,
    ACCOUNT_LISTS_PATH,
    TOKEN_PATH,
    USER_AGENT,
    account_list_path,
    account_lists_of,
    digital_audience_path,
    is_account_lists_answer,
    is_object,
    select_account_list,
)


class BomboraAsyncHook(BaseHook):
    """Read account lists and digital audiences asynchronously with the credentials of a connection.

    Constructing the hook reads nothing and sends nothing. The connection is read on first use
    and one ``httpx.AsyncClient`` serves every call until :meth:`close`; use the hook as an
    ``async with`` block so that the client is closed whatever happens::

        async with BomboraAsyncHook("bombora_default") as hook:
            definition = await hook.get_account_list(account_list_id)

    :param bombora_conn_id: The Airflow connection to use (the same as for ``BomboraHook``).
    :param options: ``timeout``, ``connect_timeout``, ``max_attempts``, ``max_retry_wait``,
        ``verify``: as for ``BomboraHook``, winning over the extras.
    """

    conn_name_attr = "bombora_conn_id"
    default_conn_name = "bombora_default"
    conn_type = "bombora"
    hook_name = "Bombora"

    def __init__(self, bombora_conn_id: str = default_conn_name, **options: Any) -> None:
        unknown = sorted(set(options) - set(OPTION_NAMES))
        if unknown:
            raise TypeError(f"unknown option {', '.join(unknown)}; the options are {', '.join(OPTION_NAMES)}")
        super().__init__()
        self.bombora_conn_id = bombora_conn_id
        self._arguments = options
        self._settings: ConnectionSettings | None = None
        self._client: httpx.AsyncClient | None = None
        self._token: AccessToken | None = None
        self._token_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(bombora_conn_id={self.bombora_conn_id!r})"

    async def __aenter__(self) -> BomboraAsyncHook:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP client and its connections (a later call opens a new one)."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    # --- Connection, client and token ---

    async def _get_settings(self) -> ConnectionSettings:
        if self._settings is None:
            conn = await self.aget_connection(self.bombora_conn_id)
            if conn.password:
                await amask_secret(conn.password)
            extras = await conn.aextra_dejson()
            self._settings = connection_settings(self.bombora_conn_id, conn, extras, self._arguments, self.log)
        return self._settings

    async def _get_client(self) -> httpx.AsyncClient:
        if self._client is None:
            options = (await self._get_settings()).options
            self._client = httpx.AsyncClient(
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
                timeout=httpx.Timeout(options.timeout, connect=options.connect_timeout),
                verify=_ssl_verification(options.verify),
                # The API does not redirect; following one could resend the secret elsewhere.
                follow_redirects=False,
            )
        return self._client

    async def _access_token(self, refused: str | None = None) -> str:
        """The current token; a new one when none is held, it is due for refresh, or it was ``refused``."""
        async with self._token_lock:
            token = self._token
            if token is None or token.value == refused or time.monotonic() >= token.refresh_at:
                token = self._token = await self._fetch_token()
            return token.value

    async def _fetch_token(self) -> AccessToken:
        settings = await self._get_settings()
        requested_at = time.monotonic()
        response = await self._send(
            "POST", TOKEN_PATH, token_request_body(settings), {"Content-Type": "application/json"}
        )
        token = access_token_from_answer(settings, response.status_code, response.content, requested_at)
        await amask_secret(token.value)
        return token

    # --- Requests ---

    async def _sleep(self, seconds: float) -> None:
        """Wait between attempts without blocking the event loop."""
        await asyncio.sleep(seconds)

    def _secrets(self) -> tuple[str | None, ...]:
        return (
            self._settings.client_secret if self._settings else None,
            self._token.value if self._token else None,
        )

    async def _send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> httpx.Response:
        """Send one request with retries; return the last answer that is not worth retrying.

        :raises BomboraApiError: when every attempt failed (status ``None`` if no answer came).
        """
        options = (await self._get_settings()).options
        retrying = AsyncRetrying(**retry_policy(options, method, path, self.log), sleep=self._sleep)
        try:
            return await retrying(self._send_once, method, path, body, headers)
        except TransientFailure as failure:
            raise failure.error.after_attempts(options.max_attempts) from failure.__cause__

    async def _send_once(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> httpx.Response:
        settings = await self._get_settings()
        client = await self._get_client()
        try:
            response = await client.request(method, settings.base_url + path, content=body, headers=headers)
        except httpx.HTTPError as error:
            reason = transport_failure_reason(error, settings, self._secrets())
            failure = BomboraApiError(reason, method=method, path=path)
            # A dropped connection or a timeout may pass; a certificate or protocol problem does not.
            if isinstance(error, httpx.TransportError) and not is_tls_failure(error):
                raise TransientFailure(failure, reason) from error
            raise failure from error
        raise_for_retryable_status(
            response.status_code,
            response.content,
            response.headers.get("Retry-After"),
            method=method,
            path=path,
            secrets=self._secrets(),
        )
        return response

    async def _get(self, path: str, *, check: Callable[[Any], bool], expected: str) -> Any:
        """GET ``path`` with the access token and return the checked JSON answer.

        A 401 gets one new token and one repeat of the request: tokens expire or are revoked.
        """
        token = await self._access_token()
        response = await self._send("GET", path, None, {"Authorization": f"Bearer {token}"})
        if response.status_code == 401:
            self.log.info("Bombora refused the access token for GET %s; getting a new one", path)
            token = await self._access_token(refused=token)
            response = await self._send("GET", path, None, {"Authorization": f"Bearer {token}"})
        if response.status_code >= 300:
            raise error_for_response(
                response.status_code, response.content, method="GET", path=path, secrets=self._secrets()
            )
        return decode_answer(
            response.status_code,
            response.content,
            method="GET",
            path=path,
            secrets=self._secrets(),
            check=check,
            expected=expected,
        )

    # --- Account List API (reads) ---

    async def list_account_lists(self) -> list[dict[str, Any]]:
        """Summaries of all account lists (see ``BomboraHook.list_account_lists``)."""
        answer = await self._get(ACCOUNT_LISTS_PATH, check=is_account_lists_answer, expected=ACCOUNT_LISTS_ANSWER)
        return account_lists_of(answer)

    async def find_account_list(self, name: str) -> dict[str, Any] | None:
        """The summary of the account list named exactly ``name``, or None (see ``BomboraHook.find_account_list``)."""
        return select_account_list(await self.list_account_lists(), name)

    async def get_account_list(self, account_list_id: str) -> dict[str, Any]:
        """The AccountListDefinition of a list (:class:`BomboraNotFoundError` if it does not exist)."""
        return await self._get(
            account_list_path(account_list_id), check=is_object, expected="an account list definition"
        )

    # --- Digital Audience Builder API (reads) ---

    async def get_digital_audience(self, data_exchange: str, external_id: str, partner_id: str) -> dict[str, Any]:
        """The digital audience with its ``status`` (see ``BomboraHook.get_digital_audience``)."""
        path = digital_audience_path(data_exchange, external_id, partner_id)
        return await self._get(path, check=is_object, expected="a digital audience")


@functools.cache
def _ssl_verification(verify: bool | str) -> bool | ssl.SSLContext:
    """httpx's ``verify`` for the option, made once per process and setting: an SSL context
    loads the CA bundle (about 25 ms of CPU), and a triggerer starts a hook per deferred sensor."""
    if verify is False:
        return False
    return ssl.create_default_context(cafile=verify) if isinstance(verify, str) else httpx.create_ssl_context()

