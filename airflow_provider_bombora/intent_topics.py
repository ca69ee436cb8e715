"""Topics as a task gives them (names or ids) to the ids the Intent API takes.

A topic is named as Bombora's taxonomy (``GET /reference/v1/topics``) names it, or given by its
id: a number, or a string of digits. Names match exactly, ignoring case and the white space
around them; an unknown name is a :class:`BomboraValidationError` for ``topics`` that lists the
closest names of the taxonomy, so that a misspelt topic fails before any intent call.

Pure module: no Airflow or HTTP import.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from airflow_provider_bombora.exceptions import BomboraValidationError, shorten

#: How many close names an unknown name's error suggests, and how close they must be (difflib's ratio).
SUGGESTIONS = 3
SUGGESTION_CUTOFF = 0.6

TopicReference = str | int


def validate_topics(value: object) -> list[TopicReference]:
    """``value`` checked to be a non-empty list of topic names or ids; names stripped, in order.

    :raises BomboraValidationError: for ``topics``, saying what to give instead.
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise BomboraValidationError(
            "topics", f"must be a list of topic names or ids, e.g. ['Customer Data Platform'], got {value!r:.80}"
        )
    if not value:
        raise BomboraValidationError(
            "topics", "is empty: give at least one topic name or id (or a signal_definition_id instead)"
        )
    topics: list[TopicReference] = []
    for item in value:
        if isinstance(item, int) and not isinstance(item, bool):
            topics.append(item)
        elif isinstance(item, str) and item.strip():
            topics.append(item.strip())
        else:
            raise BomboraValidationError(
                "topics", f"every item must be a topic name or id (a non-empty string or a number), got {item!r:.80}"
            )
    return topics


def resolve_topics(
    requested: Sequence[TopicReference], taxonomy: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The taxonomy's ``{"id", "name"}`` of each requested topic, in the order asked, each once.

    An int, or a string of digits that is the id of a topic, is that topic; any other string is a
    name, matched exactly but for case.

    :param requested: Topic names or ids, as :func:`validate_topics` returns them.
    :param taxonomy: The topics of ``GET /reference/v1/topics``, each with ``id`` and ``name``.
    :raises BomboraValidationError: for ``topics``: an unknown id, an unknown name (with the
        closest names), or a name that two topics of the taxonomy share.
    """
    by_id: dict[str, dict[str, Any]] = {}
    by_name: dict[str, list[dict[str, Any]]] = {}
    for known in taxonomy:
        entry = {"id": known["id"], "name": known["name"]}
        by_id[str(known["id"])] = entry
        by_name.setdefault(str(known["name"]).strip().casefold(), []).append(entry)
    resolved: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for reference in requested:
        text = str(reference).strip()
        topic: dict[str, Any] | None = by_id.get(text) if isinstance(reference, int) or text.isdigit() else None
        if topic is None and isinstance(reference, str):
            matches = by_name.get(text.casefold(), [])
            if len(matches) > 1:
                ids = ", ".join(str(match["id"]) for match in matches)
                problems.append(f"{text!r} names {len(matches)} topics (ids {ids}): give the id of the one meant")
                continue
            topic = matches[0] if matches else None
        if topic is None:
            problems.append(_unknown(reference, by_name))
            continue
        resolved.setdefault(str(topic["id"]), topic)
    if problems:
        raise BomboraValidationError(
            "topics",
            "; ".join(problems) + ". Names are matched exactly (case aside) against Bombora's topic taxonomy, "
            "GET /reference/v1/topics",
        )
    return list(resolved.values())


def _unknown(reference: TopicReference, by_name: Mapping[str, list[dict[str, Any]]]) -> str:
    if isinstance(reference, int) or str(reference).strip().isdigit():
        return f"no topic has the id {reference}"
    close = difflib.get_close_matches(reference.casefold(), list(by_name), n=SUGGESTIONS, cutoff=SUGGESTION_CUTOFF)
    names = [by_name[key][0]["name"] for key in close]
    hint = f" (did you mean {', '.join(repr(name) for name in names)}?)" if names else " (no topic has a close name)"
    return f"no topic is named {shorten(reference, 100)!r}{hint}"
