"""Hook for the Bombora API: the only code of the provider that speaks HTTP synchronously.

:class:`BomboraHook` gets an OAuth access token from the connection's Client ID and Client
secret, keeps it until shortly before it expires, and calls the Account List API through one
``requests.Session`` with timeouts, bounded retries (429, 5xx, dropped connections) and errors
mapped onto :mod:`airflow_provider_bombora.exceptions`. What it shares with the asynchronous
hook lives beside it: :mod:`.settings` (the connection), :mod:`.http_rules` (retries, errors,
tokens) and :mod:`.wire` (bodies and answers).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import requests
from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret
from tenacity import Retrying

from airflow_provider_bombora import get_provider_info
from airflow_provider_bombora.exceptions import BomboraApiError, BomboraError, shorten
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
from airflow_provider_bombora.hooks.wire import (
    ACCOUNT_LISTS_ANSWER,
    ACCOUNT_LISTS_PATH,
    TOKEN_PATH,
    USER_AGENT,
    AccountDomains,
    account_list_path,
    account_lists_of,
    accounts_body,
    delete_accounts_body,
    has_id,
    is_account_lists_answer,
    is_object,
    json_bytes,
    select_account_list,
    unique_batches,
)

# Attempts and longest wait when testing a connection: the UI waits for the answer.
_TEST_CONNECTION_MAX_ATTEMPTS = 2
_TEST_CONNECTION_MAX_RETRY_WAIT = 5.0


class BomboraHook(BaseHook):
    """Talk to the Bombora API with the Client ID and Client secret of an Airflow connection.

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

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Connection form of Airflow 3.0/3.1, taken from :func:`get_provider_info` (read by 3.2+)."""
        connection_type = next(
            item
            for item in get_provider_info()["connection-types"]
            if item["connection-type"] == cls.conn_type
        )
        return {key.replace("-", "_"): value for key, value in connection_type["ui-field-behaviour"].items()}

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

    def _send_once(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> requests.Response:
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

    # --- Account List API ---

    def list_account_lists(self) -> list[dict[str, Any]]:
        """Summaries of all account lists: ``id``, ``name``, ``type``, ``accountTotal``, ``pendingUpdate``...

        Accepts both documented answers: a bare array and ``{"accountLists": [...]}``.
        """
        return account_lists_of(
            self._call("GET", ACCOUNT_LISTS_PATH, check=is_account_lists_answer, expected=ACCOUNT_LISTS_ANSWER)
        )

    def find_account_list(self, name: str) -> dict[str, Any] | None:
        """The summary of the account list named exactly ``name`` (case-sensitive), or None.

        :raises BomboraApiError: if several lists have that name: Bombora keeps names unique,
            and picking one could write to the wrong list.
        """
        return select_account_list(self.list_account_lists(), name)

    def create_account_list(self, name: str, description: str | None = None, *, type: str = "Manual") -> str:
        """Create an account list and return its id.

        Not idempotent: a retried create that had succeeded makes a second list (or a 422 for
        the name in use), so look the name up with :meth:`find_account_list` first.

        :param name: The list's name, unique among the customer's lists.
        :param description: Optional description.
        :param type: ``Manual`` (the only type that accepts uploads), ``Derived``, ``Surge`` or
            ``VisitorInsights``.
        """
        metadata = {"name": name} if description is None else {"name": name, "description": description}
        body = json_bytes({"type": type, "metadata": metadata, "specification": {}})
        payload = self._call(
            "POST",
            ACCOUNT_LISTS_PATH,
            body,
            check=has_id,
            expected='{"id": "<new list id>"}',
        )
        return payload["id"]

    def get_account_list(self, account_list_id: str) -> dict[str, Any]:
        """The AccountListDefinition (``type``, ``metadata``, ``specification``, ``accountsLastModified``)."""
        return self._call(
            "GET", account_list_path(account_list_id), check=is_object, expected="an account list definition"
        )

    def update_account_list(self, account_list_id: str, definition: dict[str, Any]) -> dict[str, Any]:
        """Replace a list's definition (``type`` and ``parentId`` cannot change); return the stored one."""
        return self._call(
            "PUT",
            account_list_path(account_list_id),
            json_bytes(definition),
            check=is_object,
            expected="an account list definition",
        )

    def delete_account_list(self, account_list_id: str) -> None:
        """Delete an account list (409 :class:`BomboraPendingUpdateError` if a Derived list depends on it)."""
        self._call("DELETE", account_list_path(account_list_id))

    def add_accounts(
        self,
        account_list_id: str,
        domains: Iterable[str],
        batch_size: int = 1000,
        *,
        progress: Callable[[int], None] | None = None,
        before_each: Callable[[], None] | None = None,
    ) -> int:
        """Add (or update) accounts identified by domain, in batches; return how many were sent.

        ``domains`` is read lazily (a generator works; only one batch is held in memory). Repeats
        within a batch are dropped, since Bombora rejects a body that repeats an identifier.
        Bombora applies the upload asynchronously (``pendingUpdate``). An invalid item raises
        :class:`BomboraValidationError` when reached, after the batches before it were sent.

        :param account_list_id: The Manual account list to add to.
        :param domains: Bare domains, e.g. ``acme.com``.
        :param batch_size: Accounts per request, 1 to 10000.
        :param progress: Called after each batch with the number of accounts sent so far.
        :param before_each: Called before every attempt to send a batch, retries included; what it
            raises stops the writes (the activation checks its claim on the list there).
        """
        path = account_list_path(account_list_id, "/accounts")
        return self._write_in_batches(path, accounts_body, domains, batch_size, "domains", progress, before_each)

    def delete_accounts(
        self,
        account_list_id: str,
        ids: Iterable[str],
        batch_size: int = 1000,
        *,
        progress: Callable[[int], None] | None = None,
        before_each: Callable[[], None] | None = None,
    ) -> int:
        """Remove accounts by identifier (the domain, unless added with an ``id``); return how many were sent.

        Same batching rules as :meth:`add_accounts`. Answered 409 (:class:`BomboraPendingUpdateError`)
        while an update of the list is pending.

        :param account_list_id: The account list to remove from.
        :param ids: Account identifiers.
        :param batch_size: Identifiers per request, 1 to 10000.
        :param progress: Called after each batch with the number of identifiers sent so far.
        :param before_each: As for :meth:`add_accounts`.
        """
        path = account_list_path(account_list_id, "/delete-accounts")
        return self._write_in_batches(path, delete_accounts_body, ids, batch_size, "ids", progress, before_each)

    def _write_in_batches(
        self,
        path: str,
        encode: Callable[[list[str]], bytes],
        values: Iterable[str],
        batch_size: int,
        name: str,
        progress: Callable[[int], None] | None,
        before_each: Callable[[], None] | None,
    ) -> int:
        sent = 0
        for batch in unique_batches(values, batch_size, name):
            self._call("POST", path, encode(batch), before_attempt=before_each)
            sent += len(batch)
            if progress is not None:
                progress(sent)
        return sent

    def empty_account_list(self, account_list_id: str) -> None:
        """Remove every account from a list (idempotent; 409 while an update is pending)."""
        self._call("DELETE", account_list_path(account_list_id, "/accounts"))

    def get_account_domains(self, account_list_id: str) -> list[str]:
        """All distinct domains in a list."""
        return list(self.iter_account_domains(account_list_id))

    def iter_account_domains(self, account_list_id: str) -> AccountDomains:
        """All distinct domains in a list, decoded one at a time as they are iterated
        (see :class:`~airflow_provider_bombora.hooks.wire.AccountDomains`)."""
        path = account_list_path(account_list_id, "/accounts/domains")
        return AccountDomains.of_answer(self._authorized("GET", path).content, path)

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
