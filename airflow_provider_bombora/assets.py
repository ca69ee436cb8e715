"""Airflow assets for Bombora: ``bombora://`` URIs, registered in ``get_provider_info()``.

An account list is the asset ``bombora://account-lists/<audience name>`` (the name URL-quoted):
the activation operator emits an event for it, with its summary as the event's ``extra``, so
that a DAG scheduled on ``account_list_asset("High intent accounts")`` runs when that audience
was refreshed. Names, not ids: a DAG author knows the audience's name before its list exists.

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


def create_asset(*, audience_name: str, extra: dict[str, Any] | None = None) -> Asset:
    """The provider's asset factory (``asset-uris`` → ``factory``)."""
    return account_list_asset(audience_name, extra)


def sanitize_uri(uri: SplitResult) -> SplitResult:
    """Check a ``bombora://`` URI (``asset-uris`` → ``handler``): ``account-lists/<name>``."""
    if uri.netloc != ACCOUNT_LISTS:
        raise ValueError(f"a bombora:// asset URI names a kind of Bombora object: bombora://{ACCOUNT_LISTS}/<name>")
    if not unquote(uri.path.lstrip("/")):
        raise ValueError(f"a bombora://{ACCOUNT_LISTS}/ URI must end with the audience's name")
    return uri


def convert_asset_to_openlineage(asset: Asset, lineage_context: Any) -> OpenLineageDataset:
    """The OpenLineage dataset of a ``bombora://`` asset (``asset-uris`` → ``to_openlineage_converter``)."""
    from airflow.providers.common.compat.openlineage.facet import Dataset as OpenLineageDataset

    kind, _, name = asset.uri.removeprefix(f"{SCHEME}://").partition("/")
    return OpenLineageDataset(namespace=OPENLINEAGE_NAMESPACE, name=f"{kind}/{unquote(name)}")
