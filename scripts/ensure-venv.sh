#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv and install what the
# project needs: the pinned Airflow that CI tests, the provider in editable mode and the
# extras given as arguments (e.g. "test"). Re-installs only when the inputs changed.
# Usage: source scripts/ensure-venv.sh [extra ...]   -> sets $VENV_PYTHON
set -euo pipefail

AIRFLOW_VERSION="${AIRFLOW_VERSION:-3.3.2}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
extras="$(IFS=,; echo "${*:-}")"

pick_python() {
  for candidate in "${PYTHON:-}" python3.12 python3.11 python3.10 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "error: Python 3.10 or newer is needed (set PYTHON=/path/to/python3)" >&2
  return 1
}

if [ ! -x "$venv/bin/python" ]; then
  echo "Creating virtual environment in $venv" >&2
  "$(pick_python)" -m venv "$venv"
fi

stamp="$venv/.installed"
want="airflow=$AIRFLOW_VERSION extras=$extras $(cat "$root/pyproject.toml" | cksum)"
if [ ! -f "$stamp" ] || ! grep -qxF -- "$want" "$stamp"; then
  echo "Installing apache-airflow==$AIRFLOW_VERSION and the provider [${extras}] into $venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "apache-airflow==$AIRFLOW_VERSION" -e "$root${extras:+[$extras]}"
  echo "$want" > "$stamp"
fi
VENV_PYTHON="$venv/bin/python"
export VENV_PYTHON
