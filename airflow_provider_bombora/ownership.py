"""Which dataflow owns an account list, the newest snapshot claimed for it, and whether the run
that claimed it is still writing.

Bombora keeps nothing for us but a list's ``description``, so the provider records ownership
there, on a line of its own that any Airflow deployment can read back::

    High intent accounts for Q3 campaigns
    [airflow-provider-bombora] {"dataflow_id": "abm.activate", "snapshot": "2024-05-02T00:00:00+00:00"}

While a run writes accounts the marker also says ``"writing": true``, so that a newer run that
claims the list meanwhile knows to check the list once the writes are applied (see
:mod:`~airflow_provider_bombora.claim`).

The text above the marker line is the user's ``audience_description``. Pure module: no
Airflow or HTTP import.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

MARKER_PREFIX = "[airflow-provider-bombora] "
#: The only type of account list that accepts uploads, and so the only one a dataflow owns.
MANUAL = "Manual"


@dataclass(frozen=True)
class ListOwnership:
    """What the marker line records: the owning dataflow, the newest snapshot claimed, and
    whether the run that claimed it is writing."""

    dataflow_id: str
    snapshot: str | None = None
    writing: bool = False

    def snapshot_datetime(self) -> datetime | None:
        return datetime.fromisoformat(self.snapshot) if self.snapshot else None


def parse_description(description: str | None) -> tuple[str | None, ListOwnership | None]:
    """Split a list's description into the user's text and the provider's marker, if any.

    A marker line that does not parse is treated as no marker: the list is then not ours,
    which is the safe answer (the operator refuses to write to it).
    """
    if not description:
        return description, None
    lines = description.split("\n")
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].startswith(MARKER_PREFIX):
            ownership = _decode_marker(lines[index][len(MARKER_PREFIX) :])
            if ownership is None:
                return description, None
            user_text = "\n".join(lines[:index] + lines[index + 1 :]).strip("\n")
            return (user_text or None), ownership
    return description, None


def render_description(user_description: str | None, ownership: ListOwnership) -> str:
    """The description to store: the user's text, then the marker line."""
    fields: dict[str, object] = {"dataflow_id": ownership.dataflow_id, "snapshot": ownership.snapshot}
    if ownership.writing:
        fields["writing"] = True
    marker = MARKER_PREFIX + json.dumps(fields, sort_keys=True)
    return f"{user_description}\n{marker}" if user_description else marker


def _decode_marker(payload: str) -> ListOwnership | None:
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("dataflow_id"), str):
        return None
    snapshot = data.get("snapshot")
    if snapshot is not None:
        try:
            datetime.fromisoformat(snapshot)
        except (TypeError, ValueError):
            return None
    return ListOwnership(dataflow_id=data["dataflow_id"], snapshot=snapshot, writing=data.get("writing") is True)
