"""What every synchronous call to the Bombora API goes through: connection, session, token, retries.

:class:`BomboraBaseHook` gets an OAuth access token from the connection's Client ID and Client
secret, keeps it until shortly before it expires, and sends requests through one
``requests.Session`` with timeouts, bounded retries (429, 5xx, dropped connections) and errors
mapped onto :mod:`airflow_provider_bombora.exceptions`. What it shares with the asynchronous
hook lives beside it: :mod:`.settings` (the connection), :mod:`.http_rules` (retries, errors,
tokens) and :mod:`.wire` (bodies and answers).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret
from tenacity import Retrying

from airflow_provider_bombora.exceptions import BomboraApiError, shorten
from airflow_provider_bombora.hooks.http_rules import (
    AccessToken,
    TransientFailure,
    access_token_from_answer,
    decode_answer,
    error_for_response,
    is_tls_failure,
    raise_for_retryable_status,
    redact,
    retry_policy,
    token_request_body,
    transport_failure_reason,
)
from airflow_provider_bombora.hooks.settings import ConnectionSettings, connection_settings
from airflow_provider_bombora.hooks.wire import TOKEN_PATH, USER_AGENT


class BomboraBaseHook(BaseHook):
    """The connection, session, access token and retry loop every Bombora API call goes through.

    The calls themselves live in one subclass per API (:mod:`.account_lists`,
    :mod:`.digital_audiences`, :mod:`.intent`); :class:`~.bombora.BomboraHook` has them all.

    Constructing the hook reads nothing and sends nothing (DAG files build hooks when parsed):
    the connection is read on first use. One hook may be shared by several threads.

    Connection fields: login = Client ID, password = Client secret, host = API base URL
    (default ``https://api.bombora.com``). Extras ``connect_timeout``, ``timeout``,
    ``max_attempts``, ``max_retry_wait`` and ``verify`` set the options of
    :class:`~airflow_provider_bombora.hooks.settings.ClientOptions`; arguments given here win
    over extras.

    :param bombora_conn_id: The Airflow connection to use.
    :param timeout: Read timeout in seconds (default 60).
    :param connect_timeout: Connect timeout in seconds (default 10).
    :param max_attempts: Tries of one request in total (default 5).
    :param max_retry_wait: Longest single wait between attempts in seconds (default 60).
    :param verify: TLS verification: ``True`` (default), ``False`` or a CA bundle path.
    """

    conn_name_attr = "bombora_conn_id"
    default_conn_name = "bombora_default"
    conn_type = "bombora"
    hook_name = "Bombora"

    def __init__(
        self,
        bombora_conn_id: str = default_conn_name,
        *,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        max_attempts: int | None = None,
        max_retry_wait: float | None = None,
        verify: bool | str | None = None,
    ) -> None:
        super().__init__()
        self.bombora_conn_id = bombora_conn_id
        self._arguments = {
            "timeout": timeout,
            "connect_timeout": connect_timeout,
            "max_attempts": max_attempts,
            "max_retry_wait": max_retry_wait,
            "verify": verify,
        }
        self._setup_lock = threading.Lock()
        self._transport: dict[str, Any] | None = None
        self._token_lock = threading.Lock()
        self._settings: ConnectionSettings | None = None
        self._session: requests.Session | None = None
        self._token: AccessToken | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(bombora_conn_id={self.bombora_conn_id!r})"

    # --- Connection, session and token ---

    def _get_settings(self) -> ConnectionSettings:
        settings = self._settings
        if settings is None:
            with self._setup_lock:
                if self._settings is None:
                    self._settings = self._read_connection()
                settings = self._settings
        return settings

    def _read_connection(self) -> ConnectionSettings:
        conn = self.get_connection(self.bombora_conn_id)
        if conn.password:
            mask_secret(conn.password)
        return connection_settings(self.bombora_conn_id, conn, conn.extra_dejson, self._arguments, self.log)

    @property
    def base_url(self) -> str:
        """The API base URL of the connection (reads the connection on first use)."""
        return self._get_settings().base_url

    def get_conn(self) -> requests.Session:
        """The hook's ``requests.Session``, created on first use and reused by every call (keep-alive)."""
        session = self._session
        if session is None:
            with self._setup_lock:
                if self._session is None:
                    self._session = requests.Session()
                    self._session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
                    # Proxies and CA bundle come from _transport_options(), read once: with
                    # trust_env, requests rescans the environment at every request.
                    self._session.trust_env = False
                session = self._session
        return session

    def _transport_options(self) -> dict[str, Any]:
        """The environment's proxies (``HTTPS_PROXY``, ``NO_PROXY``) and CA bundle
        (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``) for the API, read on first use."""
        if self._transport is None:
            settings = self._get_settings()
            verify = settings.options.verify
            if verify is True:
                verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
            self._transport = {"proxies": requests.utils.get_environ_proxies(settings.base_url), "verify": verify}
        return self._transport

    def _current_token(self) -> str:
        with self._token_lock:
            if self._token is None or time.monotonic() >= self._token.refresh_at:
                self._token = self._fetch_token()
            return self._token.value

    def _renew_token(self, refused: str) -> str:
        """A token other than ``refused``: another thread's fresh one, or a new one."""
        with self._token_lock:
            if self._token is None or self._token.value == refused:
                self._token = self._fetch_token()
            return self._token.value

    def _fetch_token(self) -> AccessToken:
        settings = self._get_settings()
        requested_at = time.monotonic()
        response = self._send("POST", TOKEN_PATH, token_request_body(settings), {"Content-Type": "application/json"})
        token = access_token_from_answer(settings, response.status_code, response.content, requested_at)
        mask_secret(token.value)
        return token

    # --- Requests ---

    def _sleep(self, seconds: float) -> None:
        """Wait between attempts (tenacity's sleep)."""
        time.sleep(seconds)

    def _secrets(self) -> tuple[str | None, ...]:
        token = self._token
        return (self._get_settings().client_secret, token.value if token else None)

    def _send(
        self,
        method: str,
        path: str,
        body: bytes | None,
        headers: dict[str, str],
        before_attempt: Callable[[], None] | None = None,
    ) -> requests.Response:
        """Send one request with retries; return the last answer that is not worth retrying.

        :param before_attempt: Called before every attempt; what it raises ends the request.
        :raises BomboraApiError: when every attempt failed (status ``None`` if no answer came).
        """
        options = self._get_settings().options
        retrying = Retrying(**retry_policy(options, method, path, self.log), sleep=self._sleep)

        def attempt() -> requests.Response:
            if before_attempt is not None:
                before_attempt()
            return self._send_once(method, path, body, headers)

        try:
            return retrying(attempt)
        except TransientFailure as failure:
            raise failure.error.after_attempts(options.max_attempts) from failure.__cause__

    def _send_once(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> requests.Response:
        settings = self._get_settings()
        options = settings.options
        try:
            response = self.get_conn().request(
                method,
                settings.base_url + path,
                data=body,
                headers=headers,
                timeout=(options.connect_timeout, options.timeout),
                **self._transport_options(),
                # The API does not redirect; following one could resend the secret elsewhere.
                allow_redirects=False,
            )
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,  # the connection dropped while reading the answer
        ) as error:
            reason = transport_failure_reason(error, settings, self._secrets())
            failure = BomboraApiError(reason, method=method, path=path)
            # A certificate or protocol problem does not go away by retrying.
            if isinstance(error, requests.exceptions.SSLError) or is_tls_failure(error):
                raise failure from error
            raise TransientFailure(failure, reason) from error
        except requests.RequestException as error:
            raise BomboraApiError(self._reason(error), method=method, path=path) from error
        raise_for_retryable_status(
            response.status_code,
            response.content,
            response.headers.get("Retry-After"),
            method=method,
            path=path,
            secrets=self._secrets(),
        )
        return response

    def _reason(self, error: Exception) -> str:
        return shorten(redact(f"{type(error).__name__}: {error}", self._secrets()))

    def _call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        check: Callable[[Any], bool] | None = None,
        expected: str = "",
        before_attempt: Callable[[], None] | None = None,
    ) -> Any:
        """Send an authenticated request and return its decoded JSON answer (``None`` if empty).

        A 401 gets one new token and one repeat of the request: tokens expire or are revoked.

        :param check: Tells whether the decoded answer has the documented shape.
        :param expected: What ``check`` expects, for the error message.
        :param before_attempt: Called before every attempt (see :meth:`_send`).
        """
        response = self._authorized(method, path, body, before_attempt)
        return decode_answer(
            response.status_code,
            response.content,
            method=method,
            path=path,
            secrets=self._secrets(),
            check=check,
            expected=expected,
        )

    def _authorized(
        self, method: str, path: str, body: bytes | None = None, before_attempt: Callable[[], None] | None = None
    ) -> requests.Response:
        """Send a request with the access token; return the successful answer.

        A 401 gets one new token and one repeat of the request: tokens expire or are revoked.
        """
        headers = {"Content-Type": "application/json"} if body is not None else {}
        token = self._current_token()
        response = self._send(method, path, body, {**headers, "Authorization": f"Bearer {token}"}, before_attempt)
        if response.status_code == 401:
            self.log.info("Bombora refused the access token for %s %s; getting a new one", method, path)
            token = self._renew_token(refused=token)
            response = self._send(method, path, body, {**headers, "Authorization": f"Bearer {token}"}, before_attempt)
        if response.status_code >= 300:
            raise error_for_response(
                response.status_code, response.content, method=method, path=path, secrets=self._secrets()
            )
        return response
