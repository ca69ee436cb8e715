"""What each module may import, checked in a fresh interpreter: the pure modules import neither
Airflow nor an HTTP library, and the asynchronous hook and the trigger do not import requests
(the triggerer runs hundreds of triggers in one process, on httpx)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HTTP_LIBRARIES = {"requests", "httpx", "urllib3", "aiohttp", "http"}
PURE_MODULES = [
    "airflow_provider_bombora.parameters",
    "airflow_provider_bombora.mappings",
    "airflow_provider_bombora.domains",
    "airflow_provider_bombora.records",
    "airflow_provider_bombora.sources.streams",
    "airflow_provider_bombora.sources.compression",
    "airflow_provider_bombora.plan",
    "airflow_provider_bombora.ownership",
    "airflow_provider_bombora.claim",
    "airflow_provider_bombora.writes",
    "airflow_provider_bombora.export_status",
    "airflow_provider_bombora.activation",
    "airflow_provider_bombora.exceptions",
    "airflow_provider_bombora.intent_topics",
    "airflow_provider_bombora.intent_parameters",
    "airflow_provider_bombora.intent_files",
    "airflow_provider_bombora.digital_audience_parameters",
    "airflow_provider_bombora.digital_audiences",
]


def loaded_after_import(module: str, roots: set[str]) -> list[str]:
    """The top-level packages among ``roots`` that importing ``module`` loads."""
    script = (
        f"import sys, {module}\n"
        f"print(','.join(sorted({{name.split('.')[0] for name in sys.modules}} & set({sorted(roots)!r}))))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return [name for name in result.stdout.strip().split(",") if name]


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_modules_import_no_airflow_nor_http_library(module):
    assert loaded_after_import(module, {"airflow", *HTTP_LIBRARIES}) == []


@pytest.mark.parametrize(
    "module", ["airflow_provider_bombora.hooks.bombora_async", "airflow_provider_bombora.triggers.bombora"]
)
def test_the_async_hook_and_the_trigger_do_not_import_requests(module):
    assert loaded_after_import(module, {"requests"}) == []


def test_the_check_sees_an_import_when_there_is_one():
    assert loaded_after_import("airflow_provider_bombora.hooks.bombora", {"requests"}) == ["requests"]


def test_the_operator_loads_no_openlineage_until_lineage_is_asked_for():
    # Harmless where the OpenLineage provider is not installed: only its listener calls the method.
    assert loaded_after_import("airflow_provider_bombora.operators.bombora", {"openlineage"}) == []
