"""The data exchanges of Bombora's Digital Audience Builder, what each requires, and the checks of
a digital audience's parameters as rendered by templating (contract section 3).

:data:`EXCHANGES` is the table the docs are checked against. Each ``validate_*`` function raises
:class:`~airflow_provider_bombora.exceptions.BomboraValidationError` naming the operator's parameter
(``cpm_price``, not ``cpmPrice``) and the rule; :class:`Problems` gathers them so that one error
reports every problem. An optional value that is None, blank or the text ``None`` is not given
(:func:`~airflow_provider_bombora.parameters.is_blank`); numbers may be given as text.

Pure module: no Airflow or HTTP import.
"""

from __future__ import annotations

import calendar
import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, TypeVar

from airflow_provider_bombora.domains import InvalidDomain, normalize_domain
from airflow_provider_bombora.exceptions import BomboraValidationError
from airflow_provider_bombora.hooks.wire import DIGITAL_AUDIENCES_PATH
from airflow_provider_bombora.parameters import as_number, is_blank, parse_utc

T = TypeVar("T")

MAX_MONTHS_AHEAD = 13
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
ENTITY_PARTIES = (1, 3)  # first party only, or third party (Bombora's default)


@dataclass(frozen=True)
class IdRule:
    """Which characters an external id or a partner id may have."""

    description: str
    pattern: str

    def matches(self, value: str) -> bool:
        return re.fullmatch(self.pattern, value) is not None


IDENTIFIER = IdRule("letters, digits, '-' and '_'", r"[A-Za-z0-9_-]+")
NUMERIC = IdRule("digits only", r"[0-9]+")
NUMERIC_7 = IdRule("digits only, at least 7 of them", r"[0-9]{7,}")


@dataclass(frozen=True)
class Exchange:
    """One data exchange: its path value, its name, and Bombora's rules for its audiences.

    :param required_on_create: The body fields Bombora requires to create an audience there
        (the provider requires ``externalId`` and ``partnerId`` for every exchange besides).
    :param cpm_price_step: The step CPM prices must be a multiple of; None: any cent.
    """

    data_exchange: str
    display_name: str
    required_on_create: tuple[str, ...] = ("name", "endDate")
    external_id_rule: IdRule = IDENTIFIER
    partner_id_rule: IdRule = IDENTIFIER
    cpm_price_step: Decimal | None = None
    test_only: bool = False

    @property
    def requires_cpm_price(self) -> bool:
        return "cpmPrice" in self.required_on_create

    def describe(self) -> str:
        return f"{self.display_name} ({self.data_exchange})"


EXCHANGES: Mapping[str, Exchange] = MappingProxyType(
    {
        exchange.data_exchange: exchange
        for exchange in (
            Exchange("adobe", "Adobe", ("name", "endDate", "partnerId"), partner_id_rule=NUMERIC),
            Exchange(
                "appnexus",
                "Xandr",
                ("name", "endDate", "externalId", "partnerId", "cpmPrice"),
                partner_id_rule=NUMERIC,
                cpm_price_step=Decimal("0.25"),
            ),
            Exchange("blue_kai", "Oracle BlueKai"),
            Exchange("eyeota", "Eyeota"),
            Exchange("liveramp", "LiveRamp"),
            Exchange("lotame", "Lotame"),
            Exchange("measure", "Measure (test only)", test_only=True),
            Exchange("media_math_direct", "MediaMath", external_id_rule=NUMERIC_7),
            Exchange("taboola_direct", "Taboola"),
            Exchange("trade_desk_direct", "The Trade Desk", ("name", "endDate", "partnerId", "cpmPrice")),
            Exchange("rtvi", "Visitor Insights (real time)"),
        )
    }
)


@dataclass(frozen=True)
class AudienceFilter:
    """One entry of ``filters``: a filter id of :data:`FILTER_IDS` and the values it keeps."""

    filter_id: str
    values: tuple[str, ...]


