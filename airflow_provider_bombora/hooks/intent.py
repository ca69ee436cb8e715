"""The Intent API calls of the synchronous hook (``/intent/v1``) and the topic taxonomy (``/reference/v1``).

Intent data (Company Surge scores) is read in two steps: ``POST /intent/v1/data`` fixes the query
and answers a page token, ``GET /intent/v1/data?pageToken=&limit=`` answers a page of rows and the
next token (``null`` after the last page). A page token can be read again until it expires, so
a page whose answer was lost (429, 5xx, a dropped connection) is simply asked again by the
retry loop. Bombora does not document what an expired token is answered; we assume **400**
(what the sandbox does), raised here as :class:`IntentPageTokenError`: the data must then be
asked for again from the first page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlencode

from airflow_provider_bombora.exceptions import BomboraApiError, BomboraValidationError, IntentPageTokenError
from airflow_provider_bombora.hooks.base import BomboraBaseHook
from airflow_provider_bombora.hooks.wire import (
    INTENT_DATA_PATH,
    SIGNAL_DEFINITION_PATH,
    SIGNAL_DEFINITIONS_PATH,
    TOPICS_PATH,
    is_object,
    json_bytes,
    signal_definition_path,
)
from airflow_provider_bombora.intent_parameters import validate_page_size, validate_source
from airflow_provider_bombora.intent_topics import TopicReference, resolve_topics, validate_topics

# --- Answers ----------------------------------------------------------------------------------


def _listed(answer: Any, key: str) -> list[dict[str, Any]] | None:
    """The objects of a bare array, or of ``{key: [...]}``; None for another shape."""
    items = answer.get(key) if isinstance(answer, dict) else answer
    if isinstance(items, list) and all(isinstance(item, dict) for item in items):
        return items
    return None


def _is_topics(answer: Any) -> bool:
    topics = _listed(answer, "topics")
    return topics is not None and all("id" in topic and isinstance(topic.get("name"), str) for topic in topics)


def _is_page_token(answer: Any) -> bool:
    return is_object(answer) and isinstance(answer.get("pageToken"), str) and answer["pageToken"] != ""


def _is_intent_page(answer: Any) -> bool:
    if not is_object(answer) or not isinstance(answer.get("data"), list):
        return False
    next_token = answer.get("nextPageToken")
    return (next_token is None or (isinstance(next_token, str) and next_token != "")) and all(
        isinstance(row, dict) for row in answer["data"]
    )


def signal_definition_id_of(definition: dict[str, Any]) -> str | None:
    """A definition's id: ``signalDefinitionId`` (Bombora's documents), or ``id``."""
    value = definition.get("signalDefinitionId", definition.get("id"))
    return value if isinstance(value, str) and value else None


def _is_definition(answer: Any) -> bool:
    return is_object(answer) and signal_definition_id_of(answer) is not None


def signal_definition_body(name: str, topic_ids: Iterable[Any], description: str | None = None) -> dict[str, Any]:
    """A signal definition's body: its name and description, its topics each weighted 1."""
    metadata = {"name": name} if description is None else {"name": name, "description": description}
    return {"metadata": metadata, "topics": [{"id": topic_id, "weighting": 1} for topic_id in topic_ids]}


