"""Hook for the Bombora API: the only code of the provider that speaks HTTP.

:class:`BomboraHook` gets an OAuth access token from the connection's Client ID and Client
secret, keeps it until shortly before it expires, and calls the Account List API through one
``requests.Session`` with timeouts, bounded retries (429, 5xx, dropped connections) and errors
mapped onto :mod:`airflow_provider_bombora.exceptions`.

The module-level functions (:func:`resolve_base_url`, :func:`resolve_options`,
:func:`error_for_response`, :func:`retry_after_seconds`, :func:`retry_wait_seconds`) hold the
rules that do not depend on the HTTP library, so that an asynchronous hook can share them.
"""

from __future__ import annotations

import email.utils
import ipaddress
import json
import math
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from itertools import islice
from datetime import datetime, timezone
from json.decoder import scanstring
from json.encoder import encode_basestring_ascii
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from airflow_provider_bombora import __version__, get_provider_info
from airflow_provider_bombora.exceptions import (
    BomboraApiError,
    BomboraAuthError,
    BomboraConfigError,
    BomboraError,
    BomboraNotFoundError,
    BomboraPendingUpdateError,
    BomboraValidationError,
)

DEFAULT_BASE_URL = "https://api.bombora.com"
USER_AGENT = f"airflow-provider-bombora/{__version__}"
TOKEN_PATH = "/oauth/token"
ACCOUNT_LISTS_PATH = "/account-list/v1/account-list"

#: Test-only: scales every wait between attempts (see :class:`ClientOptions`).
RETRY_WAIT_MULTIPLIER_ENV = "BOMBORA_RETRY_WAIT_MULTIPLIER"

#: Answers worth another attempt: rate limiting and transient server or gateway failures.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})

MAX_BATCH_SIZE = 10_000

# First backoff wait in seconds (doubled at each attempt) and the random jitter added to it.
_BACKOFF_INITIAL = 1.0
_BACKOFF_JITTER = 1.0
# Attempts and longest wait when testing a connection: the UI waits for the answer.
_TEST_CONNECTION_MAX_ATTEMPTS = 2
_TEST_CONNECTION_MAX_RETRY_WAIT = 5.0
# Longest excerpt of a server's answer kept in an error message.
_EXCERPT_LENGTH = 300

_ERROR_CLASSES: dict[int, type[BomboraApiError]] = {
    401: BomboraAuthError,
    403: BomboraAuthError,
    404: BomboraNotFoundError,
    409: BomboraPendingUpdateError,
}


# --- Options and base URL -------------------------------------------------------------------


@dataclass(frozen=True)
class ClientOptions:
    """How the hook talks to Bombora; every field can be set by a hook argument or a connection extra.

    :param connect_timeout: Seconds to wait for a TCP/TLS connection.
    :param timeout: Seconds to wait for the server between bytes of an answer (read timeout).
    :param max_attempts: Tries of one request in total, the first included.
    :param max_retry_wait: Longest single wait between attempts in seconds, ``Retry-After`` included.
    :param retry_wait_multiplier: Test-only factor (0 to 1) applied to every wait so that tests
        run fast; also read from the ``BOMBORA_RETRY_WAIT_MULTIPLIER`` environment variable.
    :param verify: TLS certificate verification: ``True``, ``False`` or a CA bundle path.
    """

    connect_timeout: float = 10.0
    timeout: float = 60.0
    max_attempts: int = 5
    max_retry_wait: float = 60.0
    retry_wait_multiplier: float = 1.0
    verify: bool | str = True


