"""
Audiences from where they live: the audience is a SQL query on the warehouse, activated to
Bombora, and a second DAG, scheduled on the account list's asset, tells the campaign team what
changed.

``example_bombora_warehouse`` reads the open pipeline (CRM accounts at the ``opportunity`` or
``prospect`` stage) of the run's day straight from the warehouse with ``sql=`` and
``sql_conn_id="bombora_example_warehouse"``, and mirrors it to the account list
"Open pipeline - warehouse". A run without a logical date (the UI's Trigger button) reads the
newest day the warehouse holds, up to the day it was triggered. The sample data covers
2026-11-25 to 2026-11-27.

**The warehouse here is SQLite**, so that the example runs anywhere: ``refresh_warehouse``
loads ``data/warehouse_crm_accounts.csv`` into the SQLite file that the connection
``bombora_example_warehouse`` names (replacing it whole). A DAG file cannot create a
connection, and a task cannot write one to the metadata DB, so the connection comes from the
deployment's environment; ``scripts/main-job.sh`` and the tests set it. In your own Airflow,
give it a path that every worker reaches (here the system's temporary folder)::

    export AIRFLOW_CONN_BOMBORA_EXAMPLE_WAREHOUSE='{"conn_type": "sqlite", "host": "/tmp/bombora_example_warehouse.db"}'

**In a real deployment the warehouse is your own**: point ``bombora_example_warehouse`` (or
``WAREHOUSE_CONN_ID`` below) at it, e.g. a PostgreSQL connection
(``postgres://user:password@warehouse.example.com:5432/analytics``) or a Snowflake one, holding
a ``crm_accounts`` table with these columns (``day`` a date). ``refresh_warehouse`` loads the
sample data into SQLite only: given any other kind of connection, it writes nothing. The query
is plain SQL that PostgreSQL and Snowflake run as it is.

``example_bombora_warehouse_notify`` runs after each refresh of the list: the activation emits
an event for the asset ``bombora://account-lists/Open%20pipeline%20-%20warehouse`` with its
summary as the event's extra, and the DAG's one task reads it from
``triggering_asset_events`` and reports the accounts added and removed and the list's id.
"""

from __future__ import annotations

import csv
import logging
import os
import sqlite3
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow.sdk import Connection, dag, task
from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException

from airflow_provider_bombora.assets import account_list_asset
from airflow_provider_bombora.operators.bombora import BomboraActivateAudienceOperator

log = logging.getLogger(__name__)

DATA = Path(__file__).parent / "data"
CRM_ACCOUNTS = DATA / "warehouse_crm_accounts.csv"
AUDIENCE = "Open pipeline - warehouse"

# [START howto_bombora_sql_connection]
#: The warehouse's Airflow connection: SQLite here, your PostgreSQL or Snowflake in production.
WAREHOUSE_CONN_ID = "bombora_example_warehouse"
#: Where the example's SQLite connection should point: a path every worker of the deployment reaches.
SQLITE_WAREHOUSE = Path(tempfile.gettempdir()) / "bombora_example_warehouse.db"
# [END howto_bombora_sql_connection]

# [START howto_bombora_sql_query]
# The run's day; for a run without a logical date ({{ ds }} is not defined), the newest day up to
# the day it was triggered. Columns are named after the mapping sources (without "xdm:").
OPEN_PIPELINE_QUERY = """\
SELECT account_key AS "accountKey.sourceKey",
       website     AS "accountOrganization.domain"
FROM crm_accounts
WHERE stage IN ('opportunity', 'prospect')
  AND day = {% if ds is defined %}'{{ ds }}'{% else %}(
      SELECT MAX(day) FROM crm_accounts WHERE day <= '{{ dag_run.run_after | ds }}'){% endif %}
ORDER BY account_key
"""
# [END howto_bombora_sql_query]

MAPPINGS = [
    {"source": "xdm:accountKey.sourceKey", "target": "identity:primaryId"},
    {"source": "xdm:accountOrganization.domain", "target": "xdm:companyWebsiteDomain"},
]


