"""A local stand-in for Bombora's Authentication and Account List APIs.

Develop DAGs without credentials and run integration tests against a real HTTP server:
``python -m airflow_provider_bombora.sandbox`` or :class:`SandboxServer` in-process.
It shares no code with the provider's hook, so each checks the other. See docs/sandbox.md.
"""

from airflow_provider_bombora.sandbox.app import create_app
from airflow_provider_bombora.sandbox.server import SandboxServer

__all__ = ["SandboxServer", "create_app"]