def _as_number(value: Any) -> float | None:
    """``value`` as a finite float (numbers or numeric strings, as URI extras arrive), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _positive_seconds(name: str, value: Any, source: str) -> float:
    number = _as_number(value)
    if number is None or number <= 0:
        raise BomboraConfigError(f"{name} ({source}) must be a number of seconds > 0, got {value!r}")
    return number


def _non_negative_seconds(name: str, value: Any, source: str) -> float:
    number = _as_number(value)
    if number is None or number < 0:
        raise BomboraConfigError(f"{name} ({source}) must be a number of seconds >= 0, got {value!r}")
    return number


def _attempts(name: str, value: Any, source: str) -> int:
    number = _as_number(value)
    if number is None or number < 1 or not number.is_integer():
        raise BomboraConfigError(f"{name} ({source}) must be a whole number >= 1, got {value!r}")
    return int(number)


def _multiplier(name: str, value: Any, source: str) -> float:
    number = _as_number(value)
    if number is None or not 0 <= number <= 1:
        raise BomboraConfigError(f"{name} ({source}) must be a number from 0 to 1, got {value!r}")
    return number


def _verify(name: str, value: Any, source: str) -> bool | str:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if isinstance(value, str) and value and os.path.exists(value):
        return value
    raise BomboraConfigError(
        f"{name} ({source}) must be true, false or the path of an existing CA bundle, got {value!r}"
    )


_OPTION_PARSERS: dict[str, Callable[[str, Any, str], Any]] = {
    "connect_timeout": _positive_seconds,
    "timeout": _positive_seconds,
    "max_attempts": _attempts,
    "max_retry_wait": _non_negative_seconds,
    "retry_wait_multiplier": _multiplier,
    "verify": _verify,
}
OPTION_NAMES = tuple(_OPTION_PARSERS)


def resolve_options(
    arguments: Mapping[str, Any],
    extras: Mapping[str, Any],
    environ: Mapping[str, str] = os.environ,
) -> ClientOptions:
    """Merge and validate the options: hook arguments win over connection extras, extras over defaults.

    ``retry_wait_multiplier`` may also come from the ``BOMBORA_RETRY_WAIT_MULTIPLIER``
    environment variable, which ranks below the extra.

    :param arguments: Options given to the hook; ``None`` values mean "not given".
    :param extras: The connection's extras (other keys are ignored).
    :param environ: The environment to read ``BOMBORA_RETRY_WAIT_MULTIPLIER`` from.
    :raises BomboraConfigError: naming the option and where it came from when a value is invalid.
    """
    given: dict[str, tuple[Any, str]] = {}
    if RETRY_WAIT_MULTIPLIER_ENV in environ:
        given["retry_wait_multiplier"] = (
            environ[RETRY_WAIT_MULTIPLIER_ENV],
            f"environment variable {RETRY_WAIT_MULTIPLIER_ENV}",
        )
    for source, values in (("connection extra", extras), ("hook argument", arguments)):
        for name in OPTION_NAMES:
            if values.get(name) is not None:
                given[name] = (values[name], source)
    return ClientOptions(
        **{name: _OPTION_PARSERS[name](name, value, source) for name, (value, source) in given.items()}
    )


def _is_loopback(hostname: str) -> bool:
    if hostname.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def resolve_base_url(host: str | None, port: int | None = None) -> str:
    """Turn a connection's host into the API base URL every path is appended to.

    An empty host means ``https://api.bombora.com``; a host without a scheme means https; a path
    prefix (a proxy) is kept; a trailing slash is dropped; ``port`` is used when the host has none.

    :raises BomboraConfigError: for a scheme other than https, or plain http to a host that is
        not loopback (the client secret would cross the network in clear text).
    """
    host = (host or "").strip()
    if not host:
        return DEFAULT_BASE_URL
    url = urlsplit(host if "://" in host else f"https://{host}")
    scheme = url.scheme.lower()
    if scheme not in ("https", "http"):
        raise BomboraConfigError(f"API base URL {host!r} must start with https://")
    try:
        hostname, url_port = url.hostname, url.port
    except ValueError as error:  # a port that is not a number
        raise BomboraConfigError(f"API base URL {host!r} is not a valid URL: {error}") from None
    if not hostname:
        raise BomboraConfigError(f"API base URL {host!r} has no host name")
    if url.username or url.password:
        raise BomboraConfigError(
            "API base URL must not contain credentials: put the Client ID in login and the "
            "Client secret in password"
        )
    if url.query or url.fragment:
        raise BomboraConfigError(f"API base URL {host!r} must not contain a query or fragment")
    if scheme == "http" and not _is_loopback(hostname):
        raise BomboraConfigError(
            f"API base URL {host!r} uses plain http: the Client secret and access token would cross "
            "the network in clear text. Use https:// (plain http is accepted only for loopback "
            "hosts: 127.0.0.0/8, ::1, localhost)."
        )
    netloc = url.netloc if url_port is not None or not port else f"{url.netloc}:{port}"
    return f"{scheme}://{netloc}{url.path.rstrip('/')}"


# --- Errors and waits -----------------------------------------------------------------------


def shorten(text: str, limit: int = _EXCERPT_LENGTH) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def redact(text: str, secrets: Iterable[str | None]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def describe_error_body(body: bytes | str | None) -> str | None:
    """A short, readable summary of an error answer: its ``message`` and ``errors``, or an excerpt."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else (body or "")
    text = text.strip()
    if not text:
        return None
    try:
        payload = json.loads(text)
    except ValueError:
        return shorten(" ".join(text.split()))
    if not isinstance(payload, dict) or not payload.keys() & {"message", "errors"}:
        return shorten(_compact_json(payload))
    parts = []
    if payload.get("message") is not None:
        parts.append(shorten(str(payload["message"])))
    if payload.get("errors"):
        parts.append("errors: " + shorten(_compact_json(payload["errors"])))
    return "; ".join(parts) or None


