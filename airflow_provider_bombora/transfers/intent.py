"""Operator that loads Bombora intent data (Company Surge scores) into a file of object storage."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import Asset, AssetAlias, ObjectStoragePath

from airflow_provider_bombora.exceptions import BomboraValidationError
from airflow_provider_bombora.intent_files import destination_format
from airflow_provider_bombora.intent_parameters import (
    LOCAL_PROTOCOLS,
    check_destination,
    destination_url_uri,
    validate_attributes,
    validate_filter,
    validate_page_size,
    validate_source,
)
from airflow_provider_bombora.intent_topics import validate_topics
from airflow_provider_bombora.operators.common import FailFastTemplates, fail, is_unrendered

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_bombora.hooks.bombora import BomboraHook
    from airflow_provider_bombora.transfers.intent_copy import IntentRequest

def intent_data_alias(dag_id: str, task_id: str) -> AssetAlias:
    """The asset alias of a task whose destination is templated: schedule a DAG on it to run after
    each load (``schedule=[intent_data_alias("intent_loop", "load_intent")]``)."""
    return AssetAlias(f"bombora-intent-data:{dag_id}.{task_id}")


def destination_uri(path: ObjectStoragePath) -> str:
    """The URI of the destination's asset: ``file:///…`` for a local file, ``s3://bucket/key`` (no
    connection id) for an object store."""
    if path.protocol in LOCAL_PROTOCOLS:
        return f"file://{path.path}"
    return f"{path.protocol}://{path.path.lstrip('/')}"


class BomboraIntentToStorageOperator(FailFastTemplates):
    """
    Load Company Surge intent data (which companies research which topics, and how strongly) from
    Bombora's Intent API into one JSON Lines or CSV file of object storage.

    The pages are streamed to a temporary object beside the destination, then moved onto it: the
    file appears complete or not at all, and a rerun replaces it. Rows are written as the API
    returns them plus ``snapshotDate``, the run's logical date (``ds``; for a run without one,
    the day it was triggered, UTC). Faults on a page are retried; an expired page token (400)
    starts again from the first page, into a fresh temporary file. See docs/intent.md.

    :param topics: topic names or ids; names are resolved through the topic taxonomy
        (``GET /reference/v1/topics``: exact, ignoring case) before any intent call, and an unknown
        name fails the task with the closest names. Give ``topics`` or ``signal_definition_id``. (templated)
    :param signal_definition_id: a saved signal definition's id, instead of topics. (templated)
    :param attributes: what each row holds; default (None): ``domain``, ``score``, ``scoreLabel``. (templated)
    :param filter: the API's filter object, e.g. ``{"a": "domain", "neq": "*.edu"}``. (templated)
    :param destination: an ``ObjectStoragePath`` or a URL (``s3://``, ``gs://``, ``file:///``...),
        ending with ``.jsonl`` or ``.csv``, optionally ``.gz``. (templated)
    :param destination_conn_id: the object store's connection for a URL (an ``ObjectStoragePath``
        keeps its own).
    :param page_size: rows asked for a page, 1 to 10,000.
    :param bombora_conn_id: the Bombora connection.

    Returns (and pushes, each key its own XCom): ``destination``, ``rows``, ``pages``,
    ``snapshot_date``, ``format``, ``compression``, ``topics`` (``[{"id", "name"}]``, or None),
    ``signal_definition_id``, ``restarts``. A successful run emits an event for the destination's
    asset (its URI, e.g. ``s3://intent/bombora/2026-11-27/surge.jsonl.gz``) with that summary as
    its extra; with a templated destination, through :func:`intent_data_alias`.
    """

    template_fields: Sequence[str] = ("destination", "topics", "signal_definition_id", "attributes", "filter")
    template_fields_renderers: ClassVar[dict[str, str]] = {"topics": "json", "attributes": "json", "filter": "json"}
    ui_color = "#e8f4ea"

    def __init__(
        self,
        *,
        destination: str | ObjectStoragePath,
        topics: Sequence[str | int] | None = None,
        signal_definition_id: str | None = None,
        attributes: Sequence[str] | None = None,
        filter: dict[str, Any] | None = None,
        destination_conn_id: str | None = None,
        page_size: int = 1000,
        bombora_conn_id: str = "bombora_default",
        **kwargs: Any,
    ) -> None:
        # Each key of the summary is its own XCom too: `load.output["destination"]` feeds the next task.
        kwargs.setdefault("multiple_outputs", True)
        super().__init__(**kwargs)
        self.destination = destination
        self.topics = topics
        self.signal_definition_id = signal_definition_id
        self.attributes = attributes
        self.filter = filter
        self.destination_conn_id = destination_conn_id
        self.page_size = page_size
        self.bombora_conn_id = bombora_conn_id
        # Fail at DAG parse time on what is already known; templated values wait for rendering.
        validate_page_size(page_size)
        validate_source(topics, signal_definition_id)
        for value, validate in self._checks():
            if not is_unrendered(_shown(value)):
                validate(value)
        self._outlet: Asset | AssetAlias = (
            intent_data_alias(self.dag_id, self.task_id)
            if is_unrendered(_shown(destination))
            else Asset(_static_uri(destination))
        )
        self.outlets = [*self.outlets, self._outlet]

    def _checks(self) -> tuple[tuple[Any, Callable[[Any], object]], ...]:
        return (
            (self.destination, _static_uri),
            (self.topics, lambda value: value is None or validate_topics(value)),
            (self.attributes, validate_attributes),
            (self.filter, validate_filter),
        )

    @cached_property
    def hook(self) -> BomboraHook:
        # Imported here: DAG files import this module at every parse, and need no HTTP stack.
        from airflow_provider_bombora.hooks.bombora import BomboraHook

        return BomboraHook(bombora_conn_id=self.bombora_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_bombora.exceptions import BomboraApiError, IntentPageTokenError
        from airflow_provider_bombora.transfers.intent_copy import copy_intent_data

        try:
            path = self._destination_path()
            request, topics = self._request()
        except BomboraValidationError as error:
            raise fail(str(error)) from error
        snapshot_date = _snapshot_date(context)
        file_format = destination_format(path.name)
        uri = destination_uri(path)
        self.log.info("Loading intent data into %s (snapshot date %s)", uri, snapshot_date)
        try:
            copy = copy_intent_data(self.hook, request, path, page_size=self.page_size, snapshot_date=snapshot_date)
        except BomboraApiError as error:
            # The API refused the request itself (an unknown attribute, a bad filter): the same at every retry.
            if error.method == "POST" and error.status in (400, 422) and not isinstance(error, IntentPageTokenError):
                raise fail(str(error)) from error
            raise
        summary = {
            "destination": uri,
            "rows": copy.rows,
            "pages": copy.pages,
            "snapshot_date": snapshot_date,
            "format": file_format.kind,
            "compression": file_format.compression,
            "topics": topics,
            "signal_definition_id": request.signal_definition_id,
            "restarts": copy.restarts,
        }
        self.log.info("Wrote %d rows (%d pages) to %s", copy.rows, copy.pages, uri)
        self._announce(context, uri, summary)
        return summary

    def _request(self) -> tuple[IntentRequest, list[dict[str, Any]] | None]:
        """The rendered parameters validated, then the topics resolved: all before any intent call."""
        from airflow_provider_bombora.transfers.intent_copy import IntentRequest

        validate_page_size(self.page_size)
        validate_source(self.topics, self.signal_definition_id)
        attributes = validate_attributes(self.attributes)
        validate_filter(self.filter)
        topics = None
        if self.topics is not None:
            topics = self.hook.resolve_topics(validate_topics(self.topics))
            self.log.info("Topics: %s", ", ".join(f"{topic['name']} ({topic['id']})" for topic in topics))
        request = IntentRequest(
            topic_ids=[topic["id"] for topic in topics] if topics is not None else None,
            signal_definition_id=self.signal_definition_id,
            attributes=attributes,
            filter=self.filter,
        )
        return request, topics

    def _destination_path(self) -> ObjectStoragePath:
        """The rendered destination as a path of a known filesystem, through the sources' resolver."""
        from airflow_provider_bombora.sources.object_storage import resolve_path

        _static_uri(self.destination)
        path, _, _ = resolve_path(
            self.destination, self.destination_conn_id or None, field="destination", conn_field="destination_conn_id"
        )
        return path

    def _announce(self, context: Context, uri: str, summary: dict[str, Any]) -> None:
        """Put the summary on the destination's asset event (downstream DAGs read it from there)."""
        # A context built by hand (an execute() called directly) has no outlet events to fill.
        events = context.get("outlet_events")
        if events is None:
            return
        if isinstance(self._outlet, AssetAlias):
            events[self._outlet].add(Asset(uri), extra=summary)
        else:
            events[self._outlet].extra = summary


def _shown(value: Any) -> Any:
    """A path as its text (a path is lazily resolvable to Airflow's eyes, but not a template)."""
    return str(value) if isinstance(value, ObjectStoragePath) else value


def _static_uri(destination: object) -> str:
    """The asset URI of a destination, checked without touching its filesystem."""
    if isinstance(destination, ObjectStoragePath):
        check_destination(destination.protocol, destination.path)
        return destination_uri(destination)
    return destination_url_uri(destination)


def _snapshot_date(context: Context) -> str:
    """The day the data is as of: the run's logical date (``ds``); for a run without one, the day
    it was triggered (``run_after``, which its retries share), UTC; today UTC without a run."""
    ds = context.get("ds")
    if ds:
        return str(ds)
    dag_run = context.get("dag_run")
    moment = getattr(dag_run, "run_after", None) or datetime.now(timezone.utc)
    return moment.astimezone(timezone.utc).date().isoformat()
