"""Bombora's Digital Audience Builder (``/digital-audiences/v1``): the operator's inputs checked and
turned into a request body, what a rerun would change, and whether an audience is active. The
exchange table and the checks of single parameters live in :mod:`.digital_audience_parameters`.

A digital audience pushes accounts to a DSP or data exchange. The provider identifies one by
(data exchange, external id, partner id), the path of Bombora's GET and PUT calls, so that a
rerun reads the audience back and updates it instead of creating another: the external id and
the partner id are required for every exchange, even where Bombora would make them up.

Choices where Bombora's documents are silent:

* ``end_date`` given as a date (``2027-02-25``) means the end of that day, 23:59:59 UTC; a
  date-time without a zone means UTC. It is sent in whole seconds, must be after now and at
  most 13 calendar months ahead of it (a day that does not exist then is the month's last).
* ``cpm_price`` is dollars and cents: a positive number of at most 2 decimals, sent as text
  with exactly 2 (``"1.5"`` -> ``"1.50"``).
* ``topics``, filter values and ``granular_install_data`` are ids as text (numbers become text).
* ``surge_id`` with ``domains`` is refused: Bombora would ignore the domains.
* Every problem found is reported in one :class:`BomboraValidationError`, under the field of the
  first one.

Pure module: no Airflow or HTTP import.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, ClassVar, Protocol

from airflow_provider_bombora.digital_audience_parameters import (
    EXCHANGES,
    AudienceFilter,
    Exchange,
    Problems,
    as_decimal,
    format_utc,
    validate_cpm_price,
    validate_data_exchange,
    validate_domains,
    validate_end_date,
    validate_entity_party,
    validate_external_id,
    validate_filters,
    validate_flag,
    validate_ids,
    validate_optional_id,
    validate_partner_id,
)
from airflow_provider_bombora.exceptions import (
    BomboraDigitalAudienceError,
    BomboraDigitalAudienceTimeoutError,
    BomboraError,
    BomboraNotFoundError,
    BomboraValidationError,
)
from airflow_provider_bombora.hooks.wire import digital_audience_path
from airflow_provider_bombora.parameters import as_number, is_blank, parse_utc, validate_audience_name
from airflow_provider_bombora.polling import Status

#: The keys of the status result (the sensor's XCom return value), in this order. Not "status":
#: a trigger's event has that key for itself.
AUDIENCE_RESULT_KEYS = (
    "data_exchange",
    "external_id",
    "partner_id",
    "audience_name",
    "audience_status",
    "domain_count",
)
_TARGETING_PARAMETERS = ("domains", "topics", "filters", "surge_id", "granular_install_data")
_TARGETING_PARAMETERS_TEXT = "domains (non-empty), topics, filters, surge_id or granular_install_data"


class DigitalAudienceStatusClient(Protocol):
    """The part of the synchronous hook that reading an audience's status needs."""

    def get_digital_audience(self, data_exchange: str, external_id: str, partner_id: str) -> dict[str, Any]: ...


class AsyncDigitalAudienceStatusClient(Protocol):
    """The part of the asynchronous hook that reading an audience's status needs."""

    def get_digital_audience(
        self, data_exchange: str, external_id: str, partner_id: str
    ) -> Awaitable[dict[str, Any]]: ...


