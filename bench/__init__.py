"""Benchmarks of airflow-provider-bombora: upload throughput, end-to-end activation, domain
normalisation, DAG-parse cost and deferrable sensors. Run ``bench/run.sh`` (or
``python -m bench --smoke`` for a check in seconds); see docs/performance.md.
"""