def validate_data_exchange(value: Any) -> Exchange:
    """The exchange of :data:`EXCHANGES` named by ``value`` (case and blanks aside), or a refusal
    that suggests the closest one ("tradedesk" -> trade_desk_direct, "xandr" -> appnexus)."""
    text = value.strip().lower() if isinstance(value, str) else ""
    if text in EXCHANGES:
        return EXCHANGES[text]
    suggestion = _closest(_squash(text), _EXCHANGE_ALIASES) if text else None
    hint = f"; did you mean {suggestion!r} ({EXCHANGES[suggestion].display_name})?" if suggestion else "."
    raise BomboraValidationError(
        "data_exchange",
        f"{value!r:.60} is not a Bombora data exchange{hint} The data exchanges are {', '.join(EXCHANGES)}",
    )


# --- Checks of single parameters --------------------------------------------------------------

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_END_OF_DAY = time(23, 59, 59)


class Problems:
    """Collects the refusals of independent checks, so that one error reports them all."""

    def __init__(self) -> None:
        self.errors: list[BomboraValidationError] = []

    def check(self, read: Callable[[], T], fallback: T) -> T:
        try:
            return read()
        except BomboraValidationError as error:
            self.errors.append(error)
            return fallback

    def failed(self, *fields: str) -> bool:
        return any(error.field in fields for error in self.errors)

    def raise_any(self) -> None:
        if not self.errors:
            return
        first, *others = self.errors
        also = "".join(f"; also {error.field}: {error.problem}" for error in others)
        raise BomboraValidationError(first.field, first.problem + also)


def validate_end_date(value: Any, now: datetime) -> datetime:
    """``end_date`` as an aware UTC datetime in whole seconds, after ``now`` and at most
    :data:`MAX_MONTHS_AHEAD` calendar months ahead of it. A date (a ``date``, or text
    ``YYYY-MM-DD``) means the end of that day, 23:59:59 UTC; a date-time without zone means UTC."""
    example = "a date such as 2027-02-25 (its end, 23:59:59 UTC) or an ISO 8601 date-time"
    if is_blank(value):
        raise BomboraValidationError("end_date", f"is required: {example}; Bombora suspends the audience then")
    try:
        if isinstance(value, datetime):
            moment = parse_utc(value)
        elif isinstance(value, date) or (isinstance(value, str) and _DATE.fullmatch(value.strip())):
            day = value if isinstance(value, date) else date.fromisoformat(value.strip())
            moment = datetime.combine(day, _END_OF_DAY, tzinfo=timezone.utc)
        elif isinstance(value, str):
            moment = parse_utc(value)
        else:
            raise ValueError(value)
    except ValueError:
        raise BomboraValidationError("end_date", f"must be {example}, got {value!r:.60}") from None
    moment = moment.replace(microsecond=0)
    latest = _months_later(now, MAX_MONTHS_AHEAD)
    if moment <= now:
        raise BomboraValidationError(
            "end_date", f"{format_utc(moment)} is not in the future (now is {format_utc(now)})"
        )
    if moment > latest:
        raise BomboraValidationError(
            "end_date",
            f"{format_utc(moment)} is more than {MAX_MONTHS_AHEAD} months ahead of now: Bombora takes "
            f"at most {format_utc(latest)} (a date means its end: the last date that fits is {_last_day(latest)})",
        )
    return moment


def _last_day(latest: datetime) -> date:
    """The last date whose end (23:59:59) is not after ``latest``."""
    return latest.date() if latest.time() >= _END_OF_DAY else date.fromordinal(latest.date().toordinal() - 1)


def _months_later(moment: datetime, months: int) -> datetime:
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def format_utc(moment: datetime) -> str:
    """The ISO 8601 form Bombora's bodies use: ``2027-02-25T23:59:59Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def validate_external_id(value: Any, exchange: Exchange | None) -> str:
    """``external_id`` as text, by the exchange's rule (:data:`IDENTIFIER` when it is not known)."""
    return _identifier("external_id", value, exchange.external_id_rule if exchange else IDENTIFIER, exchange)


