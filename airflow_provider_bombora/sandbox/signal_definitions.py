"""The sandbox's signal definitions (``/intent/v1/signal-definition``): saved, weighted sets of topics.

A definition is ``Processing`` for ``processing_delay`` seconds after it is created, or after a
replace that changes its topics, then ``Available``; the status is worked out when it is read.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from airflow_provider_bombora.sandbox.state import ApiError, Settings
from airflow_provider_bombora.sandbox.topics import Topic, known_topic

BODY_FIELDS = ("metadata", "topics")
# What a GET answers beside the body fields; a replace may send them back, they are ignored.
READ_ONLY_FIELDS = ("signalDefinitionId", "status", "topicCount", "createdDate", "modifiedDate")
METADATA_FIELDS = ("name", "description", "clientId")
MAX_TOPICS = 50


def _timestamp() -> str:
    """As Bombora's examples write them: ISO 8601 with milliseconds and the UTC offset."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _unprocessable(message: str) -> ApiError:
    return ApiError(422, message)


def _parse_metadata(value: Any) -> dict:
    if not isinstance(value, dict):
        raise _unprocessable("metadata must be a JSON object with a name")
    unknown = sorted(set(value) - set(METADATA_FIELDS))
    if unknown:
        raise _unprocessable(f"Unknown metadata fields: {', '.join(unknown)}")
    name = value.get("name")
    if not (isinstance(name, str) and name.strip()):
        raise _unprocessable("metadata.name is required")
    for optional in ("description", "clientId"):
        if not (value.get(optional) is None or isinstance(value[optional], str)):
            raise _unprocessable(f"metadata.{optional} must be a string")
    return {field: value.get(field) for field in METADATA_FIELDS if field == "name" or value.get(field) is not None}


def _parse_topics(value: Any) -> tuple[tuple[Topic, float], ...]:
    if not (isinstance(value, list) and 1 <= len(value) <= MAX_TOPICS):
        raise _unprocessable(f"topics must be an array of 1 to {MAX_TOPICS} {{id, weighting}} objects")
    topics: dict[int, tuple[Topic, float]] = {}
    for position, item in enumerate(value):
        where = f"topics[{position}]"
        if not (isinstance(item, dict) and set(item) <= {"id", "name", "weighting"}):
            raise _unprocessable(f"{where} must be an object with id and weighting (and optionally name)")
        topic = known_topic(item.get("id"))
        if topic is None:
            raise _unprocessable(f"{where}: unknown topic id {item.get('id')!r}")
        if topic.id in topics:
            raise _unprocessable(f"{where}: topic {topic.id} is listed twice")
        weighting = item.get("weighting", 1.0)
        if not (isinstance(weighting, (int, float)) and not isinstance(weighting, bool) and 0 < weighting <= 1):
            raise _unprocessable(f"{where}: weighting must be a number above 0 and at most 1")
        topics[topic.id] = (topic, float(weighting))
    return tuple(topics.values())


def _parse_body(body: Any, definition_id: str | None = None) -> tuple[dict, tuple[tuple[Topic, float], ...]]:
    if not isinstance(body, dict):
        raise ApiError(400, "Body must be a JSON object")
    unknown = sorted(set(body) - set(BODY_FIELDS) - set(READ_ONLY_FIELDS))
    if unknown:
        raise _unprocessable(
            f"Unknown fields: {', '.join(unknown)} (product definitions are not modelled: give topics)"
        )
    if body.get("signalDefinitionId", definition_id) != definition_id:
        raise _unprocessable("signalDefinitionId does not match the definition in the path")
    return _parse_metadata(body.get("metadata")), _parse_topics(body.get("topics"))


@dataclass
class SignalDefinition:
    id: str
    metadata: dict
    topics: tuple[tuple[Topic, float], ...]
    created_date: str
    modified_date: str
    available_from: float  # time.monotonic() from which it is Available

    @property
    def status(self) -> str:
        return "Available" if time.monotonic() >= self.available_from else "Processing"

    def summary(self) -> dict:
        return {
            "signalDefinitionId": self.id,
            "status": self.status,
            "topicCount": len(self.topics),
            "createdDate": self.created_date,
            "modifiedDate": self.modified_date,
            "metadata": dict(self.metadata),
        }

    def definition(self) -> dict:
        topics = [{"id": topic.id, "name": topic.name, "weighting": weighting} for topic, weighting in self.topics]
        return {**self.summary(), "topics": topics}


class SignalDefinitions:
    """The signal definitions of one sandbox, by id."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.by_id: dict[str, SignalDefinition] = {}

    def clear(self) -> None:
        self.by_id.clear()

    def get(self, definition_id: str) -> SignalDefinition:
        definition = self.by_id.get(definition_id)
        if definition is None:
            raise ApiError(404, f"Signal definition {definition_id} not found")
        return definition

    def summaries(self) -> list[dict]:
        return [definition.summary() for definition in self.by_id.values()]

    def create(self, body: Any) -> dict:
        metadata, topics = _parse_body(body)
        now = _timestamp()
        definition = SignalDefinition(
            id=str(uuid.uuid4()),
            metadata=metadata,
            topics=topics,
            created_date=now,
            modified_date=now,
            available_from=time.monotonic() + self.settings.processing_delay,
        )
        self.by_id[definition.id] = definition
        return definition.definition()

    def replace(self, definition_id: str, body: Any) -> dict:
        definition = self.get(definition_id)
        metadata, topics = _parse_body(body, definition_id)
        if topics != definition.topics:
            definition.available_from = time.monotonic() + self.settings.processing_delay
        definition.metadata, definition.topics = metadata, topics
        definition.modified_date = _timestamp()
        return definition.definition()

    def delete(self, definition_id: str) -> None:
        self.get(definition_id)
        del self.by_id[definition_id]
