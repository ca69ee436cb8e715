"""The rules both hooks follow around each request: when to retry and how long to wait, how an
error answer or a failed connection becomes an exception, and how a token answer is read.

:class:`~airflow_provider_bombora.hooks.bombora.BomboraHook` (requests) and
:class:`~airflow_provider_bombora.hooks.bombora_async.BomboraAsyncHook` (httpx) differ only in
how bytes cross the network; everything they decide is decided here, once. No HTTP library is
imported: the hooks hand in statuses, bodies, headers and exceptions.
"""

from __future__ import annotations

import email.utils
import json
import math
import random
import socket
import ssl
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from tenacity import RetryCallState, retry_if_exception_type, stop_after_attempt

from airflow_provider_bombora.exceptions import (
    RETRYABLE_STATUSES,
    BomboraApiError,
    BomboraAuthError,
    BomboraConflictError,
    BomboraNotFoundError,
    BomboraPendingUpdateError,
    shorten,
)
from airflow_provider_bombora.hooks.settings import BASE_URL_FIELD, ClientOptions, ConnectionSettings
from airflow_provider_bombora.hooks.wire import ACCOUNT_LISTS_PATH, TOKEN_PATH, compact_json, json_bytes
from airflow_provider_bombora.parameters import as_number

# First backoff wait in seconds (doubled at each attempt) and the random jitter added to it.
BACKOFF_INITIAL = 1.0
BACKOFF_JITTER = 1.0

_ERROR_CLASSES: dict[int, type[BomboraApiError]] = {
    401: BomboraAuthError,
    403: BomboraAuthError,
    404: BomboraNotFoundError,
    409: BomboraConflictError,
}


# --- Error answers ----------------------------------------------------------------------------


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
        return shorten(compact_json(payload))
    parts = []
    if payload.get("message") is not None:
        parts.append(shorten(str(payload["message"])))
    if payload.get("errors"):
        parts.append("errors: " + shorten(compact_json(payload["errors"])))
    return "; ".join(parts) or None


def error_for_response(
    status: int,
    body: bytes | str | None,
    *,
    method: str,
    path: str,
    secrets: Iterable[str | None] = (),
) -> BomboraApiError:
    """The exception for an error answer: 401/403 auth, 404 not found, 409 conflict (a pending
    update for an account list), else API error.

    :param status: The HTTP status.
    :param body: The answer's body (a ``{"message": ...}`` JSON object, or anything else).
    :param method: The request's HTTP method.
    :param path: The request's path (without the host).
    :param secrets: Strings to replace by ``***`` should the server echo them.
    """
    message = describe_error_body(body)
    if message is not None:
        message = redact(message, secrets)
    error_class = _ERROR_CLASSES.get(status, BomboraApiError)
    if status == 409 and path.startswith(ACCOUNT_LISTS_PATH):
        error_class = BomboraPendingUpdateError
    return error_class(message, status=status, method=method, path=path)


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
            f"unexpected answer: expected {expected}, got {shorten(compact_json(payload), 100)}",
            status=status,
            method=method,
            path=path,
        )
    return payload


# --- Failed connections -----------------------------------------------------------------------


def _causes(error: BaseException) -> Iterator[BaseException]:
    """``error`` and what led to it: chained exceptions, and the exceptions HTTP libraries keep in
    ``args`` or ``reason`` (requests wraps urllib3's, which wraps the socket's)."""
    pending, seen = [error], set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        pending.extend(item for item in linked if isinstance(item, BaseException))


def transport_failure_reason(error: BaseException, settings: ConnectionSettings, secrets: Iterable[str | None]) -> str:
    """Why no answer came, in one line that names the connection and the fix.

    A bare library chain ("HTTPSConnectionPool(...): Max retries exceeded ... NewConnectionError
    (...)") names neither; the root cause in the chain says what happened.
    """
    causes = list(_causes(error))
    where = settings.describe()
    if any("WRONG_VERSION_NUMBER" in str(cause) or "record layer failure" in str(cause) for cause in causes):
        return (
            f"{where}: the server does not speak TLS (https). If it is a plain-http server on this "
            f"machine, such as the sandbox, write the {BASE_URL_FIELD} with http://"
        )
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return (
                f"{where}: its TLS certificate is not trusted ({shorten(cause.verify_message or str(cause), 120)}); "
                "set the verify extra to the path of the CA bundle that signed it"
            )
        if isinstance(cause, ConnectionRefusedError):
            return f"{where}: connection refused (nothing listens there); check the {BASE_URL_FIELD}"
        if isinstance(cause, socket.gaierror):
            return f"{where}: the host name was not found; check the {BASE_URL_FIELD}"
    if any(isinstance(cause, TimeoutError) or "timed out" in str(cause).lower() for cause in causes):
        detail = shorten(redact(f"{type(error).__name__}: {error}", secrets), 120)
        return f"{where}: timed out ({detail}); raise the timeout extras if Bombora is slow"
    return f"{where}: {shorten(redact(f'{type(error).__name__}: {error}', secrets), 200)}"


