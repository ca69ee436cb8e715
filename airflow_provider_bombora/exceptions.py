"""Exceptions raised by the Bombora provider.

Every exception derives from :class:`BomboraError`, so ``except BomboraError`` catches all of
them. This module imports nothing from Airflow or HTTP libraries: the pure modules use it too.
No message built here ever contains a client secret or an access token.
"""

from __future__ import annotations

#: Answers worth another attempt: rate limiting and transient server or gateway failures.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})

#: Longest excerpt of a value or an answer kept in a message.
EXCERPT_LENGTH = 300


def shorten(text: str, limit: int = EXCERPT_LENGTH) -> str:
    """``text`` cut to ``limit`` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class BomboraError(Exception):
    """Root of every exception this provider raises."""


class BomboraConfigError(BomboraError, ValueError):
    """A connection or parameter is unusable; raised before any request is sent."""


class BomboraValidationError(BomboraError, ValueError):
    """A task parameter (mappings, audience origin, name, ...) is invalid.

    ``field`` names the parameter at fault so that the message can say what to fix.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.problem = message
        super().__init__(f"{field}: {message}")


class BomboraApiError(BomboraError):
    """The Bombora API answered with an error, or could not be reached.

    ``status`` is the HTTP status (``None`` when no answer came: connection error, timeout),
    ``method`` and ``path`` name the request, ``message`` is the server's ``message`` field,
    ``attempts`` how many tries were made when retries ran out (``None`` otherwise).
    """

    def __init__(
        self,
        message: str | None,
        *,
        status: int | None = None,
        method: str | None = None,
        path: str | None = None,
        attempts: int | None = None,
    ) -> None:
        self.status = status
        self.method = method
        self.path = path
        self.message = message
        self.attempts = attempts
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = " ".join(part for part in (self.method, self.path) if part)
        status = f"HTTP {self.status}" if self.status is not None else "no answer"
        tries = f" after {self.attempts} attempts" if self.attempts else ""
        detail = f": {self.message}" if self.message else ""
        return f"Bombora API {where} failed ({status}){tries}{detail}"

    def after_attempts(self, attempts: int) -> BomboraApiError:
        """The same error, saying that it is the last of ``attempts`` tries."""
        return type(self)(self.message, status=self.status, method=self.method, path=self.path, attempts=attempts)


def is_transient_error(error: BomboraError) -> bool:
    """Whether a request that failed after all its attempts may succeed later: rate limiting, a 5xx,
    or no answer at all (connection refused or dropped, timeout; a TLS failure cannot be told apart)."""
    return isinstance(error, BomboraApiError) and (error.status is None or error.status in RETRYABLE_STATUSES)


class BomboraAuthError(BomboraApiError):
    """Authentication or authorisation failed (bad credentials, 401 after a fresh token, 403)."""


class BomboraNotFoundError(BomboraApiError):
    """The resource does not exist (404), e.g. a deleted account list."""


class BomboraConflictError(BomboraApiError):
    """409: the request conflicts with the resource's current state (a digital audience's external
    id is in use, or the audience is not suspended when asked to activate)."""


class BomboraPendingUpdateError(BomboraConflictError):
    """409 from the Account List API: the list has an update pending (or is in use); wait and try again."""


class BomboraAudienceConflictError(BomboraError):
    """The audience's account list belongs to another dataflow, or was not made by this provider."""


class StaleSnapshotError(BomboraError):
    """The list already holds a newer snapshot than this run's; applying it would go back in time."""


class BomboraExportStatusError(BomboraError):
    """An export will not become live as expected: its account list is missing, or it went live
    with another account total than the expected one."""


class BomboraExportTimeoutError(BomboraExportStatusError):
    """An export was still not live when the wait for it ran out of time."""


class BomboraDigitalAudienceError(BomboraError):
    """A digital audience will not become active as expected: it is suspended, or it does not exist."""


class BomboraDigitalAudienceTimeoutError(BomboraDigitalAudienceError):
    """A digital audience was still not active when the wait for it ran out of time."""


class IntentPageTokenError(BomboraApiError):
    """A page of intent data was answered 400: its page token expired (or is unknown). Ask for the
    data again (``BomboraHook.request_intent_data``) and read it from the first page."""
