"""The sandbox's Intent API (``/intent/v1``) and topic taxonomy (``/reference/v1/topics``).

``POST /intent/v1/data`` fixes a query (its topics, attributes, filter and the data settings of
that moment) and answers a page token; each ``GET /intent/v1/data`` computes one page of rows
from the token's position, so no result is ever held whole. Tokens can be read again until
they expire (the same page and the same next token each time), which makes retries safe.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from airflow_provider_bombora.sandbox.admin_client import AdminClient
from airflow_provider_bombora.sandbox.intent_companies import Companies, week_of
from airflow_provider_bombora.sandbox.intent_query import IntentQuery, compile_filter, parse_attributes
from airflow_provider_bombora.sandbox.routing import json_response, parsed_body, require_token, sandbox_state
from airflow_provider_bombora.sandbox.signal_definitions import SignalDefinitions
from airflow_provider_bombora.sandbox.state import ApiError, Settings
from airflow_provider_bombora.sandbox.topics import TOPIC_FILTERS, Topic, filter_topics, known_topic
from airflow_provider_bombora.sandbox.traffic import ADMIN_PREFIX

INTENT = "/intent/v1"
REQUEST_FIELDS = ("signalDefinitionId", "topics", "attributes", "filter")
MAX_REQUEST_TOPICS = 50
DEFAULT_LIMIT, MAX_LIMIT = 100, 10_000
_TOKEN_BYTES = 16
_TOKEN_CHARS = len(secrets.token_urlsafe(_TOKEN_BYTES))
# The body around the rows, with the longest next token: '{"data": [], "nextPageToken": "..."}'
_PAGE_FRAME_BYTES = len(json.dumps({"data": [], "nextPageToken": "x" * _TOKEN_CHARS}))

api = APIRouter(dependencies=[Depends(require_token)])
admin_api = APIRouter(prefix=f"{ADMIN_PREFIX}/intent")

AccountListDomains = Callable[[str], set[str]]


@dataclass
class PageToken:
    query: IntentQuery
    position: int  # of the page's first row
    expires: float  # time.monotonic()
    next_tokens: dict[int, str | None] = field(default_factory=dict)  # by limit, once that page was read


def _request_topics(value: Any) -> tuple[tuple[Topic, float], ...]:
    if not (isinstance(value, list) and value):
        raise ApiError(400, "topics must be a non-empty array of topic ids")
    if len(value) > MAX_REQUEST_TOPICS:
        raise ApiError(422, f"At most {MAX_REQUEST_TOPICS} topics")
    topics: dict[int, Topic] = {}
    for item in value:
        topic = known_topic(item)
        if topic is None:
            raise ApiError(422, f"Unknown topic {item!r}: topics are ids from GET /reference/v1/topics")
        topics.setdefault(topic.id, topic)  # a repeated id counts once
    return tuple((topic, 1.0) for topic in topics.values())


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not (value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_LIMIT):
        raise ApiError(400, f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return int(value)


def _page(query: IntentQuery, position: int, limit: int) -> tuple[list[str], int | None]:
    """Up to ``limit`` encoded rows from ``position`` that fit in the query's page size, and the
    position of the next row (None: there is none)."""
    encoded: list[str] = []
    size = _PAGE_FRAME_BYTES
    for row_position, row in query.rows(position):
        if len(encoded) == limit:
            return encoded, row_position
        text = json.dumps(row)
        added = len(text) + (2 if encoded else 0)  # ", " between rows; ASCII only, so chars are bytes
        if encoded and size + added > query.max_page_bytes:
            return encoded, row_position
        encoded.append(text)
        size += added
    return encoded, None


class IntentData:
    """Intent data, signal definitions and topics of one sandbox."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.definitions = SignalDefinitions(settings)
        self.page_tokens: dict[str, PageToken] = {}

    def reset(self) -> None:
        """Forget signal definitions and page tokens."""
        self.definitions.clear()
        self.page_tokens.clear()

    def query(self, body: Any, account_list_domains: AccountListDomains) -> IntentQuery:
        """The query a ``POST /intent/v1/data`` body asks for, with the data settings of now."""
        if not isinstance(body, dict):
            raise ApiError(400, "Body must be a JSON object")
        unknown = sorted(set(body) - set(REQUEST_FIELDS))
        if unknown:
            raise ApiError(400, f"Unknown fields: {', '.join(unknown)}; known: {', '.join(REQUEST_FIELDS)}")
        definition_id = body.get("signalDefinitionId")
        if (definition_id is None) == (body.get("topics") is None):
            raise ApiError(400, "The body must have either signalDefinitionId or topics, not both")
        if definition_id is not None:
            if not isinstance(definition_id, str):
                raise ApiError(400, "signalDefinitionId must be a string")
            definition = self.definitions.by_id.get(definition_id)
            if definition is None:
                raise ApiError(422, f"Unknown signal definition {definition_id}")
            topics = definition.topics  # as they are now, even while it is Processing
        else:
            topics = _request_topics(body["topics"])
        attributes = body.get("attributes")
        per_topic = isinstance(attributes, list) and "topic" in attributes
        projection = parse_attributes(attributes, per_topic)
        spec = body.get("filter")
        predicate = None if spec is None else compile_filter(spec, per_topic, account_list_domains)
        settings = self.settings
        day = date.fromisoformat(settings.intent_date) if settings.intent_date else datetime.now(timezone.utc).date()
        return IntentQuery(
            companies=Companies(settings.intent_seed, settings.intent_companies),
            week=week_of(day.toordinal()),
            topics=topics,
            per_topic=per_topic,
            projection=projection,
            predicate=predicate,
            max_page_bytes=settings.max_page_bytes,
        )

    def _issue(self, query: IntentQuery, position: int) -> str:
        token = secrets.token_urlsafe(_TOKEN_BYTES)
        self.page_tokens[token] = PageToken(query, position, time.monotonic() + self.settings.page_token_lifetime)
        return token

    def start(self, body: Any, account_list_domains: AccountListDomains) -> dict:
        now = time.monotonic()
        for token in [token for token, page_token in self.page_tokens.items() if page_token.expires <= now]:
            del self.page_tokens[token]  # unknown and expired tokens get the same answer
        return {"pageToken": self._issue(self.query(body, account_list_domains), 0)}

    def page(self, token: str | None, limit_value: str | None) -> str:
        """The encoded body of the page ``token`` stands for."""
        limit = _limit(limit_value)
        page_token = self.page_tokens.get(token or "")
        if page_token is None or page_token.expires <= time.monotonic():
            raise ApiError(400, "Page token expired or unknown: request the data again with POST /intent/v1/data")
        rows, next_position = _page(page_token.query, page_token.position, limit)
        if limit not in page_token.next_tokens:
            next_token = None if next_position is None else self._issue(page_token.query, next_position)
            page_token.next_tokens[limit] = next_token
        return f'{{"data": [{", ".join(rows)}], "nextPageToken": {json.dumps(page_token.next_tokens[limit])}}}'

    def expire_page_tokens(self) -> None:
        for page_token in self.page_tokens.values():
            page_token.expires = float("-inf")


