"""The provider as the ``airflow`` CLI sees it, in a subprocess (moved from tests/unit/test_provider_info.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version


def _airflow_cli(*args: str) -> list[dict[str, str]]:
    """The JSON that ``airflow <args> --output json`` prints."""
    result = subprocess.run(
        [sys.executable, "-m", "airflow", *args, "--output", "json"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def test_airflow_providers_list_shows_the_provider():
    providers = _airflow_cli("providers", "list")
    (provider,) = [entry for entry in providers if entry["package_name"] == "airflow-provider-bombora"]
    assert provider["version"] == version("airflow-provider-bombora")


def test_airflow_providers_hooks_shows_the_hook():
    (hook,) = [entry for entry in _airflow_cli("providers", "hooks") if entry["connection_type"] == "bombora"]
    assert hook == {
        "connection_type": "bombora",
        "class": "airflow_provider_bombora.hooks.bombora.BomboraHook",
        "conn_id_attribute_name": "bombora_conn_id",
        "package_name": "airflow-provider-bombora",
        "hook_name": "Bombora",
    }
