"""OpenLineage for the activation: the input an audience was read from, and its account list.

Only the OpenLineage provider's listener calls this (through the operator's
``get_openlineage_facets_on_complete``); the provider's modules are imported here, lazily, so
that nothing of it loads where it is not installed.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_bombora.assets import ACCOUNT_LISTS, OPENLINEAGE_NAMESPACE


def activation_lineage(
    *, audience_name: str, accounts: Any = None, sql: str | None = None, sql_conn_id: str | None = None
) -> Any:
    """The ``OperatorLineage`` of an activation: its input (a file, an object store path, or the
    SQL connection's database with the query as the job's ``sql`` facet) and its output (the
    account list, in the namespace of ``bombora://`` assets)."""
    from airflow.providers.common.compat.openlineage.facet import Dataset, SQLJobFacet
    from airflow.providers.openlineage.extractors import OperatorLineage

    inputs: list[Any] = []
    job_facets: dict[str, Any] = {}
    if sql is not None and sql_conn_id:
        namespace, database = _sql_namespace(sql_conn_id)
        inputs.append(Dataset(namespace=namespace, name=database))
        job_facets["sql"] = SQLJobFacet(query=sql)
    elif (location := _location(accounts)) is not None:
        inputs.append(Dataset(namespace=location[0], name=location[1]))
    output = Dataset(namespace=OPENLINEAGE_NAMESPACE, name=f"{ACCOUNT_LISTS}/{audience_name}")
    return OperatorLineage(inputs=inputs, outputs=[output], job_facets=job_facets)


def _location(accounts: Any) -> tuple[str, str] | None:
    """(namespace, name) of a file or object store input, as OpenLineage names them; None for records."""
    if isinstance(accounts, os.PathLike):
        accounts = os.fspath(accounts)
    if not isinstance(accounts, str) and type(accounts).__name__ == "ObjectStoragePath":
        accounts = str(accounts)
    if not isinstance(accounts, str) or not accounts.strip():
        return None
    url = urlsplit(accounts.strip())
    if url.scheme and url.scheme != "file" and "://" in accounts:
        return f"{url.scheme}://{url.netloc}", url.path.lstrip("/") or "/"
    path = url.path if url.scheme == "file" else accounts.strip()
    return "file", os.path.abspath(path)


def _sql_namespace(conn_id: str) -> tuple[str, str]:
    """(namespace, database) of a SQL connection: ``<type>://<host>:<port>`` and its schema."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    authority = f"{conn.host}:{conn.port}" if conn.port else (conn.host or "")
    return f"{conn.conn_type}://{authority}", conn.schema or conn_id
