"""
DSP integration, end to end: activate companies showing high intent for your product to Bombora,
wait until Bombora has applied the export, then push the account list to The Trade Desk through
Bombora's Digital Audience Builder and wait until the digital audience is active there.

accounts -> account list -> export applied -> digital audience on a data exchange -> active.

The audience is a JSON Lines file of account records with Experience Platform field names, as a
segmentation job would export it. A few records carry dirty or invalid domains on purpose: the
operator normalises what it can (scheme, path, port, ``www.``, case, trailing dot) and rejects
the rest (an e-mail address, an IP address, a single-label name), reporting them by reason.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from airflow.sdk import dag

from airflow_provider_bombora.operators.bombora import (
    BomboraActivateAudienceOperator,
    BomboraDigitalAudienceOperator,
)
from airflow_provider_bombora.sensors.bombora import BomboraDigitalAudienceSensor, BomboraExportStatusSensor

HIGH_INTENT_ACCOUNTS = Path(__file__).parent / "data" / "high_intent_accounts.jsonl"


@dag(
    dag_id="example_bombora_dsp_integration",
    schedule="@daily",
    start_date=datetime(2026, 11, 1),
    catchup=False,
    doc_md=__doc__,
    tags=["example", "bombora", "dsp"],
)
def example_bombora_dsp_integration():
    # [START howto_operator_bombora_activate_file]
    activate = BomboraActivateAudienceOperator(
        task_id="activate_high_intent",
        audience_name="High intent - customer data platform",
        audience_description="Companies surging on CDP topics, for DSP targeting",
        accounts=str(HIGH_INTENT_ACCOUNTS),
        mappings=[
            {"source": "xdm:accountKey.sourceKey", "target": "identity:primaryId"},
            {"source": "xdm:accountOrganization.domain", "target": "xdm:companyWebsiteDomain"},
        ],
        max_rejected_ratio=0.1,
    )
    # [END howto_operator_bombora_activate_file]

    # [START howto_sensor_bombora_export_status]
    # ignore[index]: Airflow annotates BaseOperator.output as XComArg; it is a PlainXComArg, with __getitem__.
    wait_for_export = BomboraExportStatusSensor(
        task_id="wait_for_export",
        account_list_id=activate.output["account_list_id"],  # type: ignore[index]
        # None when the activation had nothing to change: then there is nothing to wait for.
        submitted_after=activate.output["submitted_at"],  # type: ignore[index]
        deferrable=True,
        poke_interval=15,
        timeout=60 * 60,
    )
    # [END howto_sensor_bombora_export_status]

    # [START howto_operator_bombora_digital_audience]
    # The Trade Desk needs a partner id and a CPM price; the external id is how the audience is
    # found again, so that every daily run updates it (or leaves it alone) instead of adding one.
    push = BomboraDigitalAudienceOperator(
        task_id="push_to_trade_desk",
        data_exchange="trade_desk_direct",
        audience_name="High intent accounts - TTD",
        # 90 days after the run's day (a manual run without a logical date: the day it was triggered).
        end_date="{{ macros.ds_add(ds if ds is defined else (dag_run.run_after | ds), 90) }}",
        partner_id="1234567",
        external_id="hi-intent-ttd",
        cpm_price="1.25",
        account_list_id=activate.output["account_list_id"],  # type: ignore[index]
        estimate=True,
    )
    # [END howto_operator_bombora_digital_audience]

    # [START howto_sensor_bombora_digital_audience]
    wait_active = BomboraDigitalAudienceSensor(
        task_id="wait_active",
        data_exchange="trade_desk_direct",
        external_id="hi-intent-ttd",
        partner_id="1234567",
        deferrable=True,
        poke_interval=15,
        timeout=60 * 60,
    )
    # [END howto_sensor_bombora_digital_audience]

    activate >> wait_for_export >> push >> wait_active


example_bombora_dsp_integration()