def is_tls_failure(error: BaseException) -> bool:
    """Whether a failed connection was a TLS problem, which retrying does not solve."""
    return any(isinstance(cause, ssl.SSLError) for cause in _causes(error))


# --- Retries ----------------------------------------------------------------------------------


class TransientFailure(Exception):
    """One attempt failed in a way worth retrying; ``error`` is raised once attempts run out."""

    def __init__(self, error: BomboraApiError, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.error = error
        self.reason = reason
        self.retry_after = retry_after


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delay-seconds or HTTP date); None if unusable.

    :param value: The header's value.
    :param now: The current time for an HTTP date (default: now, UTC).
    """
    if not value:
        return None
    seconds = as_number(value)
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
    to 1 s of random jitter so that parallel tasks do not retry in step; capped at ``max_retry_wait``.
    """
    if retry_after is None:
        wait = BACKOFF_INITIAL * 2 ** (attempt - 1) + random.uniform(0, BACKOFF_JITTER)
    else:
        wait = retry_after
    return min(wait, options.max_retry_wait)


def _failure_of(state: RetryCallState) -> TransientFailure:
    """The failure of the attempt tenacity is about to retry (only those are retried)."""
    assert state.outcome is not None
    failure = state.outcome.exception()
    assert isinstance(failure, TransientFailure)
    return failure


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


# --- Tokens -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessToken:
    value: str = field(repr=False)
    refresh_at: float  # time.monotonic() after which a new token is fetched


def token_request_body(settings: ConnectionSettings) -> bytes:
    """The JSON body of ``POST /oauth/token`` (client credentials, no grant type or scope)."""
    return json_bytes({"client_id": settings.client_id, "client_secret": settings.client_secret})


def access_token_from_answer(
    settings: ConnectionSettings, status: int, body: bytes, requested_at: float
) -> AccessToken:
    """The token of a ``POST /oauth/token`` answer, due for refresh shortly before it expires.

    The caller masks the token's value before anything can log it.

    :param settings: The connection's settings (its credentials are redacted from messages).
    :param status: The answer's HTTP status (retryable ones were retried before).
    :param body: The answer's body.
    :param requested_at: ``time.monotonic()`` when the request was sent.
    :raises BomboraAuthError: when Bombora refused the credentials (400, 401, 403).
    :raises BomboraApiError: for any other error, or an answer without ``access_token``.
    """
    secrets = (settings.client_id, settings.client_secret)
    if status in (400, 401, 403):
        detail = describe_error_body(body)
        detail = f": {redact(detail, secrets)}" if detail else ""
        raise BomboraAuthError(
            f"Bombora refused the Client ID or Client secret of {settings.describe()} "
            f"(HTTP {status}{detail}); check its login and password",
            status=status,
            method="POST",
            path=TOKEN_PATH,
        )
    if status >= 300:
        raise error_for_response(status, body, method="POST", path=TOKEN_PATH, secrets=secrets)
    payload = decode_answer(status, body, method="POST", path=TOKEN_PATH, secrets=secrets)
    token = payload.get("access_token") if isinstance(payload, dict) else None
    if not isinstance(token, str) or not token:
        raise BomboraApiError("the token answer has no access_token", status=status, method="POST", path=TOKEN_PATH)
    lifetime = as_number(payload.get("expires_in"))
    if lifetime is None or lifetime <= 0:
        # Without a lifetime the token is used until Bombora refuses it (401 renews it).
        return AccessToken(token, refresh_at=math.inf)
    return AccessToken(token, refresh_at=requested_at + lifetime - min(60.0, lifetime / 10))