def intent_data(request: Request) -> IntentData:
    return request.app.state.intent


def _account_list_domains(request: Request) -> AccountListDomains:
    """The applied domains of the app's account lists, for ``accountList:<id>`` filter values."""
    sandbox = sandbox_state(request)

    def domains(list_id: str) -> set[str]:
        if list_id not in sandbox.lists:
            raise ApiError(422, f"Unknown account list {list_id} in the filter")
        return set(sandbox.domains(list_id))

    return domains


def _topic_criteria(request: Request) -> dict[str, list[str]]:
    criteria = {}
    for name in TOPIC_FILTERS:
        values = [value.strip() for value in request.query_params.get(name, "").split(",") if value.strip()]
        if name == "id" and not all(value.isascii() and value.isdigit() for value in values):
            raise ApiError(400, "id takes comma-separated topic ids")
        if values:
            criteria[name] = values
    return criteria


@api.get("/reference/v1/topics")
async def list_topics(request: Request) -> Response:
    return json_response({"topics": [topic.to_json() for topic in filter_topics(_topic_criteria(request))]})


@api.post(f"{INTENT}/data")
async def request_intent_data(request: Request) -> Response:
    return json_response(intent_data(request).start(parsed_body(request), _account_list_domains(request)))


@api.get(f"{INTENT}/data")
async def read_intent_data(request: Request) -> Response:
    params = request.query_params
    body = intent_data(request).page(params.get("pageToken"), params.get("limit"))
    return Response(body, media_type="application/json")


