"""Where an audience's account records come from, besides records given in memory or a local file.

- :mod:`~airflow_provider_bombora.sources.object_storage`: an object storage URL (``s3://``,
  ``gs://``, ``file:///``...) or an ``airflow.sdk.ObjectStoragePath``: one file, or a folder of
  part files read as one audience, plain or compressed (``.gz``, ``.bz2``, ``.zst``).

:func:`airflow_provider_bombora.records.iter_records` chooses the source from what ``accounts``
is and imports the source's module only then: the modules here may import Airflow, this
package's ``__init__`` imports nothing. docs/sources.md describes each source.
"""
