"""Checks of the tasks' scalar parameters, and the one rule for reading a number, a time and a templated blank.

Each check raises :class:`~airflow_provider_bombora.exceptions.BomboraValidationError` naming
the parameter and the fix. Pure module: no Airflow or HTTP import.
"""

from __future__ import annotations

import math
import unicodedata
from contextlib import suppress
from datetime import datetime, timezone

from airflow_provider_bombora.exceptions import BomboraValidationError

MAX_AUDIENCE_NAME_LENGTH = 255
MAX_BATCH_SIZE = 10_000
MIRROR = "mirror"  # the list ends equal to the audience
DELTA = "delta"  # each record says whether its account entered or exited
SYNC_MODES = (MIRROR, DELTA)
SEGMENTATION_ORIGIN = "segmentation_service"
CUSTOM_UPLOAD_ORIGIN = "custom_upload"
#: What a template renders for a missing value, once trimmed: a parameter with one is not given.
TEMPLATE_BLANKS = ("", "None")


def validate_audience_name(name: object) -> str:
    """A non-empty name without control characters, at most 255 characters, trimmed."""
    if not isinstance(name, str) or not name.strip():
        raise BomboraValidationError(
            "audience_name", f"must be a non-empty string (got {name!r}); it names the Bombora account list"
        )
    name = name.strip()
    if any(unicodedata.category(char) in ("Cc", "Cf") for char in name):
        raise BomboraValidationError(
            "audience_name", f"{name!r} contains control characters (tabs, newlines, ...); remove them"
        )
    if len(name) > MAX_AUDIENCE_NAME_LENGTH:
        raise BomboraValidationError(
            "audience_name", f"is {len(name)} characters long; shorten it to at most {MAX_AUDIENCE_NAME_LENGTH}"
        )
    return name


def validate_audience_description(description: object) -> str | None:
    if description is None or description == "":
        return None
    if not isinstance(description, str):
        raise BomboraValidationError(
            "audience_description", f"must be a string or None (got {type(description).__name__})"
        )
    if any(unicodedata.category(char) == "Cc" and char != "\n" for char in description):
        raise BomboraValidationError("audience_description", "contains control characters; remove them")
    return description.strip() or None


def validate_audience_origin(origin: object) -> str:
    if origin == SEGMENTATION_ORIGIN:
        return origin
    if origin == CUSTOM_UPLOAD_ORIGIN:
        raise BomboraValidationError(
            "audience_origin",
            "Bombora does not support custom upload audiences; activate an audience made by "
            f"segmentation (audience_origin={SEGMENTATION_ORIGIN!r})",
        )
    raise BomboraValidationError(
        "audience_origin", f"{origin!r} is not supported; the only supported origin is {SEGMENTATION_ORIGIN!r}"
    )


def validate_sync_mode(sync_mode: object) -> str:
    if sync_mode not in SYNC_MODES:
        raise BomboraValidationError("sync_mode", f"{sync_mode!r} is not one of {', '.join(map(repr, SYNC_MODES))}")
    return sync_mode


def validate_batch_size(batch_size: object) -> int:
    return validate_whole_number("batch_size", batch_size, minimum=1, maximum=MAX_BATCH_SIZE)


def validate_ratio(field: str, value: object) -> float:
    number = as_number(value)
    if number is None or not 0 <= number <= 1:
        raise BomboraValidationError(field, f"must be a number from 0 to 1 (got {value!r})")
    return number


def validate_dataflow_id(dataflow_id: object) -> str:
    if not isinstance(dataflow_id, str) or not dataflow_id.strip() or "\n" in dataflow_id:
        raise BomboraValidationError(
            "dataflow_id",
            f"must be a non-empty single-line string (got {dataflow_id!r}); default is '<dag_id>.<task_id>'",
        )
    return dataflow_id.strip()


def validate_positive_seconds(field: str, value: object) -> float:
    number = as_number(value)
    if number is None or number <= 0:
        raise BomboraValidationError(field, f"must be a positive number of seconds (got {value!r})")
    return number


def validate_non_negative_seconds(field: str, value: object) -> float:
    number = as_number(value)
    if number is None or number < 0:
        raise BomboraValidationError(field, f"must be a number of seconds >= 0 (got {value!r})")
    return number


def validate_whole_number(field: str, value: object, *, minimum: int, maximum: int | None = None) -> int:
    number = as_number(value)
    if number is None or not number.is_integer() or number < minimum or (maximum is not None and number > maximum):
        bounds = f"from {minimum:,} to {maximum:,}" if maximum is not None else f">= {minimum:,}"
        raise BomboraValidationError(field, f"must be a whole number {bounds} (got {value!r})")
    return int(number)


def as_number(value: object) -> float | None:
    """``value`` as a finite float: a number, or numeric text (as connection extras and HTTP headers
    carry numbers); None for anything else, booleans included."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def validate_snapshot(value: object) -> str:
    """The moment an audience's data is as of: an ISO 8601 date or date-time (a date means its
    midnight; no zone means UTC), or a datetime; returned as UTC ISO 8601 text."""
    moment = None
    if isinstance(value, datetime) or (isinstance(value, str) and value.strip()):
        with suppress(ValueError):
            moment = parse_utc(value)
    if moment is None:
        raise BomboraValidationError(
            "snapshot",
            "must be an ISO 8601 date or date-time such as 2026-11-27 or 2026-11-27T06:00:00+00:00 "
            f"(got {value!r:.80}); it says what the audience's data is as of",
        )
    return moment.isoformat()


def parse_utc(value: str | datetime) -> datetime:
    """An aware UTC datetime from a datetime or ISO 8601 text (a date means its midnight); no zone
    means UTC, as in Bombora's answers.

    :raises ValueError: for text that is not ISO 8601.
    """
    if isinstance(value, datetime):
        moment = value
    else:
        text = value.strip()
        # Python 3.10's fromisoformat does not read a "Z" suffix.
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text)
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def is_blank(value: object) -> bool:
    """Whether a task parameter counts as not given: None, or text a template renders for a missing
    value (``"{{ ... }}"`` of None is the text ``None``) or blank text."""
    return value is None or (isinstance(value, str) and value.strip() in TEMPLATE_BLANKS)

