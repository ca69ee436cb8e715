"""What a Bombora connection says: credentials, the API base URL, and the hook's options.

Both hooks (:mod:`.bombora` over requests, :mod:`.bombora_async` over httpx) read a connection
into :class:`ConnectionSettings` through :func:`connection_settings`, so that a connection is
checked, and its mistakes reported, the same way whichever hook reads it. No HTTP import here.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_bombora.exceptions import BomboraConfigError, BomboraValidationError
from airflow_provider_bombora.parameters import (
    validate_non_negative_seconds,
    validate_positive_seconds,
    validate_whole_number,
)

DEFAULT_BASE_URL = "https://api.bombora.com"
#: How messages name the connection's host field (its label in the connection form).
BASE_URL_FIELD = "API base URL"


@dataclass(frozen=True)
class ClientOptions:
    """How the hook talks to Bombora; every field can be set by a hook argument or a connection extra.

    :param connect_timeout: Seconds to wait for a TCP/TLS connection.
    :param timeout: Seconds to wait for the server between bytes of an answer (read timeout).
    :param max_attempts: Tries of one request in total, the first included.
    :param max_retry_wait: Longest single wait between attempts in seconds, ``Retry-After`` included.
    :param verify: TLS certificate verification: ``True``, ``False`` or a CA bundle path.
    """

    connect_timeout: float = 10.0
    timeout: float = 60.0
    max_attempts: int = 5
    max_retry_wait: float = 60.0
    verify: bool | str = True


def _verify(name: str, value: Any) -> bool | str:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if isinstance(value, str) and value and os.path.exists(value):
        return value
    raise BomboraValidationError(name, f"must be true, false or the path of an existing CA bundle, got {value!r}")


# Extras arrive as text from a URI connection: each parser reads numbers from text too.
_OPTION_PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "connect_timeout": validate_positive_seconds,
    "timeout": validate_positive_seconds,
    "max_attempts": lambda name, value: validate_whole_number(name, value, minimum=1),
    "max_retry_wait": validate_non_negative_seconds,
    "verify": _verify,
}
OPTION_NAMES = tuple(_OPTION_PARSERS)


def resolve_options(arguments: Mapping[str, Any], extras: Mapping[str, Any]) -> ClientOptions:
    """Merge and validate the options: hook arguments win over connection extras, extras over defaults.

    :param arguments: Options given to the hook; ``None`` values mean "not given".
    :param extras: The connection's extras (other keys are ignored).
    :raises BomboraConfigError: naming the option and where it came from when a value is invalid.
    """
    resolved: dict[str, Any] = {}
    for source, values in (("connection extra", extras), ("hook argument", arguments)):
        for name in OPTION_NAMES:
            if values.get(name) is not None:
                try:
                    resolved[name] = _OPTION_PARSERS[name](name, values[name])
                except BomboraValidationError as error:
                    raise BomboraConfigError(f"{name} ({source}): {error.problem}") from None
    return ClientOptions(**resolved)


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
        raise BomboraConfigError(f"{BASE_URL_FIELD} {host!r} must start with https://")
    try:
        hostname, url_port = url.hostname, url.port
    except ValueError as error:  # a port that is not a number
        raise BomboraConfigError(f"{BASE_URL_FIELD} {host!r} is not a valid URL: {error}") from None
    if not hostname:
        raise BomboraConfigError(f"{BASE_URL_FIELD} {host!r} has no host name")
    if url.username or url.password:
        raise BomboraConfigError(
            f"{BASE_URL_FIELD} must not contain credentials: put the Client ID in login and the "
            "Client secret in password"
        )
    if url.query or url.fragment:
        raise BomboraConfigError(f"{BASE_URL_FIELD} {host!r} must not contain a query or fragment")
    if scheme == "http" and not _is_loopback(hostname):
        raise BomboraConfigError(
            f"{BASE_URL_FIELD} {host!r} uses plain http: the Client secret and access token would cross "
            "the network in clear text. Use https:// (plain http is accepted only for loopback "
            "hosts: 127.0.0.0/8, ::1, localhost)."
        )
    netloc = url.netloc if url_port is not None or not port else f"{url.netloc}:{port}"
    return f"{scheme}://{netloc}{url.path.rstrip('/')}"


def is_loopback_url(url: str) -> bool:
    """Whether ``url`` (as :func:`resolve_base_url` gives it) points at this machine."""
    return _is_loopback(urlsplit(url).hostname or "")


@dataclass(frozen=True)
class ConnectionSettings:
    """What a hook read from its connection (once) and its options."""

    conn_id: str
    base_url: str
    client_id: str
    client_secret: str = field(repr=False)
    options: ClientOptions

    def describe(self) -> str:
        """How messages name where requests go: ``connection 'x' (API base URL https://...)``."""
        return f"connection {self.conn_id!r} ({BASE_URL_FIELD} {self.base_url})"


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
            f"{where} has no Client secret (password): set password to the Client secret of your Bombora app"
        )
    try:
        base_url = resolve_base_url(conn.host, conn.port)
        options = resolve_options(arguments, extras)
    except BomboraConfigError as error:
        raise BomboraConfigError(f"{where}: {error}") from None
    for name in sorted(set(extras) - set(OPTION_NAMES)):
        log.warning("%s: ignoring unknown extra %r%s", where, name, _did_you_mean(name, OPTION_NAMES))
    return ConnectionSettings(
        conn_id=conn_id, base_url=base_url, client_id=conn.login, client_secret=conn.password, options=options
    )


def _did_you_mean(name: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name.lower(), choices, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else "."
    return f"{hint} The options are {', '.join(choices)}."

