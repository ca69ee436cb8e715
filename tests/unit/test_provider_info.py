"""The provider registers with Airflow: schema, entry point, providers manager (in-process).

The ``airflow providers`` CLI is exercised in a subprocess in tests/integration/test_provider_cli.py.
"""

from __future__ import annotations

import json
from importlib.metadata import entry_points
from pathlib import Path

import jsonschema

from airflow_provider_bombora import get_provider_info


def _provider_schema() -> dict:
    import airflow

    return json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())


def test_provider_info_validates_against_airflows_schema():
    jsonschema.validate(get_provider_info(), _provider_schema())


def test_entry_point_points_at_get_provider_info():
    (entry_point,) = [
        ep for ep in entry_points(group="apache_airflow_provider") if ep.value.startswith("airflow_provider_bombora")
    ]
    assert entry_point.load() is get_provider_info


def test_connection_type_declares_the_form():
    (conn_type,) = get_provider_info()["connection-types"]
    assert conn_type["connection-type"] == "bombora"
    assert conn_type["hook-name"] == "Bombora"
    assert conn_type["hook-class-name"] == "airflow_provider_bombora.hooks.bombora.BomboraHook"
    behaviour = conn_type["ui-field-behaviour"]
    assert {"schema", "port"} <= set(behaviour["hidden-fields"])
    assert behaviour["relabeling"] == {
        "login": "Client ID",
        "password": "Client secret",
        "host": "API base URL",
    }
    assert behaviour["placeholders"]["host"] == "https://api.bombora.com"


def test_every_declared_module_and_class_imports():
    import importlib

    info = get_provider_info()
    modules = [
        module
        for section in ("hooks", "operators", "sensors", "triggers")
        for entry in info.get(section, [])
        for module in entry["python-modules"]
    ]
    modules += [entry["python-module"] for entry in info["transfers"]]
    assert "airflow_provider_bombora.transfers.intent" in modules
    for module in modules:
        importlib.import_module(module)
    class_paths = [c["hook-class-name"] for c in info["connection-types"]]
    class_paths += list(info.get("extra-links", []))
    for path in class_paths:
        module, _, name = path.rpartition(".")
        assert hasattr(importlib.import_module(module), name), path


def test_providers_manager_finds_hook_and_field_behaviour():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-provider-bombora" in manager.providers
    hook_info = manager.hooks["bombora"]
    assert hook_info is not None
    assert hook_info.hook_class_name == "airflow_provider_bombora.hooks.bombora.BomboraHook"
    assert hook_info.hook_name == "Bombora"
    behaviour = manager.field_behaviours["bombora"]
    assert behaviour["relabeling"]["login"] == "Client ID"
    assert behaviour["relabeling"]["password"] == "Client secret"
    assert "port" in behaviour["hidden_fields"]
    assert behaviour["placeholders"]["host"] == "https://api.bombora.com"


def test_conn_fields_are_the_hooks_options_and_reach_the_providers_manager():
    from airflow.providers_manager import ProvidersManager

    from airflow_provider_bombora.hooks.settings import OPTION_NAMES, ClientOptions

    (conn_type,) = get_provider_info()["connection-types"]
    fields = conn_type["conn-fields"]
    assert set(fields) <= set(OPTION_NAMES)
    for name, field in fields.items():
        assert field["schema"]["default"] == getattr(ClientOptions(), name)
    widgets = ProvidersManager().connection_form_widgets
    assert {f"extra__bombora__{name}" for name in fields} <= set(widgets)
