"""Intent data, page after page, into one file of object storage that appears whole or not at all.

The pages are written as they come to a temporary object beside the destination, named
``.<name>.<random>.tmp`` (hidden, and skipped by the provider's folder reader), which is then
moved onto the destination: a local file system renames it (atomic, and it replaces the file a
previous run left), object stores without a rename (S3, GCS) copy it whole and delete it, and
the copy only appears once complete. Whatever fails, the temporary object is deleted and the
destination is left as it was.

Each page is asked for with the hook's retries (429, 5xx, a dropped connection, an expired
access token). A page answered 400, an expired page token, cannot be asked again: the data is
asked for anew (a new ``POST``) and written again from its first row, into a fresh temporary
file, up to :data:`MAX_RESTARTS` times.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_bombora.exceptions import IntentPageTokenError
from airflow_provider_bombora.intent_files import RowWriter, destination_format
from airflow_provider_bombora.intent_parameters import LOCAL_PROTOCOLS

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_bombora.hooks.intent import IntentCalls

log = logging.getLogger(__name__)

#: How many times the data is asked for again after a page token expired, before the task fails.
MAX_RESTARTS = 3


@dataclass(frozen=True)
class IntentRequest:
    """What ``POST /intent/v1/data`` asks for: topic ids or a signal definition, attributes, filter."""

    topic_ids: list[Any] | None
    signal_definition_id: str | None
    attributes: list[str] | None
    filter: dict[str, Any] | None


@dataclass(frozen=True)
class IntentCopy:
    rows: int
    pages: int
    restarts: int  # new POSTs after an expired page token


def copy_intent_data(
    hook: IntentCalls, request: IntentRequest, path: ObjectStoragePath, *, page_size: int, snapshot_date: str
) -> IntentCopy:
    """Write every row of ``request`` to ``path`` (its format from its name), with ``snapshot_date``.

    :raises IntentPageTokenError: when the page token still expired after :data:`MAX_RESTARTS` restarts.
    """
    file_format = destination_format(path.name)
    if path.protocol in LOCAL_PROTOCOLS:  # object stores have no folders to make
        path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.tmp"
    restarts = 0
    try:
        while True:
            try:
                with temporary.open("wb") as stream:
                    writer = RowWriter(stream, file_format, request.attributes, snapshot_date)
                    rows, pages = _write_pages(hook, request, writer, page_size)
                    writer.finish()
            except IntentPageTokenError:
                if restarts == MAX_RESTARTS:
                    log.error("The page token expired again after %d restarts: giving up", MAX_RESTARTS)
                    raise
                restarts += 1
                log.warning(
                    "A page token expired (HTTP 400): asking for the data anew, from its first page (restart %d of %d)",
                    restarts,
                    MAX_RESTARTS,
                )
                continue
            temporary.rename(path)
            return IntentCopy(rows=rows, pages=pages, restarts=restarts)
    finally:
        temporary.unlink(missing_ok=True)


def _write_pages(hook: IntentCalls, request: IntentRequest, writer: RowWriter, page_size: int) -> tuple[int, int]:
    """Ask for the data and write all its pages; return the rows and pages written."""
    token: str | None = hook.request_intent_data(
        topics=request.topic_ids,
        signal_definition_id=request.signal_definition_id,
        attributes=request.attributes,
        filter=request.filter,
    )
    rows = pages = 0
    while token is not None:
        page, token = hook.get_intent_page(token, page_size)
        writer.write_page(page)
        rows += len(page)
        pages += 1
        log.info("Page %d: %d rows (%d so far)%s", pages, len(page), rows, "" if token else ", the last")
    return rows, pages
