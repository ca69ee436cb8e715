"""Push a digital audience to a data exchange, idempotently: the policy behind the operator.

Bombora has no idempotency keys and a PUT is a full overwrite, so a push reads the audience
first (by data exchange, external id and partner id) and then creates it, updates what changed,
or leaves it as it is. A create retried after its answer was lost is answered 409 (the external
id is in use): the audience is read again, and if it is ours the push goes on as an update.

Pure module: no Airflow or HTTP import; Bombora is reached through the client it is given
(:class:`~airflow_provider_bombora.hooks.bombora.BomboraHook`).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from airflow_provider_bombora.digital_audiences import (
    DigitalAudienceSpec,
    audience_body,
    changed_fields,
)
from airflow_provider_bombora.exceptions import (
    BomboraConflictError,
    BomboraDigitalAudienceError,
    BomboraNotFoundError,
)

log = logging.getLogger(__name__)

#: How many domains of the payload a dry run's result shows (the count is always there).
PAYLOAD_DOMAINS_SAMPLE = 10


class DigitalAudienceClient(Protocol):
    """The part of the hook a push needs."""

    def create_digital_audience(self, data_exchange: str, body: dict[str, Any]) -> dict[str, Any] | None: ...
    def get_digital_audience(self, data_exchange: str, external_id: str, partner_id: str) -> dict[str, Any]: ...
    def update_digital_audience(
        self, data_exchange: str, external_id: str, partner_id: str, body: dict[str, Any]
    ) -> None: ...
    def activate_digital_audience(self, data_exchange: str, external_id: str, partner_id: str) -> None: ...
    def estimate_digital_audience(self, data_exchange: str, body: dict[str, Any]) -> int: ...


def push_digital_audience(
    client: DigitalAudienceClient,
    spec: DigitalAudienceSpec,
    *,
    activate: bool = True,
    dry_run: bool = False,
    estimate: bool = False,
) -> dict[str, Any]:
    """Make the audience on Bombora match ``spec``; return what was done.

    :param activate: Activate the audience if it is suspended.
    :param dry_run: Estimate and return the payload; create and change nothing.
    :param estimate: Ask Bombora how many accounts the audience reaches (always in a dry run).
    :returns: ``data_exchange``, ``external_id``, ``partner_id``, ``audience_name``, ``action``
        (``created``, ``updated``, ``unchanged`` or ``dry_run``), ``changed_fields``, ``status``,
        ``activated``, ``domain_count``, ``estimate`` (None when not asked) and, in a dry run,
        ``payload`` (its domains cut to a sample).
    :raises BomboraDigitalAudienceError: when the external id is used by another partner's audience.
    """
    target = spec.target
    body = audience_body(spec)
    result: dict[str, Any] = {
        **target.to_parameters(),
        "audience_name": spec.audience_name,
        "domain_count": len(spec.domains),
        "dry_run": dry_run,
        "estimate": client.estimate_digital_audience(target.data_exchange, body) if estimate or dry_run else None,
    }
    if dry_run:
        stored = _read(client, spec)
        return {
            **result,
            "action": "dry_run",
            "changed_fields": None if stored is None else changed_fields(stored, body),
            "status": None if stored is None else stored.get("status"),
            "activated": False,
            "payload": _payload_sample(body),
        }
    stored = _read(client, spec)
    if stored is None:
        stored = _create(client, spec, body)
    if stored is None:
        action, changed = "created", list(body)
        status = _status_after_write(client, spec)
    else:
        changed = changed_fields(stored, body)
        action = "updated" if changed else "unchanged"
        if changed:
            client.update_digital_audience(target.data_exchange, target.external_id, target.partner_id, body)
            log.info("%s: updated %s", target.describe(), ", ".join(changed))
        status = _status_after_write(client, spec) if changed else stored.get("status")
    activated = False
    if activate and _is_suspended(status):
        try:
            client.activate_digital_audience(target.data_exchange, target.external_id, target.partner_id)
        except BomboraConflictError:
            # 409: no longer suspended; someone (a concurrent run) activated it in the meantime.
            if _is_suspended(_status_after_write(client, spec)):
                raise
        else:
            activated = True
            log.info("%s was suspended: activated it", target.describe())
        status = _status_after_write(client, spec)
    return {**result, "action": action, "changed_fields": changed, "status": status, "activated": activated}


def _read(client: DigitalAudienceClient, spec: DigitalAudienceSpec) -> dict[str, Any] | None:
    target = spec.target
    try:
        return client.get_digital_audience(target.data_exchange, target.external_id, target.partner_id)
    except BomboraNotFoundError:
        return None


def _create(client: DigitalAudienceClient, spec: DigitalAudienceSpec, body: dict[str, Any]) -> dict[str, Any] | None:
    """Create the audience; None when created, or the stored audience when a lost answer made
    the create look like a conflict with ourselves."""
    target = spec.target
    try:
        client.create_digital_audience(target.data_exchange, body)
    except BomboraConflictError as conflict:
        stored = _read(client, spec)
        if stored is None:
            raise BomboraDigitalAudienceError(
                f"{target.describe()}: Bombora refused the create (HTTP 409): the external id "
                f"{target.external_id!r} is used on {target.exchange.display_name} by another partner's "
                "audience. Choose another external_id, or give that audience's partner_id to update it."
            ) from conflict
        log.info("%s already exists (a create that had succeeded): updating it instead", target.describe())
        return stored
    log.info("%s: created", target.describe())
    return None


def _status_after_write(client: DigitalAudienceClient, spec: DigitalAudienceSpec) -> Any:
    target = spec.target
    return client.get_digital_audience(target.data_exchange, target.external_id, target.partner_id).get("status")


def _is_suspended(status: Any) -> bool:
    return isinstance(status, str) and status.strip().lower() == "suspended"


def _payload_sample(body: dict[str, Any]) -> dict[str, Any]:
    domains = body.get("domains")
    if not domains or len(domains) <= PAYLOAD_DOMAINS_SAMPLE:
        return body
    return {**body, "domains": domains[:PAYLOAD_DOMAINS_SAMPLE], "domains_total": len(domains)}