def validate_partner_id(value: Any, exchange: Exchange | None) -> str:
    """``partner_id`` as text, by the exchange's rule (:data:`IDENTIFIER` when it is not known)."""
    return _identifier("partner_id", value, exchange.partner_id_rule if exchange else IDENTIFIER, exchange)


def _identifier(field_name: str, value: Any, rule: IdRule, exchange: Exchange | None) -> str:
    if is_blank(value):
        raise BomboraValidationError(
            field_name,
            "is required for every data exchange: the provider identifies a digital audience by its data "
            "exchange, external id and partner id (the path of Bombora's GET and PUT "
            f"{DIGITAL_AUDIENCES_PATH}/{{dataexchange}}/{{externalId}}/{{partnerId}}), so that a rerun "
            "updates the audience instead of creating another",
        )
    text = _id_text(value)
    if text is None or not rule.matches(text):
        where = f" on {exchange.describe()}" if exchange else ""
        raise BomboraValidationError(
            field_name, f"{value!r:.60} is not valid{where}: Bombora accepts {rule.description}"
        )
    return text


def validate_cpm_price(value: Any, exchange: Exchange | None) -> str | None:
    """``cpm_price`` (text, or a number) as text with 2 decimals; None when not given where the
    exchange does not require it."""
    if is_blank(value):
        if exchange is not None and exchange.requires_cpm_price:
            raise BomboraValidationError(
                "cpm_price", f"is required on {exchange.describe()}: the audience's CPM in dollars, such as '1.25'"
            )
        return None
    price = as_decimal(value)
    if price is None or not price.is_finite() or price <= 0:
        raise BomboraValidationError(
            "cpm_price", f"must be a positive price in dollars such as '1.25', got {value!r:.60}"
        )
    exponent = price.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise BomboraValidationError("cpm_price", f"{value!r:.60} has more than 2 decimals: a CPM is dollars and cents")
    step = exchange.cpm_price_step if exchange else None
    if exchange is not None and step is not None and price % step:
        lower = price // step * step
        nearest = " or ".join(f"{option:.2f}" for option in (lower, lower + step) if option > 0)
        raise BomboraValidationError(
            "cpm_price",
            f"{price:.2f} is not a multiple of ${step:.2f}, the step of {exchange.describe()}; "
            f"the nearest valid prices are {nearest}",
        )
    return f"{price:.2f}"


