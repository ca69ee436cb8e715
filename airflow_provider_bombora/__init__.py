"""Apache Airflow provider for Bombora: activate B2B account audiences to Bombora account lists.

This module imports nothing: the providers manager calls :func:`get_provider_info` and the
pure modules of the package must stay importable without Airflow.
"""

from __future__ import annotations

__version__ = "0.1.0"


def get_provider_info() -> dict:
    """Describe the provider to Airflow's providers manager (entry point ``apache_airflow_provider``)."""
    return {
        "package-name": "airflow-provider-bombora",
        "name": "Bombora",
        "description": "Activate B2B account audiences to `Bombora <https://bombora.com/>`__ account lists.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Bombora",
                "external-doc-url": "https://bombora.com/",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": "Bombora",
                "python-modules": [
                    "airflow_provider_bombora.hooks.bombora",
                    "airflow_provider_bombora.hooks.bombora_async",
                ],
            }
        ],
        "operators": [
            {
                "integration-name": "Bombora",
                "python-modules": [
                    "airflow_provider_bombora.operators.bombora",
                    "airflow_provider_bombora.operators.digital_audiences",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": "Bombora",
                "python-modules": ["airflow_provider_bombora.sensors.bombora"],
            }
        ],
        "triggers": [
            {
                "integration-name": "Bombora",
                "python-modules": ["airflow_provider_bombora.triggers.bombora"],
            }
        ],
        "transfers": [
            {
                "source-integration-name": "Bombora",
                "target-integration-name": "Object Storage",
                "python-module": "airflow_provider_bombora.transfers.intent",
            }
        ],
        "asset-uris": [
            {
                "schemes": ["bombora"],
                "handler": "airflow_provider_bombora.assets.sanitize_uri",
                "factory": "airflow_provider_bombora.assets.create_asset",
                "to_openlineage_converter": "airflow_provider_bombora.assets.convert_asset_to_openlineage",
            }
        ],
        "connection-types": [
            {
                "connection-type": "bombora",
                "hook-class-name": "airflow_provider_bombora.hooks.bombora.BomboraHook",
                "hook-name": "Bombora",
                # Optional extras, as form fields (Airflow 3.2+ reads them from here).
                "conn-fields": {
                    "connect_timeout": {
                        "label": "Connect timeout (seconds)",
                        "schema": {"type": ["number", "null"], "default": 10},
                    },
                    "timeout": {
                        "label": "Read timeout (seconds)",
                        "schema": {"type": ["number", "null"], "default": 60},
                    },
                    "max_attempts": {
                        "label": "Attempts per request",
                        "schema": {"type": ["integer", "null"], "default": 5, "minimum": 1},
                        "description": "Tries of one request, the first included, on 429, 5xx and dropped connections.",
                    },
                    "max_retry_wait": {
                        "label": "Longest wait between attempts (seconds)",
                        "schema": {"type": ["number", "null"], "default": 60},
                        "description": "Caps every wait, Retry-After included.",
                    },
                    "verify": {
                        "label": "Verify TLS certificates",
                        "schema": {"type": ["boolean", "null"], "default": True},
                    },
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
                    "relabeling": {
                        "login": "Client ID",
                        "password": "Client secret",
                        "host": "API base URL",
                    },
                    "placeholders": {
                        "login": "Client ID of your Bombora app (also called Key)",
                        "password": "Client secret of your Bombora app",
                        "host": "https://api.bombora.com",
                    },
                },
            }
        ],
    }
