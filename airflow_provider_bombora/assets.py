"""Airflow assets for Bombora: ``bombora://`` URIs, registered in ``get_provider_info()``.

An account list is the asset ``bombora://account-lists/<audience name>`` (the name URL-quoted):
the activation operator emits an event for it, with its summary as the event's ``extra``, so
that a DAG scheduled on ``account_list_asset("High intent accounts")`` runs when that audience
was refreshed. Names, not ids: a DAG author knows the audience's name before its list exists.
A digital audience is ``bombora://digital-audiences/<data exchange>/<external id>/<partner id>``,
its identity in the Digital Audience Builder API, known before it is created too.

The functions named in the provider info follow Airflow's conventions (see the Amazon
provider's ``aws/assets/s3.py``): a factory, a URI normaliser, and a converter to an
OpenLineage dataset. Only the OpenLineage converter imports the OpenLineage provider, lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, quote, unquote

from airflow.sdk import Asset

if TYPE_CHECKING:
    from airflow.providers.common.compat.openlineage.facet import Dataset as OpenLineageDataset

SCHEME = "bombora"
ACCOUNT_LISTS = "account-lists"
DIGITAL_AUDIENCES = "digital-audiences"
#: The OpenLineage namespace of Bombora datasets (one API host for every customer).
OPENLINEAGE_NAMESPACE = "bombora://api.bombora.com"


def account_list_uri(audience_name: str) -> str:
    """The URI of the account list of audience ``audience_name``."""
    return f"{SCHEME}://{ACCOUNT_LISTS}/{quote(audience_name, safe='')}"


def account_list_asset(audience_name: str, extra: dict[str, Any] | None = None) -> Asset:
    """The asset of an audience's account list, to schedule a DAG on it::

        @dag(schedule=[account_list_asset("High intent accounts")])
    """
    return Asset(uri=account_list_uri(audience_name), name=f"Bombora account list {audience_name}", extra=extra)


def digital_audience_uri(data_exchange: str, external_id: str, partner_id: str) -> str:
    """The URI of the digital audience ``external_id`` of ``partner_id`` on ``data_exchange``."""
    parts = "/".join(quote(part, safe="") for part in (data_exchange, external_id, partner_id))
    return f"{SCHEME}://{DIGITAL_AUDIENCES}/{parts}"


def digital_audience_asset(
    data_exchange: str, external_id: str, partner_id: str, extra: dict[str, Any] | None = None
) -> Asset:
    """The asset of a digital audience, to schedule a reporting DAG on it::

        @dag(schedule=[digital_audience_asset("trade_desk_direct", "hi-intent-ttd", "1234567")])
    """
    return Asset(
        uri=digital_audience_uri(data_exchange, external_id, partner_id),
        name=f"Bombora digital audience {external_id} (partner {partner_id}) on {data_exchange}",
        extra=extra,
    )


def create_asset(
    *,
    audience_name: str | None = None,
    data_exchange: str | None = None,
    external_id: str | None = None,
    partner_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Asset:
    """The provider's asset factory (``asset-uris`` → ``factory``): an account list by
    ``audience_name``, or a digital audience by ``data_exchange``, ``external_id`` and ``partner_id``."""
    if audience_name is not None:
        return account_list_asset(audience_name, extra)
    if data_exchange is None or external_id is None or partner_id is None:
        raise ValueError("give audience_name, or data_exchange, external_id and partner_id")
    return digital_audience_asset(data_exchange, external_id, partner_id, extra)


def sanitize_uri(uri: SplitResult) -> SplitResult:
    """Check a ``bombora://`` URI (``asset-uris`` → ``handler``): ``account-lists/<name>`` or
    ``digital-audiences/<data exchange>/<external id>/<partner id>``."""
    path = uri.path.lstrip("/")
    if uri.netloc == ACCOUNT_LISTS:
        if not unquote(path):
            raise ValueError(f"a bombora://{ACCOUNT_LISTS}/ URI must end with the audience's name")
        return uri
    if uri.netloc == DIGITAL_AUDIENCES:
        parts = path.split("/")
        if len(parts) != 3 or not all(parts):
            raise ValueError(
                f"a bombora://{DIGITAL_AUDIENCES}/ URI is <data exchange>/<external id>/<partner id>, got {path!r}"
            )
        return uri
    raise ValueError(
        "a bombora:// asset URI names a kind of Bombora object: "
        f"bombora://{ACCOUNT_LISTS}/<name> or bombora://{DIGITAL_AUDIENCES}/<data exchange>/<external id>/<partner id>"
    )


def convert_asset_to_openlineage(asset: Asset, lineage_context: Any) -> OpenLineageDataset:
    """The OpenLineage dataset of a ``bombora://`` asset (``asset-uris`` → ``to_openlineage_converter``)."""
    from airflow.providers.common.compat.openlineage.facet import Dataset as OpenLineageDataset

    kind, _, name = asset.uri.removeprefix(f"{SCHEME}://").partition("/")
    return OpenLineageDataset(namespace=OPENLINEAGE_NAMESPACE, name=f"{kind}/{unquote(name)}")
