"""The sandbox's own reading of the Digital Audience Builder's body rules (contract section 3).

Plain functions over a request's parsed JSON, no web framework, and on purpose nothing from
the provider's pure modules: the sandbox checks the provider's bodies independently.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import re
from collections.abc import Callable, Collection, Iterator
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

DATA_EXCHANGES = (
    "adobe",
    "appnexus",
    "blue_kai",
    "eyeota",
    "liveramp",
    "lotame",
    "measure",
    "media_math_direct",
    "taboola_direct",
    "trade_desk_direct",
    "rtvi",
)
FILTER_IDS = (
    "b2c_interest",
    "ccm_company_revenue",
    "ccm_company_size",
    "ccm_industry",
    "ccm_seniority",
    "country",
    "functional_area",
    "install_data",
    "intent_category",
    "professional_group",
    "state",
)
IDENTITY_FIELDS = ("externalId", "partnerId")
TARGETING_FIELDS = ("topics", "domains", "filters", "surgeId", "granularInstallData")
# Fields the API writes: a body that sends them back is refused, not silently trimmed.
READ_ONLY_FIELDS = ("status", "createdDate", "modifiedDate")
DEFAULTS = {"filterOr": False, "entityParty": 3}
# The errors key of the rule that spans fields: at least one targeting field.
TARGETING_ERROR_KEY = "targeting"

_REQUIRED_ON_CREATE = {
    "adobe": ("name", "endDate", "partnerId"),
    "appnexus": ("name", "endDate", "externalId", "partnerId", "cpmPrice"),
    "trade_desk_direct": ("name", "endDate", "partnerId", "cpmPrice"),
}
_REQUIRED_ELSEWHERE = ("name", "endDate")
_NUMERIC_PARTNER_EXCHANGES = ("adobe", "appnexus")
_MAX_MONTHS_AHEAD = 13
_EXTERNAL_ID = re.compile(r"[A-Za-z0-9_-]+")
_MEDIA_MATH_EXTERNAL_ID = re.compile(r"[0-9]{7,}")
_NOT_A_DATE_TIME = "must be an ISO 8601 date-time, e.g. 2030-01-31T00:00:00Z"
_DIGITS = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")
_APPNEXUS_CPM_STEP = Decimal("0.25")


def required_on_create(data_exchange: str) -> tuple[str, ...]:
    return _REQUIRED_ON_CREATE.get(data_exchange, _REQUIRED_ELSEWHERE)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _text(value: Any, data_exchange: str) -> Iterator[str]:
    if not _is_text(value):
        yield "must be a non-empty string"


def _months_later(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` calendar months later (the month's last day if it is shorter)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def _end_date(value: Any, data_exchange: str) -> Iterator[str]:
    # A date-time, not a bare date: the time part starts at the 11th character.
    if not (isinstance(value, str) and len(value) > 10 and value[10] in "Tt"):
        yield _NOT_A_DATE_TIME
        return
    try:
        # Python 3.10's fromisoformat does not read the "Z" suffix.
        moment = datetime.fromisoformat(value[:-1] + "+00:00" if value[-1] in "Zz" else value)
    except ValueError:
        yield _NOT_A_DATE_TIME
        return
    if moment.tzinfo is None:  # the API's own datetimes are UTC without a zone
        moment = moment.replace(tzinfo=timezone.utc)
    now = datetime.now(timezone.utc)
    if moment <= now:
        yield "must be in the future"
    elif moment > _months_later(now, _MAX_MONTHS_AHEAD):
        yield f"must be at most {_MAX_MONTHS_AHEAD} months ahead"


def _external_id(value: Any, data_exchange: str) -> Iterator[str]:
    if data_exchange == "media_math_direct":
        if not (isinstance(value, str) and _MEDIA_MATH_EXTERNAL_ID.fullmatch(value)):
            yield "must be numeric, at least 7 digits, for media_math_direct"
    elif not (isinstance(value, str) and _EXTERNAL_ID.fullmatch(value)):
        yield "must be letters, digits, - and _ only"


def _partner_id(value: Any, data_exchange: str) -> Iterator[str]:
    if not _is_text(value):
        yield "must be a non-empty string"
    elif data_exchange in _NUMERIC_PARTNER_EXCHANGES and not _DIGITS.fullmatch(value):
        yield f"must be numeric for {data_exchange}"


def _cpm_price(value: Any, data_exchange: str) -> Iterator[str]:
    if not (isinstance(value, str) and _DECIMAL.fullmatch(value)):
        yield 'must be a string holding a positive decimal, e.g. "1.50"'
        return
    price = Decimal(value)  # the pattern above guarantees it parses
    if price <= 0:
        yield "must be positive"
    elif data_exchange == "appnexus" and price % _APPNEXUS_CPM_STEP != 0:
        yield "must be a multiple of 0.25 for appnexus"


def _strings(value: Any, data_exchange: str) -> Iterator[str]:
    if not (isinstance(value, list) and all(_is_text(item) for item in value)):
        yield "must be an array of non-empty strings"


def _filters(value: Any, data_exchange: str) -> Iterator[str]:
    if not isinstance(value, list):
        yield 'must be an array of {"id", "values"} objects'
        return
    for position, item in enumerate(value):
        if not isinstance(item, dict):
            yield f'filter {position} must be an object {{"id", "values"}}'
            continue
        unknown = sorted(set(item) - {"id", "values"})
        if unknown:
            yield f"filter {position} has unknown fields: {', '.join(unknown)}"
        if item.get("id") not in FILTER_IDS:
            yield f"filter {position}: id must be one of {', '.join(FILTER_IDS)}"
        values = item.get("values")
        if not (isinstance(values, list) and values and all(_is_text(entry) for entry in values)):
            yield f"filter {position}: values must be a non-empty array of non-empty strings"


def _granular_install_data(value: Any, data_exchange: str) -> Iterator[str]:
    # Its inner shape is not documented: any array or object, stored as sent.
    if not isinstance(value, (list, dict)):
        yield "must be an array or an object"


def _boolean(value: Any, data_exchange: str) -> Iterator[str]:
    if not isinstance(value, bool):
        yield "must be true or false"


def _entity_party(value: Any, data_exchange: str) -> Iterator[str]:
    if isinstance(value, bool) or value not in (1, 3):
        yield "must be 1 or 3"


_FIELD_RULES: dict[str, Callable[[Any, str], Iterator[str]]] = {
    "name": _text,
    "endDate": _end_date,
    "externalId": _external_id,
    "partnerId": _partner_id,
    "cpmPrice": _cpm_price,
    "domains": _strings,
    "topics": _strings,
    "filters": _filters,
    "surgeId": _text,
    "granularInstallData": _granular_install_data,
    "filterOr": _boolean,
    "entityParty": _entity_party,
}


def audience_errors(data_exchange: str, body: dict[str, Any], required: Collection[str]) -> dict[str, list[str]]:
    """Every problem of ``body`` for an audience on ``data_exchange``, field -> messages (empty if none)."""
    errors: dict[str, list[str]] = {}
    for name in required:
        if name not in body:
            errors[name] = ["is required"]
    for name, value in body.items():
        if name in READ_ONLY_FIELDS:
            errors[name] = ["is read-only"]
        elif name not in _FIELD_RULES:
            errors[name] = ["is not a field of a digital audience"]
        else:
            messages = list(_FIELD_RULES[name](value, data_exchange))
            if messages:
                errors[name] = messages
    if not any(body.get(name) for name in TARGETING_FIELDS):
        errors[TARGETING_ERROR_KEY] = [f"at least one of {', '.join(TARGETING_FIELDS)} is required"]
    return errors


def estimated_count(body: dict[str, Any]) -> int:
    """The sandbox's audience size for a valid ``body``: the distinct domains (lower-cased; none
    when ``surgeId`` overrides them) plus, when any other targeting field is given, 1000 to
    9999 accounts derived from the SHA-256 of those fields' canonical JSON."""
    domains = () if body.get("surgeId") else body.get("domains") or ()
    count = len({domain.lower() for domain in domains})
    others = [body.get(name) for name in ("topics", "filters", "surgeId", "granularInstallData")]
    if any(others):
        canonical = json.dumps(others, sort_keys=True, separators=(",", ":"))
        count += 1000 + int(hashlib.sha256(canonical.encode()).hexdigest()[:8], 16) % 9000
    return count
