"""
Account-based marketing: build an account list from CRM and marketing signals, activate it
to Bombora, then wait until Bombora has applied it.

The first task joins two small inputs shipped with the examples (CRM accounts as CSV, web and
intent engagement as JSON Lines) into account records with Experience Platform field names.
The activation keeps the Bombora account list "ABM target accounts" equal to the accounts that
qualify today: accounts that qualify are added, accounts that no longer do are removed.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

from airflow.sdk import dag, task

from airflow_provider_bombora.operators.bombora import BomboraActivateAudienceOperator
from airflow_provider_bombora.sensors.bombora import BomboraExportStatusSensor

DATA = Path(__file__).parent / "data"

# [START howto_bombora_mappings]
ACCOUNT_MAPPINGS = [
    # Mandatory: identifies the account in Experience Platform; never sent to Bombora.
    {"source": "xdm:accountKey.sourceKey", "target": "identity:primaryId"},
    # The only field Bombora receives: the company's website domain.
    {"source": "xdm:accountOrganization.domain", "target": "xdm:companyWebsiteDomain"},
]
# [END howto_bombora_mappings]


@dag(
    dag_id="example_bombora_abm",
    schedule="@daily",
    start_date=datetime(2026, 11, 1),
    catchup=False,
    doc_md=__doc__,
    tags=["example", "bombora", "abm"],
)
def example_bombora_abm():
    @task
    def build_target_accounts(min_surge_score: int = 60, min_web_visits: int = 10) -> list[dict]:
        """Join CRM accounts with engagement signals; keep engaged open opportunities and prospects."""
        with open(DATA / "marketing_signals.jsonl", encoding="utf-8") as signals_file:
            engagement = {
                signal["accountKey"]["sourceKey"]: signal["engagement"]
                for signal in map(json.loads, signals_file)
            }
        with open(DATA / "crm_accounts.csv", newline="", encoding="utf-8") as crm_file:
            crm_accounts = list(csv.DictReader(crm_file))
        targets = []
        for account in crm_accounts:
            signals = engagement.get(account["xdm:accountKey.sourceKey"], {})
            if account["crm:stage"] == "customer":
                continue
            surging = signals.get("bomboraSurgeScore", 0) >= min_surge_score
            if surging or signals.get("webVisits30d", 0) >= min_web_visits:
                targets.append(
                    {
                        "accountKey": {"sourceKey": account["xdm:accountKey.sourceKey"]},
                        "accountOrganization": {"domain": account["xdm:accountOrganization.domain"]},
                    }
                )
        # Small audiences travel through XCom; for large ones write a .jsonl file to shared
        # storage and pass its path as `accounts` instead.
        return targets

    # [START howto_operator_bombora_activate]
    activate = BomboraActivateAudienceOperator(
        task_id="activate_abm_audience",
        audience_name="ABM target accounts",
        audience_description="Open opportunities and prospects with high engagement or surge",
        accounts=build_target_accounts(),
        mappings=ACCOUNT_MAPPINGS,
        sync_mode="mirror",
        # The sample data holds a few dirty domains (an e-mail, an IP address) on purpose.
        max_rejected_ratio=0.25,
    )
    # [END howto_operator_bombora_activate]

    # ignore[index]: Airflow annotates BaseOperator.output as XComArg; it is a PlainXComArg, with __getitem__.
    BomboraExportStatusSensor(
        task_id="wait_for_export",
        account_list_id=activate.output["account_list_id"],  # type: ignore[index]
        submitted_after=activate.output["submitted_at"],  # type: ignore[index]
        expected_account_total=activate.output["accounts_valid"],  # type: ignore[index]
        deferrable=True,
        poke_interval=15,
        timeout=60 * 60,
    )


example_bombora_abm()