def as_decimal(value: Any) -> Decimal | None:
    """``value`` (a number, or its text) as a Decimal; None for anything else, booleans included."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        return None
    try:
        # A float's repr is its shortest exact text: 1.1 stays 1.1, not 1.100000000000000088...
        return Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        return None


def validate_domains(domains: Iterable[str] | None) -> tuple[str, ...]:
    """Already normalised domains (:func:`~.domains.normalize_domain`), sorted and distinct."""
    if domains is None:
        return ()
    if isinstance(domains, (str, bytes, Mapping)) or not isinstance(domains, Iterable):
        raise BomboraValidationError("domains", f"must be a list of domains, got {type(domains).__name__}")
    distinct: set[str] = set()
    for domain in domains:
        try:
            normal = normalize_domain(domain)
        except InvalidDomain as error:
            raise BomboraValidationError("domains", f"{domain!r:.80} is not a domain ({error.reason})") from None
        if normal != domain:
            raise BomboraValidationError("domains", f"{domain!r:.80} is not normalised: Bombora knows it as {normal!r}")
        distinct.add(normal)
    return tuple(sorted(distinct))


def validate_ids(field_name: str, value: Any, *, required: bool = False) -> tuple[str, ...]:
    """A list of ids as text (numbers become text), distinct, in order; () when not given."""
    items = [] if is_blank(value) else value
    if not isinstance(items, (list, tuple, set, frozenset)):
        raise BomboraValidationError(field_name, f"must be a list of ids such as ['1503561'], got {value!r:.60}")
    ids = [_id_text(item) for item in items]
    if None in ids:
        raise BomboraValidationError(field_name, f"must hold non-empty strings only, got {list(items)!r:.80}")
    if required and not ids:
        raise BomboraValidationError(field_name, "must be a non-empty list of strings")
    return tuple(dict.fromkeys(text for text in ids if text is not None))


def _id_text(item: Any) -> str | None:
    text = str(item).strip() if isinstance(item, (str, int)) and not isinstance(item, bool) else ""
    return text or None


def validate_optional_id(field_name: str, value: Any) -> str | None:
    """An id as text (a number becomes text); None when not given."""
    if is_blank(value):
        return None
    text = _id_text(value)
    if text is None:
        raise BomboraValidationError(field_name, f"must be an id as a string, got {value!r:.60}")
    return text


def validate_filters(value: Any) -> tuple[AudienceFilter, ...]:
    """``filters``: ``{"id": one of FILTER_IDS, "values": [...]}`` dicts, one per id (any case)."""
    if is_blank(value) or value == []:
        return ()
    example = "[{'id': 'ccm_industry', 'values': ['Software']}]"
    if not isinstance(value, (list, tuple)):
        raise BomboraValidationError("filters", f"must be a list of filters such as {example}, got {value!r:.60}")
    found: dict[str, AudienceFilter] = {}
    for index, item in enumerate(value):
        where = f"filters[{index}]"
        if not isinstance(item, Mapping) or set(item) != {"id", "values"}:
            raise BomboraValidationError(
                "filters", f"{where} must be a dict of 'id' and 'values' only, such as {example}"
            )
        filter_id = item["id"].strip().lower() if isinstance(item["id"], str) else item["id"]
        if filter_id not in FILTER_IDS:
            suggestion = _closest(str(filter_id), {name: name for name in FILTER_IDS})
            hint = f"; did you mean {suggestion!r}?" if suggestion else ""
            raise BomboraValidationError(
                "filters", f"{where} has id {item['id']!r:.60}, not one of {', '.join(FILTER_IDS)}{hint}"
            )
        if filter_id in found:
            raise BomboraValidationError("filters", f"{where}: {filter_id} again; put all its values in one filter")
        try:
            values = validate_ids("filters", item["values"], required=True)
        except BomboraValidationError as error:
            raise BomboraValidationError("filters", f"{where} values {error.problem}") from None
        found[filter_id] = AudienceFilter(filter_id, values)
    return tuple(found.values())


def validate_flag(field_name: str, value: Any) -> bool | None:
    """A bool, or the text true/false (any case); None when not given."""
    if isinstance(value, bool):
        return value
    if is_blank(value):
        return None
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise BomboraValidationError(field_name, f"must be true or false, got {value!r:.60}")


def validate_entity_party(value: Any) -> int | None:
    """``entity_party``, 1 or 3 (or their text); None when not given."""
    if is_blank(value):
        return None
    number = as_number(value)
    if number is None or number not in ENTITY_PARTIES:
        raise BomboraValidationError(
            "entity_party", f"must be 1 (first party only) or 3 (third party), got {value!r:.60}"
        )
    return int(number)


# --- Suggestions ------------------------------------------------------------------------------


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _closest(wanted: str, choices: Mapping[str, str]) -> str | None:
    """The choice ``wanted`` is, or is closest to, by its aliases (the keys)."""
    if wanted in choices:
        return choices[wanted]
    matches = difflib.get_close_matches(wanted, list(choices), n=1, cutoff=0.6)
    return choices[matches[0]] if matches else None


def _exchange_aliases() -> dict[str, str]:
    """Squashed spellings of each exchange (its path value with and without ``_direct``, its display
    name and the parts of that name around parentheses) -> its path value."""
    aliases: dict[str, str] = {}
    for name, exchange in EXCHANGES.items():
        display = exchange.display_name
        spellings = [name, name.removesuffix("_direct"), display, *re.split(r"[()]", display)]
        aliases.update((_squash(spelling), name) for spelling in spellings if _squash(spelling))
    return aliases


_EXCHANGE_ALIASES = _exchange_aliases()
