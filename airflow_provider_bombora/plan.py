"""Work out which domains to add to and remove from a Bombora account list.

:func:`collect_desired` streams the records once and keeps only what the plan needs: sets
of normalised domains, counts of rejections by reason, a small sample of rejections with
their values masked (:func:`mask_value`), and hints about systematic problems. Records
themselves are never kept, and primary ids are read only to check they are present: they
never appear in a result.

Every record received is counted once: ``received == valid + rejected + duplicates``, where
``rejected`` is the sum of ``rejected_by_reason`` and ``duplicates`` counts the records whose
valid domain an earlier record already gave.

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

import difflib
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from airflow_provider_bombora.domains import InvalidDomain, normalize_domain
from airflow_provider_bombora.exceptions import BomboraValidationError, shorten
from airflow_provider_bombora.mappings import DOMAIN_TARGET, PRIMARY_ID_TARGET, ValidatedMappings, strip_xdm_prefix

# MIRROR stays importable from here, as it was before parameters.py became its home.
from airflow_provider_bombora.parameters import DELTA, MIRROR, validate_sync_mode  # noqa: F401
from airflow_provider_bombora.records import FieldGetter, Position, make_field_getter

# Adobe's segment membership statuses: "realized" and "existing" are members, "exited" left.
MEMBER_STATUSES = frozenset({"realized", "existing"})
EXITED_STATUSES = frozenset({"exited"})

NOT_AN_OBJECT = "not_an_object"
MISSING_PRIMARY_ID = "missing_primary_id"
MISSING_DOMAIN = "missing_domain"
UNKNOWN_STATUS = "unknown_status"

SAMPLE_VALUE_LENGTH = 100
MASK = "***"
#: How many of the first record's field names a hint lists.
HINT_FIELD_NAMES = 20


@dataclass
class DesiredAudience:
    """What the records ask for.

    ``to_add_candidates`` are the domains that should be members (all of them in mirror
    mode); ``to_remove_candidates`` those whose membership exited (delta mode only).
    ``received`` counts records, rejected ones too; ``valid`` counts distinct valid domains;
    ``duplicates`` the records whose valid domain was already counted (in delta mode the last
    record of a domain sets its status, the earlier ones are duplicates), so that
    ``received == valid + sum(rejected_by_reason.values()) + duplicates``.
    Each ``rejected_sample`` entry is ``{"record": position, "reason": ..., "value": masked}``
    where ``masked`` is the domain value as :func:`mask_value` masks it (plus ``"status"`` for
    ``unknown_status``: shown when it is a word like ``active``, else masked too).
    ``hints`` are sentences about problems common to all records (a mapped field no record
    has, records that are not dicts); they name fields, never show values.
    """

    received: int
    valid: int
    duplicates: int
    to_add_candidates: set[str]
    to_remove_candidates: set[str] = field(default_factory=set)
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    rejected_sample: list[dict[str, object]] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Plan:
    """The domains to add and to remove, and how many wanted members are already in the list."""

    to_add: list[str]
    to_remove: list[str]
    unchanged: int


def collect_desired(
    records: Iterable[tuple[Position, object]],
    mappings: ValidatedMappings,
    *,
    sync_mode: str,
    status_field: str = "status",
    sample_size: int = 10,
) -> DesiredAudience:
    """Read ``(position, record)`` pairs (as :func:`~airflow_provider_bombora.records.iter_records`
    yields them) into the set of domains wanted.

    A domain seen twice counts once, the later records as ``duplicates``. In delta mode a
    domain both added and exited in one input takes the status of its last record.
    ``status_field`` (a source path, like the mappings' sources) is read only in delta mode.
    """
    validate_sync_mode(sync_mode)
    is_delta = sync_mode == DELTA
    if is_delta and (not isinstance(status_field, str) or not status_field.strip()):
        raise BomboraValidationError(
            "status_field", f"must name the record field holding the status, got {status_field!r}"
        )
    get_primary_id = make_field_getter(mappings.primary_id_source)
    get_domain = make_field_getter(mappings.domain_source)
    # Called only in delta mode (the is_delta checks below), where status_field was checked.
    get_status: FieldGetter = make_field_getter(status_field) if is_delta else _no_field
    members: set[str] = set()
    exited: set[str] = set()
    rejected_by_reason: dict[str, int] = {}
    rejected_sample: list[dict[str, object]] = []
    non_dict_types: dict[type, int] = {}

    def reject(position: Position, reason: str, domain_value: object, **extra: object) -> None:
        rejected_by_reason[reason] = rejected_by_reason.get(reason, 0) + 1
        if len(rejected_sample) < sample_size:
            entry: dict[str, object] = {"record": position, "reason": reason, "value": mask_value(domain_value)}
            entry.update((name, _sample_status(value)) for name, value in extra.items())
            rejected_sample.append(entry)

    # Only what the loop computes anyway is counted for the hints: the rejection paths count the
    # dict records without a value (None or absent) for a mapped source; a valid record has both.
    received = duplicates = 0
    no_primary_id = no_domain = no_status = 0
    first_fields: list[str] | None = None
    for position, record in records:
        received += 1
        if not isinstance(record, dict):
            record_type = type(record)
            non_dict_types[record_type] = non_dict_types.get(record_type, 0) + 1
            reject(position, NOT_AN_OBJECT, None)  # the record may hold the primary id: show nothing
            continue
        if first_fields is None:
            first_fields = _field_names(record)
        domain_value = get_domain(record)
        primary_id = get_primary_id(record)
        if primary_id is None or (isinstance(primary_id, str) and not primary_id.strip()):
            no_primary_id += primary_id is None
            no_domain += domain_value is None
            no_status += is_delta and get_status(record) is None
            reject(position, MISSING_PRIMARY_ID, domain_value)
            continue
        try:
            domain = normalize_domain(domain_value)
        except InvalidDomain as invalid:
            no_domain += domain_value is None
            no_status += is_delta and get_status(record) is None
            reject(position, MISSING_DOMAIN if invalid.reason == "empty" else invalid.reason, domain_value)
            continue
        if not is_delta:
            if domain in members:
                duplicates += 1
            else:
                members.add(domain)
            continue
        status = get_status(record)
        normalised_status = status.strip().lower() if isinstance(status, str) else None
        if normalised_status in MEMBER_STATUSES:
            into, out_of = members, exited
        elif normalised_status in EXITED_STATUSES:
            into, out_of = exited, members
        else:
            no_status += status is None
            reject(position, UNKNOWN_STATUS, domain_value, status=status)
            continue
        if domain in into:
            duplicates += 1
        elif domain in out_of:  # the last record of a domain wins; the earlier one is a duplicate
            duplicates += 1
            out_of.discard(domain)
            into.add(domain)
        else:
            into.add(domain)

    hints: list[str] = []
    dict_records = received - rejected_by_reason.get(NOT_AN_OBJECT, 0)
    if dict_records:
        absent_sources = [
            (mappings.primary_id_source, f"mapped to {PRIMARY_ID_TARGET}", no_primary_id),
            (mappings.domain_source, f"mapped to {DOMAIN_TARGET}", no_domain),
        ]
        if is_delta:
            absent_sources.append((status_field, "the status_field", no_status))
        hints.extend(
            _absent_field_hint(source, role, first_fields or [])
            for source, role, without_value in absent_sources
            if without_value == dict_records
        )
    if non_dict_types:
        hints.append(_non_dict_hint(non_dict_types, mappings, status_field if is_delta else None))
    return DesiredAudience(
        received=received,
        valid=len(members) + len(exited),
        duplicates=duplicates,
        to_add_candidates=members,
        to_remove_candidates=exited,
        rejected_by_reason=rejected_by_reason,
        rejected_sample=rejected_sample,
        hints=hints,
    )


def _no_field(record: Mapping) -> None:
    """The getter of the status in mirror mode, where no status is read."""
    return None


# --- masking ------------------------------------------------------------------------------------

# Like normalize_domain, a name whose labels are all numbers is an IPv4 address (also 1.2.3, 127.1),
# here with an optional port.
_IPV4_LIKE = re.compile(r"[0-9]+(?:\.[0-9]+)+\.?(?::[0-9]*)?").fullmatch
# Statuses shown as they are: a word, as status values are; anything else is masked.
_STATUS_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}").fullmatch


def mask_value(value: object) -> str | None:
    """``value`` with only enough left to recognise it, for samples that end up in logs and XCom.

    An e-mail address keeps the first character of its local part and its domain
    (``jane.doe@acme.com`` → ``j***@acme.com``); an IP address its first group (``10.***``,
    ``2001:***``); any other value its first 2 characters (``acme`` → ``ac***``, ``x`` → ``x***``).
    A value that is not a string is masked as its ``repr``; ``None`` stays ``None``.
    """
    if value is None:
        return None
    text = value if isinstance(value, str) else repr(value)
    local, at, domain = text.rpartition("@")
    if at:
        address_group = _ip_address_first_group(domain)
        masked_domain = address_group + MASK if address_group is not None else shorten(domain, SAMPLE_VALUE_LENGTH)
        return f"{local[:1]}{MASK}@{masked_domain}"
    address_group = _ip_address_first_group(text)
    if address_group is not None:
        return address_group + MASK
    return text[:2] + MASK


def _ip_address_first_group(text: str) -> str | None:
    """``"10."`` for ``10.0.0.1``, ``"2001:"`` for ``2001:db8::1`` or ``[2001:db8::1]:443``; else None."""
    candidate = text.strip()
    if candidate.startswith("[") and "]" in candidate:
        candidate = candidate[1 : candidate.index("]")]
    if _IPV4_LIKE(candidate) is not None:
        return candidate.partition(".")[0][:4] + "."
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return None
    if address.version == 4:
        return candidate.partition(".")[0] + "."
    return candidate.partition(":")[0][:4] + ":"


def _sample_status(status: object) -> object:
    if isinstance(status, str) and _STATUS_WORD(status.strip()) is not None:
        return status.strip()
    return mask_value(status)


# --- hints ------------------------------------------------------------------------------------------


def _field_names(record: Mapping, limit: int = 1000) -> list[str]:
    """The field names of ``record``, nested dicts flattened with dots (``accountKey.sourceKey``).

    Names only, never values; at most ``limit`` of them, so that one odd record costs little.
    """
    names: list[str] = []

    def walk(node: Mapping, prefix: str, depth: int) -> None:
        for key, value in node.items():
            if len(names) >= limit:
                return
            name = f"{prefix}{key}"
            if isinstance(value, dict) and value and depth < 10:
                walk(value, f"{name}.", depth + 1)
            else:
                names.append(name)

    walk(record, "", 0)
    return names


def _absent_field_hint(source: str, role: str, first_fields: list[str]) -> str:
    """The hint for a source that no dict record had a value for, suggesting the closest field name."""
    wanted = strip_xdm_prefix(source)
    if any(strip_xdm_prefix(name) == wanted for name in first_fields):
        hint = f"no record has a value in the field {source!r} ({role}): it is empty (null) in every record"
    else:
        hint = f"no record has the field {source!r} ({role})"
        suggestion = _closest_field_name(wanted, first_fields)
        if suggestion is not None:
            hint += f"; did you mean {suggestion!r}?"
    if not first_fields:
        return f"{hint}. The first record has no fields"
    shown = ", ".join(shorten(name, 60) for name in first_fields[:HINT_FIELD_NAMES])
    if len(first_fields) > HINT_FIELD_NAMES:
        shown += f", … ({len(first_fields) - HINT_FIELD_NAMES} more)"
    return f"{hint}{'' if hint.endswith('?') else '.'} The first record's fields: {shown}"


def _closest_field_name(wanted: str, names: list[str]) -> str | None:
    """The name closest to ``wanted``, compared case-insensitively and without ``xdm:``, if any is close."""
    by_comparable_name: dict[str, str] = {}
    for name in names:
        by_comparable_name.setdefault(strip_xdm_prefix(name).lower(), name)
    matches = difflib.get_close_matches(wanted.lower(), list(by_comparable_name), n=1)
    return by_comparable_name[matches[0]] if matches else None


def _non_dict_hint(non_dict_types: dict[type, int], mappings: ValidatedMappings, status_field: str | None) -> str:
    counts = []
    for record_type, count in non_dict_types.items():
        counts.append(f"{count} record{'s are' if count != 1 else ' is'} {record_type.__name__}")
    example = {
        strip_xdm_prefix(mappings.primary_id_source): "A-1",
        strip_xdm_prefix(mappings.domain_source): "acme.com",
    }
    if status_field is not None:
        example[strip_xdm_prefix(status_field)] = "realized"
    hint = f"{', '.join(counts)}, not dict: records are dicts keyed by the mapping sources, e.g. {example}"
    if any(_is_row_type(record_type) for record_type in non_dict_types):
        hint += (
            "; rows from a database cursor are tuples: turn each into a dict of column name to value "
            "(dict(zip(columns, row)))"
        )
    return hint


def _is_row_type(record_type: type) -> bool:
    """Whether records of this type look like rows of a database cursor (tuples, lists, Row objects)."""
    if issubclass(record_type, (str, bytes, bytearray, Mapping)):
        return False
    return issubclass(record_type, Sequence) or record_type.__name__.endswith("Row")


# --- plans ------------------------------------------------------------------------------------------


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

