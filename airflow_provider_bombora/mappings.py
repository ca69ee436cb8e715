"""Validate the destination's mappings: which record fields become the account's identity and domain.

The Bombora destination accepts exactly two mappings (as Adobe Experience Platform's does):

* one to ``identity:primaryId``, from any source field; the value is required on every
  record but never exported;
* one to ``xdm:companyWebsiteDomain``, from ``xdm:accountOrganization.domain``.

Paths are written ``namespace:path``. Users copy them from documentation, so the namespace
is compared case-insensitively and may be followed by one space (``XDM: accountOrganization.domain``);
the path after it is case-sensitive. This module also owns :func:`strip_xdm_prefix`, which the
record reader uses to resolve a source path against record keys.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from airflow_provider_bombora.exceptions import BomboraValidationError

PRIMARY_ID_TARGET = "identity:primaryId"
DOMAIN_TARGET = "xdm:companyWebsiteDomain"
DOMAIN_SOURCE = "xdm:accountOrganization.domain"
ALLOWED_TARGETS = (PRIMARY_ID_TARGET, DOMAIN_TARGET)
# The usual primary id of an XDM business account; only used to suggest a fix.
SUGGESTED_PRIMARY_ID_SOURCE = "xdm:accountKey.sourceKey"

_NAMESPACED_PATH = re.compile(r"([A-Za-z][A-Za-z0-9_-]*): ?(\S.*)")
_XDM_NAMESPACE = "xdm"

_REQUIRED_MAPPING = {
    PRIMARY_ID_TARGET: {"source": SUGGESTED_PRIMARY_ID_SOURCE, "target": PRIMARY_ID_TARGET},
    DOMAIN_TARGET: {"source": DOMAIN_SOURCE, "target": DOMAIN_TARGET},
}


@dataclass(frozen=True)
class ValidatedMappings:
    """The two source paths, in canonical form (``xdm:accountKey.sourceKey``)."""

    primary_id_source: str
    domain_source: str


def canonical_path(path: str) -> str:
    """``path`` with surrounding blanks removed and its namespace lower-cased, without the space after ':'."""
    namespace, rest = _split_namespace(path)
    return rest if namespace is None else f"{namespace}:{rest}"


def strip_xdm_prefix(path: str) -> str:
    """``path`` without its ``xdm:`` namespace, in any case and with an optional space after ':'.

    ``"XDM: accountOrganization.domain"`` and ``"accountOrganization.domain"`` both give
    ``"accountOrganization.domain"``; other namespaces are kept, in canonical form.
    """
    namespace, rest = _split_namespace(path)
    if namespace is None or namespace == _XDM_NAMESPACE:
        return rest
    return f"{namespace}:{rest}"


def _split_namespace(path: str) -> tuple[str | None, str]:
    """(lower-cased namespace or ``None``, the rest) of a blank-trimmed ``path``."""
    path = path.strip()
    namespaced = _NAMESPACED_PATH.fullmatch(path)
    if namespaced is None:
        return None, path
    namespace, rest = namespaced.groups()
    return namespace.lower(), rest


def validate_mappings(mappings: object) -> ValidatedMappings:
    """Check ``mappings`` and return its two sources, or raise :class:`BomboraValidationError`.

    Every problem found is reported in one message, each naming the mapping by index and
    saying how to fix it.
    """
    if isinstance(mappings, (str, bytes)) or not isinstance(mappings, Sequence):
        raise BomboraValidationError(
            "mappings",
            f"must be a list of {{'source': ..., 'target': ...}} dicts, got {type(mappings).__name__}; "
            f"for example [{_REQUIRED_MAPPING[PRIMARY_ID_TARGET]}, {_REQUIRED_MAPPING[DOMAIN_TARGET]}]",
        )
    problems: list[str] = []
    source_by_target: dict[str, str] = {}
    index_by_target: dict[str, int] = {}  # first mapping naming each allowed target, valid or not
    for index, mapping in enumerate(mappings):
        where = f"mappings[{index}]"
        paths = _read_mapping(mapping, where, problems)
        if paths is None:
            continue
        source, target = paths
        if target not in ALLOWED_TARGETS:
            problems.append(_unknown_target_problem(where, target))
        elif target in index_by_target:
            problems.append(
                f"{where} targets {target!r} again (already mappings[{index_by_target[target]}]); "
                "keep only one mapping per target"
            )
        else:
            index_by_target[target] = index
            if target == DOMAIN_TARGET and source != DOMAIN_SOURCE:
                problems.append(
                    f"{where} maps {source!r} to {DOMAIN_TARGET!r}, but that target only accepts "
                    f"{DOMAIN_SOURCE!r}; use {_REQUIRED_MAPPING[DOMAIN_TARGET]}"
                )
            else:
                source_by_target[target] = source
    for target in ALLOWED_TARGETS:
        if target not in index_by_target:
            problems.append(f"no mapping targets {target!r}; add {_REQUIRED_MAPPING[target]}")
    if problems:
        raise BomboraValidationError("mappings", "; ".join(problems))
    return ValidatedMappings(
        primary_id_source=source_by_target[PRIMARY_ID_TARGET],
        domain_source=source_by_target[DOMAIN_TARGET],
    )


def _read_mapping(mapping: object, where: str, problems: list[str]) -> tuple[str, str] | None:
    """The canonical (source, target) of one mapping, or ``None`` after recording its problem."""
    if not isinstance(mapping, Mapping):
        problems.append(
            f"{where} is of type {type(mapping).__name__}, not a dict; write it as {{'source': ..., 'target': ...}}"
        )
        return None
    paths = []
    for key in ("source", "target"):
        value = mapping.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{where} needs a non-empty string {key!r}, got {value!r}")
            return None
        paths.append(canonical_path(value))
    return paths[0], paths[1]


def _unknown_target_problem(where: str, target: str) -> str:
    problem = f"{where} targets {target!r}, which Bombora does not accept; allowed targets are {list(ALLOWED_TARGETS)}"
    suggestion = _closest_allowed_target(target)
    if suggestion is not None:
        problem += f" (did you mean {suggestion!r}? write 'namespace:path'; the path is case-sensitive)"
    return problem


def _closest_allowed_target(target: str) -> str | None:
    """The allowed target ``target`` differs from only by case or a missing namespace."""
    path = target.rpartition(":")[2].strip().lower()
    for allowed in ALLOWED_TARGETS:
        if allowed.rpartition(":")[2].lower() == path:
            return allowed
    return None
