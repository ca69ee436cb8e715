"""Bodies out, answers in: the paths, request bodies and answer shapes of the Bombora API.

What goes on the wire is written once here for both hooks: the JSON of each request body,
account batches without repeated identifiers (Bombora rejects a whole body that repeats
one), the documented shapes of answers, and a lazy decoder for the domains of a list, which
may run to millions. No HTTP import.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from json.encoder import encode_basestring_ascii
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote

from airflow_provider_bombora import __version__
from airflow_provider_bombora.exceptions import BomboraApiError, BomboraValidationError, shorten
from airflow_provider_bombora.parameters import validate_batch_size

if TYPE_CHECKING:
    # typeshed declares the scanner only in _json; json.decoder's is the same function (or
    # its pure-Python stand-in where the C accelerator is missing).
    from _json import scanstring
else:
    from json.decoder import scanstring

USER_AGENT = f"airflow-provider-bombora/{__version__}"
TOKEN_PATH = "/oauth/token"
ACCOUNT_LISTS_PATH = "/account-list/v1/account-list"
DIGITAL_AUDIENCES_PATH = "/digital-audiences/v1"


def _segment(field: str, value: str) -> str:
    """``value`` as one path segment; safe="" also quotes "/", so it can never point at another resource."""
    if not isinstance(value, str) or not value:
        raise BomboraValidationError(field, f"must be a non-empty string, got {value!r}")
    return quote(value, safe="")


def account_list_path(account_list_id: str, suffix: str = "") -> str:
    """The path of one account list (and of ``suffix`` under it)."""
    return f"{ACCOUNT_LISTS_PATH}/{_segment('account_list_id', account_list_id)}{suffix}"


def data_exchange_path(data_exchange: str, suffix: str = "") -> str:
    """The path of a data exchange's digital audiences (and of ``suffix`` under it, e.g. ``/estimate``)."""
    return f"{DIGITAL_AUDIENCES_PATH}/{_segment('data_exchange', data_exchange)}{suffix}"


def digital_audience_path(data_exchange: str, external_id: str, partner_id: str, suffix: str = "") -> str:
    """The path of one digital audience, identified by its exchange, external id and partner id."""
    identity = f"/{_segment('external_id', external_id)}/{_segment('partner_id', partner_id)}"
    return data_exchange_path(data_exchange, identity + suffix)


# --- Bodies -----------------------------------------------------------------------------------


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def compact_json(value: Any) -> str:
    """One-line JSON for messages (anything not JSON shown as text)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def accounts_body(domains: list[str]) -> bytes:
    """``[{"domain": ...}, ...]``: the bytes ``json_bytes`` gives for it, five times faster (no dict
    per account). Normalised domains need no JSON escaping, which one scan of the batch shows;
    anything else goes through the json module's own string encoder."""
    text = "".join(domains)
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return ('[{"domain":"' + '"},{"domain":"'.join(domains) + '"}]').encode()
    return ('[{"domain":' + '},{"domain":'.join(map(encode_basestring_ascii, domains)) + "}]").encode()


def delete_accounts_body(ids: list[str]) -> bytes:
    """``{"ids": [...]}``."""
    return json_bytes({"ids": ids})


def unique_batches(values: Iterable[str], batch_size: int, name: str) -> Iterator[list[str]]:
    """Batches of at most ``batch_size`` distinct values, read lazily from ``values``.

    Bombora rejects a whole request whose body repeats an identifier, so repeats within a batch
    are dropped; a value repeated in a later batch is sent again, which is a harmless update.

    :param name: The parameter ``values`` came from, for errors.
    """
    batch_size = validate_batch_size(batch_size)
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


# --- Answers ----------------------------------------------------------------------------------


def is_object(answer: Any) -> bool:
    return isinstance(answer, dict)


def is_count(answer: Any) -> bool:
    """An estimate's answer: ``{"count": n}``."""
    return is_object(answer) and isinstance(answer.get("count"), int) and not isinstance(answer["count"], bool)


def has_id(answer: Any) -> bool:
    return isinstance(answer, dict) and isinstance(answer.get("id"), str) and answer["id"] != ""


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


# The pattern matches the empty string, so its match() never returns None.
_skip_json_whitespace = cast("Callable[..., re.Match[str]]", re.compile(r"[ \t\n\r]*").match)


class AccountDomains:
    """The JSON array of domains of a domains answer, decoded lazily; iterable any number of times.

    A list of millions of domains is never held as millions of Python strings (a third of an
    activation's memory): the answer's text is kept, and decoded one domain at a time.
    """

    def __init__(self, text: str, path: str) -> None:
        self._text = text
        self._path = path

    @classmethod
    def of_answer(cls, body: bytes, path: str) -> AccountDomains:
        """The domains of the answer ``body`` to ``GET path``."""
        try:
            return cls(body.decode("utf-8"), path)
        except UnicodeDecodeError:
            raise BomboraApiError("the answer is not UTF-8 JSON", status=200, method="GET", path=path) from None

    def __iter__(self) -> Iterator[str]:
        text, skip = self._text, _skip_json_whitespace
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


# --- Intent API -------------------------------------------------------------------------------

TOPICS_PATH = "/reference/v1/topics"
INTENT_DATA_PATH = "/intent/v1/data"
SIGNAL_DEFINITIONS_PATH = "/intent/v1/signal-definitions"
SIGNAL_DEFINITION_PATH = "/intent/v1/signal-definition"


def signal_definition_path(signal_definition_id: str) -> str:
    """The path of one signal definition."""
    return f"{SIGNAL_DEFINITION_PATH}/{_segment('signal_definition_id', signal_definition_id)}"