def error_for_response(
    status: int,
    body: bytes | str | None,
    *,
    method: str,
    path: str,
    secrets: Iterable[str | None] = (),
) -> BomboraApiError:
    """The exception for an error answer: 401/403 auth, 404 not found, 409 pending update, else API error.

    :param status: The HTTP status.
    :param body: The answer's body (a ``{"message": ...}`` JSON object, or anything else).
    :param method: The request's HTTP method.
    :param path: The request's path (without the host).
    :param secrets: Strings to replace by ``***`` should the server echo them.
    """
    message = describe_error_body(body)
    if message is not None:
        message = redact(message, secrets)
    return _ERROR_CLASSES.get(status, BomboraApiError)(message, status=status, method=method, path=path)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delay-seconds or HTTP date); None if unusable.

    :param value: The header's value.
    :param now: The current time for an HTTP date (default: now, UTC).
    """
    if not value:
        return None
    seconds = _as_number(value)
    if seconds is not None:
        return max(seconds, 0.0)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=timezone.utc)
    return max((when - (now or datetime.now(timezone.utc))).total_seconds(), 0.0)


def retry_wait_seconds(attempt: int, retry_after: float | None, options: ClientOptions) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    The server's ``Retry-After`` when given, else exponential backoff (1 s, 2 s, 4 s, ...) plus up
    to 1 s of random jitter so that parallel tasks do not retry in step; capped at
    ``max_retry_wait``, then scaled by ``retry_wait_multiplier``.
    """
    if retry_after is None:
        wait = _BACKOFF_INITIAL * 2 ** (attempt - 1) + random.uniform(0, _BACKOFF_JITTER)
    else:
        wait = retry_after
    return min(wait, options.max_retry_wait) * options.retry_wait_multiplier


# --- The hook -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionSettings:
    """What the hook read from its connection (once) and its options."""

    base_url: str
    client_id: str
    client_secret: str = field(repr=False)
    options: ClientOptions


@dataclass(frozen=True)
class AccessToken:
    value: str = field(repr=False)
    refresh_at: float  # time.monotonic() after which a new token is fetched


