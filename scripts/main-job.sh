#!/usr/bin/env bash
# The main job: run an example DAG that activates an account audience against a local
# Bombora sandbox (no credentials needed). Creates the virtual environment if needed.
# Arguments go to scripts/main_job.py, e.g. --dag-id example_bombora_dsp_integration
set -euo pipefail
cd "$(dirname "$0")/.."
# The examples extra: what the example DAGs need beyond the provider (the sqlite provider).
python="$(scripts/ensure-venv.sh examples)"
exec "$python" scripts/main_job.py "$@"
