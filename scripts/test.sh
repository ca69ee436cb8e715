#!/usr/bin/env bash
# Run the whole test suite in the project's own virtual environment (created if needed).
# Extra arguments go to pytest, e.g. scripts/test.sh tests/unit -k token
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-venv.sh test
exec "$VENV_PYTHON" -m pytest "$@"
