#!/usr/bin/env bash
# Lint and type-check the provider, its benchmarks, the example DAGs, the scripts and the tests,
# in the project's own virtual environment (created if needed, with the `lint` extra).
# Exits non-zero on any finding. Configuration: [tool.ruff] and [tool.mypy] in pyproject.toml.
# `ruff format` is not enforced: the code is not formatted by it.
set -euo pipefail
cd "$(dirname "$0")/.."
python="$(scripts/ensure-venv.sh lint)"
paths=(airflow_provider_bombora bench dags scripts tests)

status=0
echo "ruff check ${paths[*]}" >&2
"$python" -m ruff check "${paths[@]}" || status=1
echo "mypy ${paths[*]}" >&2
"$python" -m mypy "${paths[@]}" || status=1
# The conftest.py files below tests/ (left out above: mypy would name them all `conftest`), one
# run each.
while IFS= read -r conftest; do
  echo "mypy $conftest" >&2
  "$python" -m mypy "$conftest" || status=1
done < <(find tests -mindepth 2 -name conftest.py | sort)
exit "$status"
