"""DAGs of the system tier's S3 test (tests/system/test_system_s3.py), not examples.

Each activates an audience that an export left in S3, read through Airflow's object storage
(``ObjectStoragePath``, the amazon provider's s3fs filesystem) in the deployment's worker. The
bucket is moto's S3 server on loopback, which the test starts; the test also creates the
connection ``aws_default`` (its ``endpoint_url`` extra points at that server). Workers of a real
deployment share no disk: the object store is what they all reach.

- ``bombora_system_s3_folder``: an ``ObjectStoragePath`` with its own connection, a folder of
  ``.jsonl.gz`` and ``.csv.gz`` parts with a ``_SUCCESS`` marker and hidden files.
- ``bombora_system_s3_truncated``: a URL string with ``accounts_conn_id``, a folder whose second
  part ends in a truncated gzip member.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import DAG, ObjectStoragePath

from airflow_provider_bombora.operators.bombora import BomboraActivateAudienceOperator

BUCKET = "bombora-system-exports"
CONN_ID = "aws_default"
MAPPINGS = [
    {"source": "xdm:accountKey.sourceKey", "target": "identity:primaryId"},
    {"source": "xdm:accountOrganization.domain", "target": "xdm:companyWebsiteDomain"},
]


def s3_activation_dag(dag_id: str, audience_name: str, **source: Any) -> DAG:
    """A DAG of one activation, run only when triggered, reading ``source`` (``accounts=``...)."""
    with DAG(
        dag_id, schedule=None, start_date=datetime(2026, 11, 1), catchup=False, tags=["bombora", "system-test"]
    ) as dag:
        BomboraActivateAudienceOperator(
            task_id="activate_from_s3", audience_name=audience_name, mappings=MAPPINGS, **source
        )
    return dag


folder_dag = s3_activation_dag(
    "bombora_system_s3_folder",
    "System test - S3 folder",
    accounts=ObjectStoragePath(f"s3://{BUCKET}/high_intent/2026-11-27/", conn_id=CONN_ID),
    # The export holds a few unusable rows on purpose (an e-mail, one label, no domain).
    max_rejected_ratio=0.5,
)
truncated_dag = s3_activation_dag(
    "bombora_system_s3_truncated",
    "System test - S3 truncated",
    accounts=f"s3://{BUCKET}/truncated/2026-11-27/",
    accounts_conn_id=CONN_ID,
)
