#!/usr/bin/env bash
# Run the benchmarks in the project's virtual environment with the bench extra (created or
# refreshed if needed): prints the tables, writes bench/results/latest.json and
# docs/performance.png. Arguments go to `python -m bench`, e.g. --smoke.
set -euo pipefail
cd "$(dirname "$0")/.."
python="$(scripts/ensure-venv.sh bench)"
# Importing Airflow writes to AIRFLOW_HOME: keep the benchmark's out of ~/airflow.
airflow_home="$(mktemp -d -t bombora-bench-airflow-home-XXXXXX)"
trap 'rm -rf "$airflow_home"' EXIT
AIRFLOW_HOME="$airflow_home" "$python" -m bench "$@"
