#!/usr/bin/env bash
# The main job: run an example DAG that activates an account audience against a local
# Bombora sandbox (no credentials needed). Creates the virtual environment if needed.
# Arguments go to scripts/main_job.py, e.g. --dag-id example_bombora_dsp_integration
set -euo pipefail
cd "$(dirname "$0")/.."
python="$(scripts/ensure-venv.sh)"
exec "$python" scripts/main_job.py "$@"
