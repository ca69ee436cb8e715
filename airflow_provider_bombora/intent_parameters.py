"""Checks of what an intent data request is given, each error naming its parameter and the fix.

The operator runs them when the DAG is parsed (on what is not a template) and again once
rendered, the hook before any call. Pure module: no Airflow or HTTP import.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from airflow_provider_bombora.exceptions import BomboraValidationError
from airflow_provider_bombora.intent_files import destination_format

#: The Intent API's largest page, in rows (a page's body also stays under 10 MB).
MAX_PAGE_SIZE = 10_000
LOCAL_PROTOCOLS = ("", "file", "local")


def validate_page_size(value: object, field: str = "page_size") -> int:
    """``value`` checked to be a whole number of rows from 1 to :data:`MAX_PAGE_SIZE`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PAGE_SIZE:
        raise BomboraValidationError(
            field, f"must be a whole number of rows from 1 to {MAX_PAGE_SIZE:,} (the API's largest page), got {value!r}"
        )
    return value


def validate_source(topics: object, signal_definition_id: object) -> None:
    """Exactly one of ``topics`` and ``signal_definition_id``; a given id is a non-empty string."""
    if (topics is None) == (signal_definition_id is None):
        raise BomboraValidationError(
            "topics",
            "give exactly one of topics (names or ids) and signal_definition_id, got "
            f"{'both' if topics is not None else 'neither'}",
        )
    if signal_definition_id is not None and (
        not isinstance(signal_definition_id, str) or not signal_definition_id.strip()
    ):
        raise BomboraValidationError(
            "signal_definition_id", f"must be a signal definition's id, got {signal_definition_id!r:.60}"
        )


def validate_attributes(value: object) -> list[str] | None:
    """``attributes`` checked: None, or a list of attribute names (``[]`` is the API's default, as None)."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise BomboraValidationError(
            "attributes", f"must be a list of attribute names, e.g. ['domain', 'score', 'topic'], got {value!r:.80}"
        )
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise BomboraValidationError("attributes", f"every item must be a non-empty string, got {item!r:.80}")
    return [item.strip() for item in value] or None


def validate_filter(value: object) -> None:
    """``filter`` checked: None or a JSON object (the API checks what it says)."""
    if value is not None and not isinstance(value, dict):
        raise BomboraValidationError(
            "filter", f"must be the API's filter object, e.g. {{'a': 'domain', 'neq': '*.edu'}}, got {value!r:.80}"
        )


def check_destination(protocol: str, path: str) -> None:
    """A destination's file name has a known format, and a local one is absolute."""
    if protocol in LOCAL_PROTOCOLS and not path.startswith("/"):
        raise BomboraValidationError(
            "destination", f"{path!r} is relative: give a URL (file:///data/surge.jsonl, s3://...) or an absolute path"
        )
    destination_format(path.rsplit("/", 1)[-1])


def destination_url_uri(url: object) -> str:
    """The asset URI of a destination URL (or absolute path), checked, read without any I/O:
    ``file:///…`` locally, ``<scheme>://<bucket>/<key>`` (a connection id in the URL left out)."""
    if not isinstance(url, str) or not url.strip():
        raise BomboraValidationError(
            "destination", f"must be an ObjectStoragePath or a URL such as s3://bucket/surge.jsonl.gz, got {url!r:.80}"
        )
    text = url.strip()
    if "://" not in text:
        check_destination("", text)
        return f"file://{text}"
    parts = urlsplit(text)
    protocol = parts.scheme.lower()
    if protocol in LOCAL_PROTOCOLS:
        check_destination(protocol, parts.path)
        return f"file://{parts.path}"
    check_destination(protocol, parts.path or "/")
    return f"{protocol}://{parts.netloc.rpartition('@')[2]}{parts.path}"