@dataclass(frozen=True)
class DigitalAudienceTarget:
    """Which digital audience: the three parts of its API path. A :class:`~.polling.Watch` of the
    audience until it is active (see :func:`evaluate_audience_status`)."""

    result_keys: ClassVar[tuple[str, ...]] = AUDIENCE_RESULT_KEYS
    failure: ClassVar[type[BomboraError]] = BomboraDigitalAudienceError
    timeout: ClassVar[type[BomboraError]] = BomboraDigitalAudienceTimeoutError
    finished: ClassVar[str] = "active"

    data_exchange: str
    external_id: str
    partner_id: str

    @classmethod
    def from_parameters(cls, *, data_exchange: Any, external_id: Any, partner_id: Any) -> DigitalAudienceTarget:
        """Validate task parameters as rendered by templating (ids may be numbers) and build the target.

        :raises BomboraValidationError: naming the parameter at fault.
        """
        problems = Problems()
        exchange = problems.check(lambda: validate_data_exchange(data_exchange), None)
        target = cls(
            data_exchange=exchange.data_exchange if exchange else "",
            external_id=problems.check(lambda: validate_external_id(external_id, exchange), ""),
            partner_id=problems.check(lambda: validate_partner_id(partner_id, exchange), ""),
        )
        problems.raise_any()
        return target

    def to_parameters(self) -> dict[str, Any]:
        """The JSON-serialisable parameters :meth:`from_parameters` rebuilds this target from."""
        return {"data_exchange": self.data_exchange, "external_id": self.external_id, "partner_id": self.partner_id}

    @property
    def exchange(self) -> Exchange:
        return EXCHANGES[self.data_exchange]

    def describe(self) -> str:
        """How messages name the audience: ``Bombora digital audience <external id> (partner <id>) on <exchange>``."""
        return (
            f"Bombora digital audience {self.external_id} (partner {self.partner_id}) on {self.exchange.describe()}"
        )

    def identity(self) -> dict[str, Any]:
        """What names the audience in a failure event."""
        return self.to_parameters()

    def identified_by(self, result: Mapping[str, Any]) -> DigitalAudienceTarget:
        """This target: its three ids name the audience from the first check on."""
        return self

    def read(self, client: DigitalAudienceStatusClient) -> Status:
        """Read the audience through a synchronous hook and evaluate it (:func:`evaluate_audience_status`).

        :raises BomboraDigitalAudienceError: when it does not exist (404) or is suspended.
        :raises BomboraApiError: when Bombora could not be asked (the hook's retries ran out).
        """
        with self._missing_reported():
            audience = client.get_digital_audience(self.data_exchange, self.external_id, self.partner_id)
        return evaluate_audience_status(audience, self)

    async def aread(self, client: AsyncDigitalAudienceStatusClient) -> Status:
        """:meth:`read` through an asynchronous hook."""
        with self._missing_reported():
            audience = await client.get_digital_audience(self.data_exchange, self.external_id, self.partner_id)
        return evaluate_audience_status(audience, self)

    def success_message(self, result: Mapping[str, Any]) -> str:
        """The log line of an active audience."""
        count = result["domain_count"]
        return f"{self.describe()} is active{f' with {count} domains' if count is not None else ''}."

    @contextmanager
    def _missing_reported(self) -> Iterator[None]:
        try:
            yield
        except BomboraNotFoundError as error:
            raise BomboraDigitalAudienceError(missing_audience_message(self)) from error


@dataclass(frozen=True)
class DigitalAudienceSpec:
    """An audience as the operator's checked inputs describe it (see :func:`build_audience_spec`)."""

    data_exchange: str
    audience_name: str
    end_date: datetime  # aware, UTC, whole seconds
    external_id: str
    partner_id: str
    cpm_price: str | None = None  # dollars, 2 decimals
    domains: tuple[str, ...] = field(default=(), repr=False)  # sorted, distinct
    topics: tuple[str, ...] = ()
    filters: tuple[AudienceFilter, ...] = ()
    surge_id: str | None = None
    granular_install_data: tuple[str, ...] = ()
    filter_or: bool | None = None  # None: Bombora's default, false
    entity_party: int | None = None  # None: Bombora's default, 3

    @property
    def target(self) -> DigitalAudienceTarget:
        return DigitalAudienceTarget(self.data_exchange, self.external_id, self.partner_id)