@api.get(f"{INTENT}/signal-definitions")
async def list_signal_definitions(request: Request) -> Response:
    return json_response({"signalDefinitions": intent_data(request).definitions.summaries()})


@api.post(f"{INTENT}/signal-definition")
async def create_signal_definition(request: Request) -> Response:
    return json_response(intent_data(request).definitions.create(parsed_body(request)), 202)


@api.get(f"{INTENT}/signal-definition/{{definition_id}}")
async def get_signal_definition(definition_id: str, request: Request) -> Response:
    return json_response(intent_data(request).definitions.get(definition_id).definition())


@api.put(f"{INTENT}/signal-definition/{{definition_id}}")
async def replace_signal_definition(definition_id: str, request: Request) -> Response:
    return json_response(intent_data(request).definitions.replace(definition_id, parsed_body(request)))


@api.delete(f"{INTENT}/signal-definition/{{definition_id}}")
async def delete_signal_definition(definition_id: str, request: Request) -> Response:
    intent_data(request).definitions.delete(definition_id)
    return json_response({})


@admin_api.post("/expire-page-tokens")
async def expire_page_tokens(request: Request) -> Response:
    intent_data(request).expire_page_tokens()
    return json_response({})


@admin_api.get("/signal-definitions")
async def dump_signal_definitions(request: Request) -> Response:
    return json_response([definition.definition() for definition in intent_data(request).definitions.by_id.values()])


@admin_api.post("/rows")
async def all_intent_rows(request: Request) -> Response:
    query = intent_data(request).query(parsed_body(request), _account_list_domains(request))
    return json_response([row for _, row in query.rows()])


@admin_api.get("/topics")
async def all_topics(request: Request) -> Response:
    return json_response([topic.to_json() for topic in filter_topics({})])


class IntentAdmin(AdminClient):
    """:class:`~.server.SandboxAdmin`'s helpers for intent data."""

    def expire_page_tokens(self) -> None:
        """Make every intent page token issued so far expired (its next read gets 400)."""
        self._admin("POST", "/intent/expire-page-tokens")

    def signal_definitions(self) -> list[dict]:
        """Every signal definition, topics included, its status as of now."""
        return self._admin("GET", "/intent/signal-definitions")

    def intent_rows(
        self,
        topics: Iterable[int | str] | None = None,
        *,
        signal_definition_id: str | None = None,
        attributes: Iterable[str] | None = None,
        filter: dict | None = None,
    ) -> list[dict]:
        """Every row that paging ``POST /intent/v1/data`` with this body would give now, in order."""
        body: dict[str, Any] = {}
        if topics is not None:
            body["topics"] = list(topics)
        if signal_definition_id is not None:
            body["signalDefinitionId"] = signal_definition_id
        if attributes is not None:
            body["attributes"] = list(attributes)
        if filter is not None:
            body["filter"] = filter
        return self._admin("POST", "/intent/rows", body)

    def intent_topics(self) -> list[dict]:
        """The whole topic taxonomy."""
        return self._admin("GET", "/intent/topics")

    def topic_ids(self, *names: str) -> list[int]:
        """The ids of the topics named (case-insensitive, exact), in that order; ValueError for an unknown name."""
        by_name = {topic["name"].lower(): topic["id"] for topic in self.intent_topics()}
        unknown = [name for name in names if name.lower() not in by_name]
        if unknown:
            raise ValueError(f"No topics named {', '.join(unknown)}")
        return [by_name[name.lower()] for name in names]