def load_sample_warehouse(path: Path) -> int:
    """Write the sample CRM accounts to a new SQLite file at ``path``; return the row count.

    Built beside it, then moved over it: a query reading the old file meanwhile keeps reading it.
    """
    with open(CRM_ACCOUNTS, newline="", encoding="utf-8") as crm_file:
        rows = [
            (row["day"], row["account_key"], row["account_name"], row["website"] or None, row["stage"])
            for row in csv.DictReader(crm_file)
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    building = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    building.unlink(missing_ok=True)
    db = sqlite3.connect(building)
    try:
        db.execute(
            "CREATE TABLE crm_accounts (day TEXT NOT NULL, account_key TEXT NOT NULL, account_name TEXT,"
            " website TEXT, stage TEXT NOT NULL)"
        )
        db.executemany("INSERT INTO crm_accounts VALUES (?, ?, ?, ?, ?)", rows)
        db.commit()
    finally:
        db.close()
    os.replace(building, path)
    return len(rows)


@dag(
    dag_id="example_bombora_warehouse",
    schedule="@daily",
    start_date=datetime(2026, 11, 25),
    end_date=datetime(2026, 11, 27),  # the days of the sample data
    catchup=False,
    doc_md=__doc__,
    tags=["example", "bombora", "sql"],
)
def example_bombora_warehouse():
    @task
    def refresh_warehouse() -> dict:
        """Load the sample CRM accounts into the SQLite warehouse of WAREHOUSE_CONN_ID (SQLite only)."""
        try:
            connection = Connection.get(WAREHOUSE_CONN_ID)
        except AirflowNotFoundException:
            raise AirflowFailException(
                f"The connection {WAREHOUSE_CONN_ID!r} is not defined. For the example's SQLite warehouse: "
                f"export AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}="
                f"'{{\"conn_type\": \"sqlite\", \"host\": \"{SQLITE_WAREHOUSE}\"}}' where Airflow runs; "
                "or point it at your own warehouse."
            ) from None
        if connection.conn_type != "sqlite":
            log.info(
                "Connection %r is a %s warehouse: left as it is (the sample data is loaded into SQLite only).",
                WAREHOUSE_CONN_ID,
                connection.conn_type,
            )
            return {"conn_type": connection.conn_type, "loaded": 0}
        if not connection.host or not Path(connection.host).is_absolute():
            raise AirflowFailException(
                f"The SQLite connection {WAREHOUSE_CONN_ID!r} must name the database file by an absolute path "
                f"that every worker reaches (host {connection.host!r}), e.g. {SQLITE_WAREHOUSE}"
            )
        loaded = load_sample_warehouse(Path(connection.host))
        log.info("Loaded %d CRM account rows from %s into %s", loaded, CRM_ACCOUNTS.name, connection.host)
        return {"conn_type": "sqlite", "database": connection.host, "loaded": loaded}

    # [START howto_operator_bombora_sql]
    activate = BomboraActivateAudienceOperator(
        task_id="activate_open_pipeline",
        audience_name=AUDIENCE,
        audience_description="CRM accounts at the opportunity or prospect stage, from the warehouse",
        sql=OPEN_PIPELINE_QUERY,
        sql_conn_id=WAREHOUSE_CONN_ID,
        mappings=MAPPINGS,
        # The sample data holds dirty websites on purpose (an e-mail, an IP address, an empty one).
        max_rejected_ratio=0.25,
    )
    # [END howto_operator_bombora_sql]

    refresh_warehouse() >> activate


example_bombora_warehouse()


def refresh_report(events: Any) -> dict | None:
    """What the campaign team needs from the account list's asset events: the newest refresh's
    summary (the activation's return value, the event's extra). None without an event."""
    found = list(events.get(account_list_asset(AUDIENCE), [])) if events else []
    if not found:
        log.info("No refresh event for %r: this run was not started by the account list's asset.", AUDIENCE)
        return None
    newest = max(found, key=lambda event: event.timestamp)
    summary = newest.extra
    report = {
        "audience_name": summary.get("audience_name"),
        "account_list_id": summary.get("account_list_id"),
        "snapshot": summary.get("snapshot"),
        "added": summary.get("added"),
        "removed": summary.get("removed"),
        "unchanged": summary.get("unchanged"),
        "accounts_valid": summary.get("accounts_valid"),
        "rejected": summary.get("rejected"),
        "source": f"{newest.source_dag_id}/{newest.source_run_id}",
        "events": len(found),
    }
    log.info(
        "Campaign team: account list %r (%s) refreshed by %s: %s added, %s removed, %s unchanged; "
        "%s accounts in the list, %s records rejected.%s",
        report["audience_name"],
        report["account_list_id"],
        report["source"],
        report["added"],
        report["removed"],
        report["unchanged"],
        report["accounts_valid"],
        report["rejected"],
        f" ({len(found)} refreshes since the last run; this is the newest.)" if len(found) > 1 else "",
    )
    return report


@dag(
    dag_id="example_bombora_warehouse_notify",
    schedule=[account_list_asset(AUDIENCE)],  # runs after each refresh of the list
    start_date=datetime(2026, 11, 25),
    catchup=False,
    doc_md=__doc__,
    tags=["example", "bombora", "assets"],
)
def example_bombora_warehouse_notify():
    # [START howto_bombora_asset_consumer]
    @task
    def notify_campaign_team(triggering_asset_events=None) -> dict | None:
        """Report the refresh that triggered this run: accounts added and removed, the list's id."""
        return refresh_report(triggering_asset_events)

    # [END howto_bombora_asset_consumer]

    notify_campaign_team()


example_bombora_warehouse_notify()
