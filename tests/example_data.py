"""What the example DAGs' sample data holds, derived by hand from dags/data/, for the tiers that
run the examples (tests/dags with dag.test(), tests/system in a real deployment)."""

from __future__ import annotations

# dags/data/warehouse_crm_accounts.csv, 2026-11-27 (its newest day): 15 rows; Wide World
# Importers and Margie's Travel (now) customers: 13 received.
# Rejected: Datum (e-mail), Graphic Design Institute ("10.0.0.12"), Humongous Insurance (no
# website: NULL). Northwind Traders EMEA ("https://NorthwindTraders.com/emea") is a duplicate of
# Northwind Traders. New: "http://proseware-analytics.com:8443/login", lucernepublishing.de,
# alpineskihouse.ch. 9 domains: 3 added and 1 removed (margies-travel.com) after the 26th.
WAREHOUSE_DAY_27_DOMAINS = [
    "northwindtraders.com",
    "contoso-pharma.com",
    "fabrikam-robotics.io",
    "tailspinlogistics.co.uk",
    "adventure-works.com",
    "litwaresecurity.com",
    "proseware-analytics.com",
    "lucernepublishing.de",
    "alpineskihouse.ch",
]
