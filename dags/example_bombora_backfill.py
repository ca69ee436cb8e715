"""
Backfills: a daily activation of that day's audience snapshot, with ``catchup``.

Each run reads the snapshot of its own day (``high_intent_{{ ds }}.jsonl``) and mirrors it to
the account list. The list records the newest snapshot applied, so:

- re-running a day sends nothing when its input is unchanged (the plan is empty);
- an older day never overwrites a newer one: its run is skipped and says why, unless
  ``allow_stale=True``;
- a run that failed half-way is simply retried: the plan is recomputed from the list.

The DAG has an ``end_date`` because the sample data covers three days only.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from airflow.sdk import dag

from airflow_provider_bombora.operators.bombora import BomboraActivateAudienceOperator

DAILY_SNAPSHOTS = Path(__file__).parent / "data" / "daily"


@dag(
    dag_id="example_bombora_backfill",
    schedule="@daily",
    start_date=datetime(2026, 11, 24),
    end_date=datetime(2026, 11, 26),
    catchup=True,
    max_active_runs=1,  # days are applied in order
    tags=["example", "bombora", "backfill"],
)
def example_bombora_backfill():
    # [START howto_operator_bombora_backfill]
    BomboraActivateAudienceOperator(
        task_id="activate_daily_snapshot",
        audience_name="High intent - daily",
        accounts=f"{DAILY_SNAPSHOTS}/high_intent_{{{{ ds }}}}.jsonl",
        mappings=[
            {"source": "xdm:accountKey.sourceKey", "target": "identity:primaryId"},
            {"source": "xdm:accountOrganization.domain", "target": "xdm:companyWebsiteDomain"},
        ],
        allow_stale=False,
        retries=2,
    )
    # [END howto_operator_bombora_backfill]


example_bombora_backfill()
