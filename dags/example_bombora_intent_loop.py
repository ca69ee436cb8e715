"""
The intent loop: Bombora's Company Surge scores in, a scored audience out.

Every week ``load_surge_scores`` loads this week's surge scores of a few topics from Bombora's
Intent API into ``<root>/<day>/surge.jsonl.gz`` (``BomboraIntentToStorageOperator``: streamed,
the file appears whole or not at all). ``keep_surging`` streams that file and keeps the
companies scoring 60 or more (what Bombora calls surging), written beside it as account records
(``surging_accounts.jsonl``, the activation operator's record format). ``activate_surging``
mirrors them to the Bombora account list "Surging on CDP topics", ``wait_for_export`` waits
until Bombora has applied it, and ``push_to_xandr`` pushes the list to Xandr through Bombora's
Digital Audience Builder, waiting until the digital audience is active (see docs/dsp.md).

**Where the files go.** ``<root>`` is the Airflow Variable ``bombora_intent_root`` (or the
environment variable ``AIRFLOW_VAR_BOMBORA_INTENT_ROOT``), any object storage URL such as
``s3://my-bucket/intent``; without it, a folder of the system's temporary directory
(``file:///tmp/bombora-intent``), which only works where every task runs on one machine. With
several workers, point it at storage they all reach.

The load emits an asset event for the file it wrote, through the alias
``bombora-intent-data:example_bombora_intent_loop.load_surge_scores``: a scoring DAG scheduled on
that alias runs on each fresh load (see docs/intent.md).
"""

from __future__ import annotations

import gzip
import json
import logging
import tempfile
from datetime import datetime

from airflow.sdk import ObjectStoragePath, dag, task

from airflow_provider_bombora.operators.bombora import (
    BomboraActivateAudienceOperator,
    BomboraDigitalAudienceOperator,
)
from airflow_provider_bombora.sensors.bombora import BomboraExportStatusSensor
from airflow_provider_bombora.transfers.intent import BomboraIntentToStorageOperator

log = logging.getLogger(__name__)

SURGE_TOPICS = ["Customer Data Platform", "Account Based Marketing", "Intent Data"]
SURGING_SCORE = 60  # Bombora calls 60 and above surging
AUDIENCE = "Surging on CDP topics"

# [START howto_bombora_intent_destination]
#: Where the intent files go without the Variable: one machine's temporary folder.
DEFAULT_INTENT_ROOT = f"file://{tempfile.gettempdir()}/bombora-intent"
#: The run's day: its logical date, or for a run without one the day it was triggered.
RUN_DAY = "{{ ds if ds is defined else (dag_run.run_after | ds) }}"
INTENT_FILE = f"{{{{ var.value.get('bombora_intent_root', '{DEFAULT_INTENT_ROOT}') }}}}/{RUN_DAY}/surge.jsonl.gz"
# [END howto_bombora_intent_destination]

MAPPINGS = [
    {"source": "xdm:accountKey.sourceKey", "target": "identity:primaryId"},
    {"source": "xdm:accountOrganization.domain", "target": "xdm:companyWebsiteDomain"},
]


@dag(
    dag_id="example_bombora_intent_loop",
    schedule="@weekly",
    start_date=datetime(2026, 11, 1),
    catchup=False,
    doc_md=__doc__,
    tags=["example", "bombora", "intent"],
)
def example_bombora_intent_loop():
    # [START howto_operator_bombora_intent_to_storage]
    load = BomboraIntentToStorageOperator(
        task_id="load_surge_scores",
        topics=SURGE_TOPICS,  # names, resolved through Bombora's topic taxonomy
        destination=INTENT_FILE,
        page_size=1000,
    )
    # [END howto_operator_bombora_intent_to_storage]

    @task
    def keep_surging(intent_file: str) -> str:
        """Stream the intent file; write the surging companies beside it as account records; return
        that file's URL. Written to a temporary name, then moved: a reader never sees half of it."""
        source = ObjectStoragePath(intent_file)
        target = source.parent / "surging_accounts.jsonl"
        temporary = source.parent / ".surging_accounts.jsonl.tmp"
        kept = read = 0
        with source.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as rows, temporary.open("wb") as out:
            for line in rows:
                row = json.loads(line)
                read += 1
                if row["score"] >= SURGING_SCORE:
                    domain = row["domain"]
                    record = {"accountKey": {"sourceKey": domain}, "accountOrganization": {"domain": domain}}
                    out.write(json.dumps(record).encode() + b"\n")
                    kept += 1
        temporary.rename(target)
        log.info("Kept %d of %d companies with a surge score of %d or more: %s", kept, read, SURGING_SCORE, target)
        return str(target)

    activate = BomboraActivateAudienceOperator(
        task_id="activate_surging",
        audience_name=AUDIENCE,
        audience_description=f"Companies surging (score >= {SURGING_SCORE}) on {', '.join(SURGE_TOPICS)}",
        # ignore[index]: Airflow annotates BaseOperator.output as XComArg; it is a PlainXComArg, with __getitem__.
        accounts=keep_surging(load.output["destination"]),  # type: ignore[index]
        mappings=MAPPINGS,
    )

    # ignore[index]: as above.
    wait_for_export = BomboraExportStatusSensor(
        task_id="wait_for_export",
        account_list_id=activate.output["account_list_id"],  # type: ignore[index]
        submitted_after=activate.output["submitted_at"],  # type: ignore[index]
        deferrable=True,
        poke_interval=15,
        timeout=60 * 60,
    )

    # The surging companies go on to Xandr (appnexus), whose CPM is in $0.25 steps, and the
    # task waits until the digital audience is active there: the loop closed.
    push_to_xandr = BomboraDigitalAudienceOperator(
        task_id="push_to_xandr",
        data_exchange="appnexus",
        audience_name=f"{AUDIENCE} - Xandr",
        end_date="{{ macros.ds_add(ds if ds is defined else (dag_run.run_after | ds), 90) }}",
        partner_id="4455667",
        external_id="surging-cdp-xandr",
        cpm_price="2.50",
        account_list_id=activate.output["account_list_id"],  # type: ignore[index]
        wait_for_completion=True,
        deferrable=True,
        poll_interval=15,
    )

    activate >> wait_for_export >> push_to_xandr


example_bombora_intent_loop()
