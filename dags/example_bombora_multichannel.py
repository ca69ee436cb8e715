"""
Multi-channel ABM: activate one high-intent audience for several channels, plus a suppression
audience of existing customers, as separate Bombora account lists in one DAG.

Each channel team gets its own account list (its own name, so that each can be attached to a
different campaign), and the suppression list lets every channel exclude accounts that are
already customers. Each activation is followed by its own export status sensor, deferred so
that waiting holds no worker slot.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from airflow.sdk import dag

from airflow_provider_bombora.operators.bombora import BomboraActivateAudienceOperator
from airflow_provider_bombora.sensors.bombora import BomboraExportStatusSensor

DATA = Path(__file__).parent / "data"
MAPPINGS = [
    {"source": "xdm:accountKey.sourceKey", "target": "identity:primaryId"},
    {"source": "xdm:accountOrganization.domain", "target": "xdm:companyWebsiteDomain"},
]
CHANNELS = {
    "paid_social": "High intent - paid social",
    "advanced_tv": "High intent - advanced TV",
}


@dag(
    dag_id="example_bombora_multichannel",
    schedule="@weekly",
    start_date=datetime(2026, 11, 1),
    catchup=False,
    doc_md=__doc__,
    tags=["example", "bombora", "abm", "multichannel"],
)
def example_bombora_multichannel():
    audiences = {
        f"activate_{channel}": (name, DATA / "high_intent_accounts.jsonl")
        for channel, name in CHANNELS.items()
    }
    audiences["activate_customer_suppression"] = ("Existing customers - suppression", DATA / "existing_customers.csv")

    for task_id, (audience_name, accounts) in audiences.items():
        activate = BomboraActivateAudienceOperator(
            task_id=task_id,
            audience_name=audience_name,
            accounts=str(accounts),
            mappings=MAPPINGS,
            max_rejected_ratio=0.1,
        )
        # ignore[index]: Airflow annotates BaseOperator.output as XComArg; it is a PlainXComArg, with __getitem__.
        activate >> BomboraExportStatusSensor(
            task_id=task_id.replace("activate_", "wait_for_"),
            account_list_id=activate.output["account_list_id"],  # type: ignore[index]
            submitted_after=activate.output["submitted_at"],  # type: ignore[index]
            deferrable=True,
            poke_interval=15,
            timeout=60 * 60,
        )


example_bombora_multichannel()
