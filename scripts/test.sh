#!/usr/bin/env bash
# Run the whole test suite in the project's own virtual environment (created if needed).
# Extra arguments go to pytest, e.g. scripts/test.sh tests/unit -k token
set -euo pipefail
cd "$(dirname "$0")/.."
python="$(scripts/ensure-venv.sh test)"
exec "$python" -m pytest "$@"
