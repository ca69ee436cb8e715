"""Work out which domains to add to and remove from a Bombora account list.

:func:`collect_desired` streams the records once and keeps only what the plan needs: sets
of normalised domains, counts of rejections by reason and a small sample of rejections.
Records themselves are never kept, and primary ids are read only to check they are present:
they never appear in a result.

:func:`plan_mirror` and :func:`plan_delta` compare the desired domains with the list's
current ones, read once and never copied into a set: a million domains hold their memory
twice already (desired and current), the peak of a rerun. Their lists come in set order,
not sorted: sorting a million domains costs about a second, and the order does not matter
to the API.

Rejection reasons: ``not_an_object``, ``missing_primary_id``, ``missing_domain``,
``unknown_status`` (delta mode only), and the reasons of
:func:`~airflow_provider_bombora.domains.normalize_domain` other than ``empty``, which is
reported as ``missing_domain``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from airflow_provider_bombora.domains import InvalidDomain, normalize_domain
from airflow_provider_bombora.exceptions import BomboraValidationError
from airflow_provider_bombora.mappings import ValidatedMappings
from airflow_provider_bombora.records import make_field_getter

MIRROR = "mirror"
DELTA = "delta"
SYNC_MODES = (MIRROR, DELTA)

# Adobe's segment membership statuses: "realized" and "existing" are members, "exited" left.
MEMBER_STATUSES = frozenset({"realized", "existing"})
EXITED_STATUSES = frozenset({"exited"})

NOT_AN_OBJECT = "not_an_object"
MISSING_PRIMARY_ID = "missing_primary_id"
MISSING_DOMAIN = "missing_domain"
UNKNOWN_STATUS = "unknown_status"

SAMPLE_VALUE_LENGTH = 100


@dataclass
class DesiredAudience:
    """What the records ask for.

    ``to_add_candidates`` are the domains that should be members (all of them in mirror
    mode); ``to_remove_candidates`` those whose membership exited (delta mode only).
    ``valid`` counts distinct valid domains; ``received`` counts records, rejected ones too.
    Each ``rejected_sample`` entry is ``{"record": position, "reason": ..., "value": domain}``
    (plus ``"status"`` for ``unknown_status``), values cut to 100 characters.
    """

    sync_mode: str
    received: int
    valid: int
    to_add_candidates: set[str]
    to_remove_candidates: set[str] = field(default_factory=set)
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    rejected_sample: list[dict[str, object]] = field(default_factory=list)


@dataclass(frozen=True)
class Plan:
    """The domains to add and to remove, and how many wanted members are already in the list."""

    to_add: list[str]
    to_remove: list[str]
    unchanged: int


def collect_desired(
    records: Iterable[tuple[int, object]],
    mappings: ValidatedMappings,
    *,
    sync_mode: str,
    status_field: str = "status",
    sample_size: int = 10,
) -> DesiredAudience:
    """Read ``(position, record)`` pairs (as :func:`~airflow_provider_bombora.records.iter_records`
    yields them) into the set of domains wanted.

    A domain seen twice counts once. In delta mode a domain both added and exited in one
    input takes the status of its last record. ``status_field`` (a source path, like the
    mappings' sources) is read only in delta mode.
    """
    if sync_mode not in SYNC_MODES:
        raise BomboraValidationError("sync_mode", f"must be one of {list(SYNC_MODES)}, got {sync_mode!r}")
    is_delta = sync_mode == DELTA
    if is_delta and (not isinstance(status_field, str) or not status_field.strip()):
        raise BomboraValidationError(
            "status_field", f"must name the record field holding the status, got {status_field!r}"
        )
    get_primary_id = make_field_getter(mappings.primary_id_source)
    get_domain = make_field_getter(mappings.domain_source)
    get_status = make_field_getter(status_field) if is_delta else None
    members: set[str] = set()
    exited: set[str] = set()
    rejected_by_reason: dict[str, int] = {}
    rejected_sample: list[dict[str, object]] = []

    def reject(position: int, reason: str, domain_value: object, **extra: object) -> None:
        rejected_by_reason[reason] = rejected_by_reason.get(reason, 0) + 1
        if len(rejected_sample) < sample_size:
            entry = {"record": position, "reason": reason, "value": _sample_value(domain_value)}
            entry.update((name, _sample_value(value)) for name, value in extra.items())
            rejected_sample.append(entry)

    received = 0
    for position, record in records:
        received += 1
        if not isinstance(record, dict):
            reject(position, NOT_AN_OBJECT, None)  # the record may hold the primary id: show nothing
            continue
        domain_value = get_domain(record)
        primary_id = get_primary_id(record)
        if primary_id is None or (isinstance(primary_id, str) and not primary_id.strip()):
            reject(position, MISSING_PRIMARY_ID, domain_value)
            continue
        try:
            domain = normalize_domain(domain_value)
        except InvalidDomain as invalid:
            reject(position, MISSING_DOMAIN if invalid.reason == "empty" else invalid.reason, domain_value)
            continue
        if not is_delta:
            members.add(domain)
            continue
        status = get_status(record)
        normalised_status = status.strip().lower() if isinstance(status, str) else None
        if normalised_status in MEMBER_STATUSES:
            members.add(domain)
            exited.discard(domain)
        elif normalised_status in EXITED_STATUSES:
            exited.add(domain)
            members.discard(domain)
        else:
            reject(position, UNKNOWN_STATUS, domain_value, status=status)

    return DesiredAudience(
        sync_mode=sync_mode,
        received=received,
        valid=len(members) + len(exited),
        to_add_candidates=members,
        to_remove_candidates=exited,
        rejected_by_reason=rejected_by_reason,
        rejected_sample=rejected_sample,
    )


def plan_mirror(desired: set[str], current: Iterable[str]) -> Plan:
    """Make the list hold exactly ``desired``: add what is missing, remove everything else.

    ``desired`` is consumed: it ends holding the domains to add. ``current``, the list's
    domains, is iterated twice (a one-shot iterator is listed first) and no set is made of it:
    with a million domains on each side, neither a set of the current domains nor a list of
    those already held is kept next to ``desired``.
    """
    if iter(current) is current:
        current = list(current)
    stale = [domain for domain in current if domain not in desired]
    wanted = len(desired)
    desired.difference_update(current)
    to_add = list(desired)
    return Plan(to_add=to_add, to_remove=_once_each(stale), unchanged=wanted - len(to_add))


def plan_delta(add: set[str], remove: set[str], current: Iterable[str]) -> Plan:
    """Add the ``add`` domains not yet in the list and remove the ``remove`` domains that are.

    ``unchanged`` counts the ``add`` domains already in the list; removing a domain that is
    not in the list is no change and is not counted. ``current`` is read once, as in
    :func:`plan_mirror`.
    """
    held: list[str] = []
    exited: list[str] = []
    for domain in current:
        if domain in add:
            held.append(domain)
        if domain in remove:
            exited.append(domain)
    to_add = _all_but(add, held)
    return Plan(to_add=to_add, to_remove=_once_each(exited), unchanged=len(add) - len(to_add))


def _all_but(domains: set[str], held: list[str]) -> list[str]:
    """The ``domains`` not in ``held`` (which are all among ``domains``), in set order.

    With a million domains in both, a set of ``held`` or a copy of ``domains`` would add
    32 MB to the run's peak memory. Instead the held domains are taken out of ``domains``
    while the rest are listed, then put back: ``domains`` ends holding what it held.
    """
    domains.difference_update(held)
    try:
        return list(domains)
    finally:
        domains.update(held)


def _once_each(domains: list[str]) -> list[str]:
    # The domains call answers each domain once; an iterable given by other callers may repeat one.
    return list(dict.fromkeys(domains))


def _sample_value(value: object) -> object:
    if value is None:
        return None
    text = value if isinstance(value, str) else repr(value)
    return text[:SAMPLE_VALUE_LENGTH]