def _same_definition(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether a definition as read already has the wanted description and weighted topics."""
    metadata = current.get("metadata") or {}
    weighted = {(str(topic.get("id")), float(topic.get("weighting", 1))) for topic in current.get("topics") or []}
    return metadata.get("description") == wanted["metadata"].get("description") and weighted == {
        (str(topic["id"]), float(topic["weighting"])) for topic in wanted["topics"]
    }


class IntentCalls(BomboraBaseHook):
    """Read Company Surge intent data, keep signal definitions, and look topics up in the taxonomy.

    Product access is granted by Bombora by hand: an app without it is answered 403
    (:class:`~airflow_provider_bombora.exceptions.BomboraAuthError`).
    """

    # --- Topic taxonomy ---

    def list_topics(
        self,
        *,
        ids: Iterable[int | str] | None = None,
        names: Iterable[str] | None = None,
        themes: Iterable[str] | None = None,
        categories: Iterable[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Topics of the taxonomy (``id``, ``name``, ``theme``, ``category``, ``description``); all of
        them without filters. Bombora's filters: ``id`` exact, the others substrings, ignoring
        case; a topic matching any filter is listed."""
        query = {}
        for parameter, values in (("id", ids), ("name", names), ("theme", themes), ("category", categories)):
            if values is None:
                continue
            texts = [str(value).strip() for value in values]
            if any("," in text or not text for text in texts):
                raise BomboraValidationError(parameter, "filter values must be non-empty and hold no comma")
            query[parameter] = ",".join(texts)
        path = f"{TOPICS_PATH}?{urlencode(query)}" if query else TOPICS_PATH
        answer = self._call("GET", path, check=_is_topics, expected='{"topics": [{"id", "name", ...}]}')
        return _listed(answer, "topics") or []

    def resolve_topics(self, topics: Sequence[TopicReference]) -> list[dict[str, Any]]:
        """The ``{"id", "name"}`` of each topic named or numbered, read from the whole taxonomy.

        :raises BomboraValidationError: for ``topics``: an unknown name (with the closest names),
            or an unknown id. See :func:`~airflow_provider_bombora.intent_topics.resolve_topics`.
        """
        return resolve_topics(validate_topics(topics), self.list_topics())

    # --- Intent data ---

    def request_intent_data(
        self,
        *,
        topics: Sequence[int | str] | None = None,
        signal_definition_id: str | None = None,
        attributes: Sequence[str] | None = None,
        filter: dict[str, Any] | None = None,
    ) -> str:
        """Ask for the intent data of ``topics`` (ids) or of a signal definition; return the first
        page's token (read the pages with :meth:`get_intent_page`).

        :param attributes: What each row holds; None: ``domain``, ``score``, ``scoreLabel``.
        :param filter: The API's filter object, e.g. ``{"a": "domain", "neq": "*.edu"}``.
        :raises BomboraValidationError: for both or neither of ``topics`` and
            ``signal_definition_id``, before any call.
        """
        validate_source(topics, signal_definition_id)
        body: dict[str, Any] = (
            {"topics": list(topics)} if topics is not None else {"signalDefinitionId": signal_definition_id}
        )
        if topics is not None and not body["topics"]:
            raise BomboraValidationError("topics", "is empty: give at least one topic id")
        if attributes:
            body["attributes"] = list(attributes)
        if filter is not None:
            body["filter"] = filter
        answer = self._call("POST", INTENT_DATA_PATH, json_bytes(body), check=_is_page_token, expected='{"pageToken"}')
        return answer["pageToken"]

    def get_intent_page(self, page_token: str, limit: int = 1000) -> tuple[list[dict[str, Any]], str | None]:
        """One page of intent data: its rows and the next page's token (None after the last page).

        :param limit: Rows a page, 1 to 10,000 (a page may hold fewer: bodies stay under 10 MB).
        :raises IntentPageTokenError: when the page is answered 400: the token expired.
        """
        if not isinstance(page_token, str) or not page_token:
            raise BomboraValidationError("page_token", f"must be a non-empty string, got {page_token!r:.40}")
        path = f"{INTENT_DATA_PATH}?{urlencode({'pageToken': page_token, 'limit': validate_page_size(limit, 'limit')})}"
        try:
            answer = self._call(
                "GET", path, check=_is_intent_page, expected='{"data": [rows], "nextPageToken": "..." or null}'
            )
        except BomboraApiError as error:
            if error.status == 400:
                raise IntentPageTokenError(
                    error.message, status=400, method="GET", path=INTENT_DATA_PATH
                ) from error
            raise
        next_token = answer.get("nextPageToken")
        if next_token == page_token:
            raise BomboraApiError(
                "the page's nextPageToken is its own token: reading on would never end",
                status=200,
                method="GET",
                path=INTENT_DATA_PATH,
            )
        return answer["data"], next_token

    # --- Signal definitions ---

    def list_signal_definitions(self) -> list[dict[str, Any]]:
        """Summaries of every signal definition (``signalDefinitionId``, ``status``, ``metadata``...)."""
        answer = self._call(
            "GET",
            SIGNAL_DEFINITIONS_PATH,
            check=lambda payload: _listed(payload, "signalDefinitions") is not None,
            expected='{"signalDefinitions": [...]} or an array',
        )
        return _listed(answer, "signalDefinitions") or []

    def get_signal_definition(self, signal_definition_id: str) -> dict[str, Any]:
        """The definition with its ``topics`` and ``status`` (``Processing`` or ``Available``); 404
        raises :class:`~airflow_provider_bombora.exceptions.BomboraNotFoundError`."""
        return self._call(
            "GET", signal_definition_path(signal_definition_id), check=is_object, expected="a signal definition"
        )

    def create_signal_definition(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a definition (``{"metadata": {"name", "description"}, "topics": [{"id", "weighting"}]}``)
        and return it. Not idempotent: use :meth:`ensure_signal_definition` to keep one by name."""
        return self._call(
            "POST", SIGNAL_DEFINITION_PATH, json_bytes(body), check=_is_definition, expected="the created definition"
        )

    def update_signal_definition(self, signal_definition_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Replace a definition's metadata and topics; return it."""
        path = signal_definition_path(signal_definition_id)
        return self._call("PUT", path, json_bytes(body), check=is_object, expected="the definition")

    def delete_signal_definition(self, signal_definition_id: str) -> None:
        """Delete a definition (404 if it does not exist)."""
        self._call("DELETE", signal_definition_path(signal_definition_id))

    def _signal_definition_named(self, name: str) -> str | None:
        """The id of the one definition named ``name`` (case-sensitive), or None."""
        ids = [
            signal_definition_id_of(summary)
            for summary in self.list_signal_definitions()
            if (summary.get("metadata") or {}).get("name") == name
        ]
        if len(ids) > 1:
            raise BomboraApiError(
                f"{len(ids)} signal definitions are named {name!r} (ids {', '.join(map(str, ids))}); "
                "delete all but one",
                status=200,
                method="GET",
                path=SIGNAL_DEFINITIONS_PATH,
            )
        return ids[0] if ids else None

    def ensure_signal_definition(
        self, name: str, topics: Sequence[TopicReference], description: str | None = None
    ) -> dict[str, Any]:
        """The signal definition named ``name`` with exactly these topics (names or ids, each
        weighted 1) and description: created if there is none, replaced if it differs, left alone
        (no write) if it is already so. Returns the definition.

        :raises BomboraValidationError: for an unknown topic (with the closest names).
        :raises BomboraApiError: if several definitions have that name: which to keep is not ours
            to guess.
        """
        if not isinstance(name, str) or not name.strip():
            raise BomboraValidationError("name", f"must be a non-empty string, got {name!r:.60}")
        wanted = signal_definition_body(name, [topic["id"] for topic in self.resolve_topics(topics)], description)
        definition_id = self._signal_definition_named(name)
        if definition_id is None:
            created = self.create_signal_definition(wanted)
            self.log.info("Created signal definition %r (%s)", name, signal_definition_id_of(created))
            return created
        current = self.get_signal_definition(definition_id)
        if _same_definition(current, wanted):
            self.log.info("Signal definition %r (%s) is already as asked", name, definition_id)
            return current
        updated = self.update_signal_definition(definition_id, {**wanted, "signalDefinitionId": definition_id})
        self.log.info("Updated signal definition %r (%s)", name, definition_id)
        return updated