def build_audience_spec(
    *,
    data_exchange: Any,
    audience_name: Any,
    end_date: Any,
    partner_id: Any,
    external_id: Any,
    cpm_price: Any,
    domains: Iterable[str] | None = None,
    topics: Any = None,
    filters: Any = None,
    surge_id: Any = None,
    granular_install_data: Any = None,
    filter_or: Any = None,
    entity_party: Any = None,
    domains_to_come: bool = False,
    now: datetime,
) -> DigitalAudienceSpec:
    """Check the operator's inputs, as rendered by templating, against the rules of the module
    docstring and of :data:`EXCHANGES`; nothing is sent before they all pass.

    Optional values that are None, blank or the text ``None`` count as not given; numbers may be
    given as text. ``domains`` are already normalised (:func:`~.domains.normalize_domain`).

    :param domains_to_come: The domains are read after this check (from an account list or
        records, which takes calls): skip the rules that need them, to be checked again with them.
    :param now: The current time, aware; ``end_date`` is checked against it.
    :raises BomboraValidationError: naming the first parameter at fault, with every problem found.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    now = now.astimezone(timezone.utc)
    problems = Problems()
    exchange = problems.check(lambda: validate_data_exchange(data_exchange), None)
    name = None if is_blank(audience_name) else audience_name  # a template's "None" is no name
    spec = DigitalAudienceSpec(
        data_exchange=exchange.data_exchange if exchange else "",
        audience_name=problems.check(lambda: validate_audience_name(name), ""),
        end_date=problems.check(lambda: validate_end_date(end_date, now), now),
        external_id=problems.check(lambda: validate_external_id(external_id, exchange), ""),
        partner_id=problems.check(lambda: validate_partner_id(partner_id, exchange), ""),
        cpm_price=problems.check(lambda: validate_cpm_price(cpm_price, exchange), None),
        domains=problems.check(lambda: validate_domains(domains), ()),
        topics=problems.check(lambda: validate_ids("topics", topics), ()),
        filters=problems.check(lambda: validate_filters(filters), ()),
        surge_id=problems.check(lambda: validate_optional_id("surge_id", surge_id), None),
        granular_install_data=problems.check(lambda: validate_ids("granular_install_data", granular_install_data), ()),
        filter_or=problems.check(lambda: validate_flag("filter_or", filter_or), None),
        entity_party=problems.check(lambda: validate_entity_party(entity_party), None),
    )
    if not domains_to_come and not problems.failed(*_TARGETING_PARAMETERS):
        problems.check(lambda: _check_targeting(spec, domains), None)
    problems.raise_any()
    return spec


def audience_body(spec: DigitalAudienceSpec) -> dict[str, Any]:
    """The JSON body of a create (POST) or update (PUT, a full overwrite), without the values not
    given (Bombora's defaults apply). An estimate (``POST .../estimate``) takes the same body."""
    body: dict[str, Any] = {
        "name": spec.audience_name,
        "endDate": format_utc(spec.end_date),
        "externalId": spec.external_id,
        "partnerId": spec.partner_id,
    }
    optional = {
        "cpmPrice": spec.cpm_price,
        "domains": list(spec.domains),
        "topics": list(spec.topics),
        "filters": [{"id": item.filter_id, "values": list(item.values)} for item in spec.filters],
        "surgeId": spec.surge_id,
        "granularInstallData": list(spec.granular_install_data),
        "filterOr": spec.filter_or,
        "entityParty": spec.entity_party,
    }
    body.update((name, value) for name, value in optional.items() if value is not None and value != [])
    return body


def changed_fields(stored: Mapping[str, Any], body: Mapping[str, Any]) -> list[str]:
    """The fields of ``body`` (:func:`audience_body`) that would change the audience Bombora gave back
    (``GET``), in body order; empty: a rerun has nothing to update.

    A field missing from either side has Bombora's default (a PUT overwrites it with that).
    ``domains`` and ``topics`` are compared as sets, filters by id with their values as sets,
    ``endDate`` as an instant to the second (no zone means UTC), ``cpmPrice`` as a number.
    ``externalId`` and ``partnerId`` are what the audience was read by, and fields the API writes
    (``status``, dates) are not the body's: neither is compared. Nor are ``domains`` when ``body``
    has a ``surgeId``, which overrides them.
    """
    compared = [name for name in _COMPARABLE if not (name == "domains" and body.get("surgeId"))]
    return [name for name in compared if _COMPARABLE[name](stored.get(name)) != _COMPARABLE[name](body.get(name))]


# --- Status -----------------------------------------------------------------------------------

_STATUS_NAMES = {"pending": "Pending", "active": "Active", "suspended": "Suspended"}


def evaluate_audience_status(audience: Mapping[str, Any], target: DigitalAudienceTarget) -> Status:
    """Decide from one read of the audience whether it is active (``done``), comparing ``status``
    case-insensitively; ``result`` holds :data:`AUDIENCE_RESULT_KEYS`, the status in Bombora's
    spelling (``ACTIVE`` -> ``Active``). A pending or unknown status is waited for.

    :raises BomboraDigitalAudienceError: when the audience is suspended; the message says how to resume it.
    """
    status = audience.get("status")
    known = _STATUS_NAMES.get(status.strip().lower()) if isinstance(status, str) else None
    domains = audience.get("domains")
    result = {
        **target.to_parameters(),
        "audience_name": audience.get("name"),
        "audience_status": known or status,
        "domain_count": len(domains) if isinstance(domains, list) else None,
    }
    if known == "Active":
        return Status(True, result)
    if known == "Suspended":
        raise BomboraDigitalAudienceError(suspended_message(target))
    if known == "Pending":
        return Status(False, result, "Bombora has not activated it yet (status Pending)")
    known_statuses = ", ".join(_STATUS_NAMES.values())
    return Status(False, result, f"its status is {status!r:.60}, not Active (Bombora's statuses: {known_statuses})")


def suspended_message(target: DigitalAudienceTarget) -> str:
    return (
        f"{target.describe()} is suspended: Bombora does not deliver it to {target.exchange.display_name}. "
        "Resume it with activate=True on the operator, or PUT "
        f"{digital_audience_path(target.data_exchange, target.external_id, target.partner_id, '/activate')}"
    )


def missing_audience_message(target: DigitalAudienceTarget) -> str:
    """Why a read of the audience answered 404."""
    return (
        f"{target.describe()} does not exist (HTTP 404): it was deleted, or the data exchange, "
        "external id or partner id is wrong"
    )


# --- Checks and comparisons -------------------------------------------------------------------


def _check_targeting(spec: DigitalAudienceSpec, domains: Iterable[str] | None) -> None:
    if spec.surge_id is not None and spec.domains:
        raise BomboraValidationError(
            "surge_id", "is given with domains, which Bombora would ignore (surgeId overrides them): give one of them"
        )
    if not (spec.domains or spec.topics or spec.filters or spec.surge_id or spec.granular_install_data):
        empty = "domains is empty; " if domains is not None else ""
        raise BomboraValidationError(
            "domains", f"{empty}the audience needs at least one of {_TARGETING_PARAMETERS_TEXT}"
        )


def _comparable_text(value: Any) -> Any:
    text = "" if value is None else str(value).strip()
    return text or None


def _comparable_instant(value: Any) -> Any:
    try:
        return parse_utc(value).replace(microsecond=0) if isinstance(value, str) else value
    except ValueError:
        return value


def _comparable_price(value: Any) -> Any:
    price = as_decimal(value)
    return price if price is not None and price.is_finite() else value or None


def _comparable_set(value: Any) -> Any:
    if not isinstance(value, list):
        return value or frozenset()
    return frozenset(str(item).strip().lower() for item in value)


def _comparable_filters(value: Any) -> Any:
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        return value or {}
    return {item.get("id"): _comparable_set(item.get("values")) for item in value}


def _comparable_flag(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return False if value is None else value


def _comparable_party(value: Any) -> Any:
    number = as_number(value)
    return 3 if value is None or value == "" else number if number is not None else value


# Each body field, read the same way from either side: what Bombora writes back may differ in form only.
_COMPARABLE: dict[str, Callable[[Any], Any]] = {
    "name": _comparable_text,
    "endDate": _comparable_instant,
    "cpmPrice": _comparable_price,
    "domains": _comparable_set,
    "topics": _comparable_set,
    "filters": _comparable_filters,
    "surgeId": _comparable_text,
    "granularInstallData": _comparable_set,
    "filterOr": _comparable_flag,
    "entityParty": _comparable_party,
}
