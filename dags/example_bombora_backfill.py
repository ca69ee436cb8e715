"""
Backfills: a daily activation of that day's audience snapshot.

Each run reads the export of its own day (``high_intent_<date>.jsonl``) and mirrors it to the
account list; the sample data covers 2026-11-17 to 2026-11-26. Backfill it the Airflow 3 way::

    airflow backfill create --dag-id example_bombora_backfill \\
        --from-date 2026-11-17 --to-date 2026-11-26

The runs of a backfill run at once (ten by default), forwards or with ``--run-backwards``; the
list records the newest snapshot applied, so whatever the order:

- the list ends equal to the newest day's export, and nothing an older day wrote survives;
- an older day never overwrites a newer one: its run is skipped and says why (unless
  ``allow_stale=True``), and a manual run of a past day is an older day like any other;
- re-running a day sends nothing when its export is unchanged (the plan is empty);
- a run that failed half-way is simply retried: the plan is recomputed from the list.

A run without a logical date (the UI's Trigger button) applies the newest export there is:
``pick_export`` chooses the file and passes its date as the activation's ``snapshot``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from airflow.sdk import dag, task

from airflow_provider_bombora.operators.bombora import BomboraActivateAudienceOperator

DAILY_EXPORTS = Path(__file__).parent / "data" / "daily"


@dag(
    dag_id="example_bombora_backfill",
    schedule="@daily",
    start_date=datetime(2026, 11, 17),
    end_date=datetime(2026, 11, 26),
    catchup=False,  # days are backfilled on demand, with `airflow backfill create`
    doc_md=__doc__,
    tags=["example", "bombora", "backfill"],
)
def example_bombora_backfill():
    @task
    def pick_export(logical_date=None, dag_run=None) -> dict:
        """The run's own day's export; for a run without a logical date, the newest one."""
        if logical_date is not None:
            day = logical_date.strftime("%Y-%m-%d")
        else:
            as_of = dag_run.run_after.strftime("%Y-%m-%d")
            days = sorted(path.stem.removeprefix("high_intent_") for path in DAILY_EXPORTS.glob("high_intent_*.jsonl"))
            day = max(d for d in days if d <= as_of)
        return {"path": str(DAILY_EXPORTS / f"high_intent_{day}.jsonl"), "snapshot": day}

    export = pick_export()

    # [START howto_operator_bombora_backfill]
    # ignore[index]: Airflow annotates a @task call as XComArg; it is a PlainXComArg, with __getitem__.
    BomboraActivateAudienceOperator(
        task_id="activate_daily_snapshot",
        audience_name="High intent - daily",
        accounts=export["path"],  # type: ignore[index]
        snapshot=export["snapshot"],  # type: ignore[index]  # what the export is as of: its day
        mappings=[
            {"source": "xdm:accountKey.sourceKey", "target": "identity:primaryId"},
            {"source": "xdm:accountOrganization.domain", "target": "xdm:companyWebsiteDomain"},
        ],
        retries=2,
    )
    # [END howto_operator_bombora_backfill]


example_bombora_backfill()
