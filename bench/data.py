"""Synthetic audiences: domains, account records as a CRM exports them, and JSON Lines files.

Everything is deterministic (a function of the record's index), so every run and every
process sees the same input. The mix of values is what the normaliser meets in practice:

* most domains already in normal form (``company0001234.com``);
* 1 in 20 a website URL (``https://www.Company0001234.com/about``);
* 1 in 50 in capitals with blanks around (`` COMPANY0001234.COM ``);
* 1 in 100 the same domain as the record before (two CRM accounts of one company);
* 1 in 200 no usable domain (``n/a``), which the operator rejects and counts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path


def domain(index: int) -> str:
    """The normal-form domain of account ``index``."""
    return f"company{index:07d}.com"


def domains(count: int) -> list[str]:
    """``count`` distinct normal-form domains."""
    return [domain(index) for index in range(count)]


def domain_value(index: int, changed: bool = False) -> str:
    """The domain field of record ``index`` as exported; ``changed`` gives the account a new domain."""
    if changed:
        return f"company{index:07d}-rebrand.com"
    if index % 200 == 199:
        return "n/a"
    if index % 100 == 99:
        return domain(index - 1)
    if index % 50 == 49:
        return f"  {domain(index).upper()} "
    if index % 20 == 19:
        return f"https://www.{domain(index).capitalize()}/about"
    return domain(index)


def is_changed(index: int) -> bool:
    """Whether record ``index`` is one of the 1% whose domain changes before the rerun."""
    return index % 100 == 50


def records(count: int, *, changed: bool = False) -> Iterator[dict]:
    """``count`` account records, nested as Adobe Experience Platform exports them.

    :param changed: give the 1% of :func:`is_changed` records a new domain (the rerun's input).
    """
    for index in range(count):
        yield {
            "accountKey": {"sourceKey": f"crm-{index:07d}"},
            "accountName": f"Company {index}",
            "accountOrganization": {
                "domain": domain_value(index, changed and is_changed(index)),
                "industry": "Software",
            },
        }


def json_line(record: dict) -> str:
    """A record as one JSON Lines line."""
    return json.dumps(record) + "\n"


def write_jsonl(path: Path, count: int, *, changed: bool = False) -> Path:
    """Write :func:`records` to ``path`` as JSON Lines; return the path."""
    with path.open("w", encoding="utf-8") as file:
        file.writelines(json_line(record) for record in records(count, changed=changed))
    return path
