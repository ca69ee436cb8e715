"""Operators that move data from Bombora into storage.

- :mod:`~airflow_provider_bombora.transfers.intent`: ``BomboraIntentToStorageOperator``, Company
  Surge intent data to a JSON Lines or CSV file of object storage (docs/intent.md).

This package's ``__init__`` imports nothing.
"""