class TransientFailure(Exception):
    """One attempt failed in a way worth retrying; ``error`` is raised once attempts run out."""

    def __init__(self, error: BomboraApiError, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.error = error
        self.reason = reason
        self.retry_after = retry_after


def _failure_of(state: RetryCallState) -> TransientFailure:
    """The failure of the attempt tenacity is about to retry (only those are retried)."""
    assert state.outcome is not None
    failure = state.outcome.exception()
    assert isinstance(failure, TransientFailure)
    return failure


def is_object(answer: Any) -> bool:
    return isinstance(answer, dict)


def _has_id(answer: Any) -> bool:
    return isinstance(answer, dict) and isinstance(answer.get("id"), str) and answer["id"] != ""


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _accounts_body(domains: list[str]) -> bytes:
    """``[{"domain": ...}, ...]``: the bytes ``_json_bytes`` gives for it, five times faster (no dict
    per account). Normalised domains need no JSON escaping, which one scan of the batch shows;
    anything else goes through the json module's own string encoder."""
    text = "".join(domains)
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return ('[{"domain":"' + '"},{"domain":"'.join(domains) + '"}]').encode()
    return ('[{"domain":' + '},{"domain":'.join(map(encode_basestring_ascii, domains)) + "}]").encode()


def list_path(list_id: str, suffix: str = "") -> str:
    if not isinstance(list_id, str) or not list_id:
        raise BomboraValidationError("list_id", f"must be a non-empty string, got {list_id!r}")
    # safe="" also quotes "/", so an id can never point at another resource.
    return f"{ACCOUNT_LISTS_PATH}/{quote(list_id, safe='')}{suffix}"


def _unique_batches(values: Iterable[str], batch_size: int, name: str) -> Iterator[list[str]]:
    """Batches of at most ``batch_size`` distinct values, read lazily from ``values``.

    Bombora rejects a whole request whose body repeats an identifier, so repeats within a batch
    are dropped; a value repeated in a later batch is sent again, which is a harmless update.
    """
    is_whole = isinstance(batch_size, int) and not isinstance(batch_size, bool)
    if not is_whole or not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise BomboraConfigError(
            f"batch_size must be a whole number from 1 to {MAX_BATCH_SIZE}, got {batch_size!r}"
        )
    if isinstance(values, (str, bytes)):
        raise BomboraValidationError(name, "expected an iterable of strings, not a single string")
    batch: dict[str, None] = {}  # a dict keeps the first-seen order and ignores repeats
    items = iter(values)
    # Whole chunks at a time, checked and de-duplicated by C code: per-item Python work is
    # what separates the upload from a bare session's speed. islice reads no further ahead
    # than the batch being filled.
    while chunk := list(islice(items, batch_size - len(batch))):
        if set(map(type, chunk)) != {str} or "" in chunk:
            for value in chunk:  # the slow check, for str subclasses and to name the culprit
                if not isinstance(value, str) or not value:
                    raise BomboraValidationError(name, f"every item must be a non-empty string, got {value!r:.60}")
        if batch:
            batch.update(dict.fromkeys(chunk))
        else:
            batch = dict.fromkeys(chunk)
        if len(batch) == batch_size:
            yield list(batch)
            batch = {}
    if batch:
        yield list(batch)


_JSON_WHITESPACE = re.compile(r"[ \t\n\r]*")


class AccountDomains:
    """The JSON array of domains of a domains answer, decoded lazily; iterable any number of times."""

    def __init__(self, text: str, path: str) -> None:
        self._text = text
        self._path = path

    def __iter__(self) -> Iterator[str]:
        text, skip = self._text, _JSON_WHITESPACE.match
        index = skip(text).end()
        if text[index : index + 1] != "[":
            raise self._unexpected(index)
        index = skip(text, index + 1).end()
        if text[index : index + 1] == "]":
            index = skip(text, index + 1).end()
        else:
            while True:
                if text[index : index + 1] != '"':
                    raise self._unexpected(index)
                try:
                    domain, index = scanstring(text, index + 1)
                except ValueError:
                    raise self._unexpected(index) from None
                yield domain
                index = skip(text, index).end()
                separator = text[index : index + 1]
                index = skip(text, index + 1).end()
                if separator == "]":
                    break
                if separator != ",":
                    raise self._unexpected(index - 1)
        if index != len(text):
            raise self._unexpected(index)

    def _unexpected(self, index: int) -> BomboraApiError:
        excerpt = shorten(self._text[max(index - 20, 0) : index + 20], 60)
        return BomboraApiError(
            f"unexpected answer: expected an array of domains, got ...{excerpt}... at character {index}",
            status=200,
            method="GET",
            path=self._path,
        )


class BomboraHook(BaseHook):
    """Talk to the Bombora API with the Client ID and Client secret of an Airflow connection.

    Constructing the hook reads nothing and sends nothing (DAG files build hooks when parsed):
    the connection is read on first use. One hook may be shared by several threads.

    Connection fields: login = Client ID, password = Client secret, host = API base URL
    (default ``https://api.bombora.com``). Extras ``connect_timeout``, ``timeout``,
    ``max_attempts``, ``max_retry_wait``, ``retry_wait_multiplier`` and ``verify`` set the
    options of :class:`ClientOptions`; arguments given here win over extras.

    :param bombora_conn_id: The Airflow connection to use.
    :param timeout: Read timeout in seconds (default 60).
    :param connect_timeout: Connect timeout in seconds (default 10).
    :param max_attempts: Tries of one request in total (default 5).
    :param max_retry_wait: Longest single wait between attempts in seconds (default 60).
    :param retry_wait_multiplier: Test-only factor from 0 to 1 applied to every wait (default 1).
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
        retry_wait_multiplier: float | None = None,
        verify: bool | str | None = None,
    ) -> None:
        super().__init__()
        self.bombora_conn_id = bombora_conn_id
        self._arguments = {
            "timeout": timeout,
            "connect_timeout": connect_timeout,
            "max_attempts": max_attempts,
            "max_retry_wait": max_retry_wait,
            "retry_wait_multiplier": retry_wait_multiplier,
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
        token = access_token_from_answer(
            self.bombora_conn_id, settings, response.status_code, response.content, requested_at
        )
        mask_secret(token.value)
        return token

    # --- Requests ---

    def _sleep(self, seconds: float) -> None:
        """Wait between attempts; unit tests replace this to record the waits."""
        time.sleep(seconds)

    def _secrets(self) -> tuple[str | None, ...]:
        token = self._token
        return (self._get_settings().client_secret, token.value if token else None)

    def _send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> requests.Response:
        """Send one request with retries; return the last answer that is not worth retrying.

        :raises BomboraApiError: when every attempt failed (status ``None`` if no answer came).
        """
        options = self._get_settings().options
        retrying = Retrying(**retry_policy(options, method, path, self.log), sleep=self._sleep)
        try:
            return retrying(self._send_once, method, path, body, headers)
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
        except requests.exceptions.SSLError as error:
            # A certificate problem does not go away by retrying.
            raise BomboraApiError(self._reason(error), method=method, path=path) from error
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,  # the connection dropped while reading the answer
        ) as error:
            reason = self._reason(error)
            raise TransientFailure(BomboraApiError(reason, method=method, path=path), reason) from error
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
    ) -> Any:
        """Send an authenticated request and return its decoded JSON answer (``None`` if empty).

        A 401 gets one new token and one repeat of the request: tokens expire or are revoked.

        :param check: Tells whether the decoded answer has the documented shape.
        :param expected: What ``check`` expects, for the error message.
        """
        response = self._authorized(method, path, body)
        return decode_answer(
            response.status_code,
            response.content,
            method=method,
            path=path,
            secrets=self._secrets(),
            check=check,
            expected=expected,
        )

    def _authorized(self, method: str, path: str, body: bytes | None = None) -> requests.Response:
        """Send a request with the access token; return the successful answer.

        A 401 gets one new token and one repeat of the request: tokens expire or are revoked.
        """
        headers = {"Content-Type": "application/json"} if body is not None else {}
        token = self._current_token()
        response = self._send(method, path, body, {**headers, "Authorization": f"Bearer {token}"})
        if response.status_code == 401:
            self.log.info("Bombora refused the access token for %s %s; getting a new one", method, path)
            token = self._renew_token(refused=token)
            response = self._send(method, path, body, {**headers, "Authorization": f"Bearer {token}"})
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
        body = _json_bytes({"type": type, "metadata": metadata, "specification": {}})
        payload = self._call(
            "POST",
            ACCOUNT_LISTS_PATH,
            body,
            check=_has_id,
            expected='{"id": "<new list id>"}',
        )
        return payload["id"]

    def get_account_list(self, list_id: str) -> dict[str, Any]:
        """The AccountListDefinition (``type``, ``metadata``, ``specification``, ``accountsLastModified``)."""
        return self._call("GET", list_path(list_id), check=is_object, expected="an account list definition")

    def update_account_list(self, list_id: str, definition: dict[str, Any]) -> dict[str, Any]:
        """Replace a list's definition (``type`` and ``parentId`` cannot change); return the stored one."""
        return self._call(
            "PUT",
            list_path(list_id),
            _json_bytes(definition),
            check=is_object,
            expected="an account list definition",
        )

    def delete_account_list(self, list_id: str) -> None:
        """Delete an account list (409 :class:`BomboraPendingUpdateError` if a Derived list depends on it)."""
        self._call("DELETE", list_path(list_id))

    def add_accounts(
        self,
        list_id: str,
        domains: Iterable[str],
        batch_size: int = 1000,
        *,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Add (or update) accounts identified by domain, in batches; return how many were sent.

        ``domains`` is read lazily (a generator works; only one batch is held in memory). Repeats
        within a batch are dropped, since Bombora rejects a body that repeats an identifier.
        Bombora applies the upload asynchronously (``pendingUpdate``). An invalid item raises
        :class:`BomboraValidationError` when reached, after the batches before it were sent.

        :param list_id: The Manual account list to add to.
        :param domains: Bare domains, e.g. ``acme.com``.
        :param batch_size: Accounts per request, 1 to 10000.
        :param progress: Called after each batch with the number of accounts sent so far.
        """
        path = list_path(list_id, "/accounts")
        sent = 0
        for batch in _unique_batches(domains, batch_size, "domains"):
            self._call("POST", path, _accounts_body(batch))
            sent += len(batch)
            if progress is not None:
                progress(sent)
        return sent

    def delete_accounts(
        self,
        list_id: str,
        ids: Iterable[str],
        batch_size: int = 1000,
        *,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Remove accounts by identifier (the domain, unless added with an ``id``); return how many were sent.

        Same batching rules as :meth:`add_accounts`. Answered 409 (:class:`BomboraPendingUpdateError`)
        while an update of the list is pending.

        :param list_id: The account list to remove from.
        :param ids: Account identifiers.
        :param batch_size: Identifiers per request, 1 to 10000.
        :param progress: Called after each batch with the number of identifiers sent so far.
        """
        path = list_path(list_id, "/delete-accounts")
        sent = 0
        for batch in _unique_batches(ids, batch_size, "ids"):
            self._call("POST", path, _json_bytes({"ids": batch}))
            sent += len(batch)
            if progress is not None:
                progress(sent)
        return sent

    def empty_account_list(self, list_id: str) -> None:
        """Remove every account from a list (idempotent; 409 while an update is pending)."""
        self._call("DELETE", list_path(list_id, "/accounts"))

    def get_account_domains(self, list_id: str) -> list[str]:
        """All distinct domains in a list."""
        return self._call(
            "GET",
            list_path(list_id, "/accounts/domains"),
            check=lambda answer: isinstance(answer, list),
            expected="an array of domains",
        )

    def iter_account_domains(self, list_id: str) -> AccountDomains:
        """All distinct domains in a list, as :meth:`get_account_domains`, but kept as the answer's
        text and decoded one domain at a time at each iteration: a list of millions of domains
        is never held as millions of Python strings (a third of an activation's memory)."""
        path = list_path(list_id, "/accounts/domains")
        answer = self._authorized("GET", path).content
        try:
            text = answer.decode("utf-8")
        except UnicodeDecodeError:
            raise BomboraApiError("the answer is not UTF-8 JSON", status=200, method="GET", path=path) from None
        return AccountDomains(text, path)

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
        except Exception as error:  # the UI wants an answer, whatever went wrong
            secret = self._settings.client_secret if self._settings else None
            return False, shorten(redact(f"{type(error).__name__}: {error}", (secret,)))
        visible = len(account_lists)
        return True, f"Connected to Bombora at {settings.base_url}: {visible} account lists visible"



# --- Rules shared with the asynchronous hook (hooks/bombora_async.py) -----------------------
# BomboraHook and BomboraAsyncHook differ only in how bytes cross the network; what a
# connection must hold, how a token answer is read, when to retry and how an answer is
# checked are decided here, once.


def connection_settings(
    conn_id: str, conn: Any, extras: Mapping[str, Any], arguments: Mapping[str, Any], log: Any
) -> ConnectionSettings:
    """Check a connection a hook has read (and whose secret it has masked), and merge its options.

    :param conn_id: The connection's id, for messages.
    :param conn: The connection (``login``, ``password``, ``host``, ``port``).
    :param extras: Its decoded extras.
    :param arguments: Options given to the hook (see :func:`resolve_options`).
    :param log: Where to warn about unknown extras.
    :raises BomboraConfigError: naming the connection and what to fix.
    """
    where = f"Connection {conn_id!r}"
    if not conn.login:
        raise BomboraConfigError(
            f"{where} has no Client ID (login): set login to the Client ID (Key) of your Bombora app"
        )
    if not conn.password:
        raise BomboraConfigError(
            f"{where} has no Client secret (password): "
            "set password to the Client secret of your Bombora app"
        )
    try:
        base_url = resolve_base_url(conn.host, conn.port)
        options = resolve_options(arguments, extras)
    except BomboraConfigError as error:
        raise BomboraConfigError(f"{where}: {error}") from None
    unknown = sorted(set(extras) - set(OPTION_NAMES))
    if unknown:
        log.warning("%s: ignoring unknown extras %s", where, ", ".join(unknown))
    return ConnectionSettings(base_url=base_url, client_id=conn.login, client_secret=conn.password, options=options)


def token_request_body(settings: ConnectionSettings) -> bytes:
    """The JSON body of ``POST /oauth/token`` (client credentials, no grant type or scope)."""
    return _json_bytes({"client_id": settings.client_id, "client_secret": settings.client_secret})


def access_token_from_answer(
    conn_id: str, settings: ConnectionSettings, status: int, body: bytes, requested_at: float
) -> AccessToken:
    """The token of a ``POST /oauth/token`` answer, due for refresh shortly before it expires.

    The caller masks the token's value before anything can log it.

    :param conn_id: The connection's id, for messages.
    :param settings: The connection's settings (its credentials are redacted from messages).
    :param status: The answer's HTTP status (retryable ones were retried before).
    :param body: The answer's body.
    :param requested_at: ``time.monotonic()`` when the request was sent.
    :raises BomboraAuthError: when Bombora refused the credentials (400, 401, 403).
    :raises BomboraApiError: for any other error, or an answer without ``access_token``.
    """
    if status in (400, 401, 403):
        detail = describe_error_body(body)
        detail = f": {redact(detail, (settings.client_id, settings.client_secret))}" if detail else ""
        raise BomboraAuthError(
            f"Bombora refused the Client ID or Client secret of connection {conn_id!r} "
            f"(HTTP {status}{detail}); check its login and password",
            status=status,
            method="POST",
            path=TOKEN_PATH,
        )
    if status >= 300:
        raise error_for_response(status, body, method="POST", path=TOKEN_PATH, secrets=(settings.client_secret,))
    payload = decode_answer(status, body, method="POST", path=TOKEN_PATH, secrets=(settings.client_secret,))
    token = payload.get("access_token") if isinstance(payload, dict) else None
    if not isinstance(token, str) or not token:
        raise BomboraApiError("the token answer has no access_token", status=status, method="POST", path=TOKEN_PATH)
    lifetime = _as_number(payload.get("expires_in"))
    if lifetime is None or lifetime <= 0:
        # Without a lifetime the token is used until Bombora refuses it (401 renews it).
        return AccessToken(token, refresh_at=math.inf)
    return AccessToken(token, refresh_at=requested_at + lifetime - min(60.0, lifetime / 10))


def decode_answer(
    status: int,
    body: bytes,
    *,
    method: str,
    path: str,
    secrets: Iterable[str | None],
    check: Callable[[Any], bool] | None = None,
    expected: str = "",
) -> Any:
    """The decoded JSON of a successful answer (``None`` if empty), checked to have the documented shape.

    :param check: Tells whether the decoded answer has the documented shape.
    :param expected: What ``check`` expects, for the error message.
    :raises BomboraApiError: for an answer that is not JSON or fails ``check``.
    """
    payload = None
    if body:
        try:
            payload = json.loads(body)
        except ValueError:
            text = body.decode("utf-8", errors="replace")
            excerpt = shorten(redact(" ".join(text.split()), secrets))
            raise BomboraApiError(
                f"the answer is not JSON: {excerpt}", status=status, method=method, path=path
            ) from None
    if check is not None and not check(payload):
        raise BomboraApiError(
            f"unexpected answer: expected {expected}, got {shorten(_compact_json(payload), 100)}",
            status=status,
            method=method,
            path=path,
        )
    return payload


def retry_policy(options: ClientOptions, method: str, path: str, log: Any) -> dict[str, Any]:
    """tenacity's arguments, all but ``sleep``, for one request (``Retrying`` and ``AsyncRetrying`` alike).

    Attempts that raise ``TransientFailure`` are retried up to ``max_attempts`` in total, waiting
    as :func:`retry_wait_seconds` says; each retry is logged as a warning.
    """

    def log_retry(state: RetryCallState) -> None:
        log.warning(
            "Bombora API %s %s: %s (attempt %d of %d); retrying in %.2f s",
            method,
            path,
            _failure_of(state).reason,
            state.attempt_number,
            options.max_attempts,
            state.next_action.sleep if state.next_action else 0.0,
        )

    return {
        "stop": stop_after_attempt(options.max_attempts),
        "retry": retry_if_exception_type(TransientFailure),
        "wait": lambda state: retry_wait_seconds(state.attempt_number, _failure_of(state).retry_after, options),
        "before_sleep": log_retry,
        "reraise": True,
    }


def raise_for_retryable_status(
    status: int, body: bytes, retry_after: str | None, *, method: str, path: str, secrets: Iterable[str | None]
) -> None:
    """Raise ``TransientFailure`` for an answer worth another attempt (429, 5xx).

    :param retry_after: The answer's ``Retry-After`` header, if any.
    """
    if status in RETRYABLE_STATUSES:
        raise TransientFailure(
            error_for_response(status, body, method=method, path=path, secrets=secrets),
            f"HTTP {status}",
            retry_after_seconds(retry_after),
        )


def is_transient_error(error: BomboraApiError) -> bool:
    """Whether a request that failed after all its attempts may succeed later: rate limiting, a 5xx,
    or no answer at all (connection refused or dropped, timeout; a TLS failure cannot be told apart)."""
    return error.status is None or error.status in RETRYABLE_STATUSES


def is_account_lists_answer(answer: Any) -> bool:
    """Whether ``GET /account-list`` answered one of its documented shapes."""
    return isinstance(answer, list) or (isinstance(answer, dict) and isinstance(answer.get("accountLists"), list))


ACCOUNT_LISTS_ANSWER = 'an array of account lists or {"accountLists": [...]}'


def account_lists_of(answer: list | dict) -> list[dict[str, Any]]:
    """The summaries of a ``GET /account-list`` answer: a bare array, or ``{"accountLists": [...]}``."""
    return answer if isinstance(answer, list) else answer["accountLists"]


def select_account_list(summaries: Iterable[dict[str, Any]], name: str) -> dict[str, Any] | None:
    """The summary named exactly ``name`` (case-sensitive), or None.

    :raises BomboraApiError: if several lists have that name: Bombora keeps names unique,
        and picking one could write to the wrong list.
    """
    matches = [summary for summary in summaries if summary.get("name") == name]
    if len(matches) > 1:
        raise BomboraApiError(
            f"{len(matches)} account lists are named {name!r} (ids "
            f"{', '.join(str(match.get('id')) for match in matches)}); names should be unique",
            status=200,
            method="GET",
            path=ACCOUNT_LISTS_PATH,
        )
    return matches[0] if matches else None
