#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv and install what the
# project needs: the pinned Airflow that CI tests, the provider in editable mode and the
# extras given as arguments (e.g. "test"). Re-installs only when the inputs changed.
#
# Usage (run it, do not source it):
#   python="$(scripts/ensure-venv.sh [extra ...])"
# It prints the path of the virtual environment's python on stdout and nothing else; every
# message, pip's included, goes to stderr. Its only arguments are extras of the provider.

# Checked before `set`: sourced, the script must not change the caller's shell options.
if [ "${BASH_SOURCE[0]}" != "$0" ]; then
  echo "error: run scripts/ensure-venv.sh as a command (python=\"\$(scripts/ensure-venv.sh [extra ...])\"), do not source it" >&2
  return 2
fi
set -euo pipefail

for extra in "$@"; do
  case "$extra" in
    ""|-*|*[!A-Za-z0-9._-]*)
      echo "error: ensure-venv.sh takes extras of the provider (e.g. test, bench), not '$extra'" >&2
      exit 2 ;;
  esac
done

AIRFLOW_VERSION="${AIRFLOW_VERSION:-3.3.2}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"

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
  python="$(pick_python)"
  echo "Creating virtual environment in $venv with $python" >&2
  "$python" -m venv "$venv" >&2
fi

# The stamp holds what was installed: the Airflow version with a checksum of pyproject.toml on
# its first line, the extras on the second. A run that asks for extras already there (the main
# job after the tests) installs nothing; a reinstall (pyproject.toml changed, or an extra is
# missing) keeps the extras installed before, so that they stay in step with pyproject.toml.
stamp="$venv/.installed"
base="airflow=$AIRFLOW_VERSION $(cksum < "$root/pyproject.toml")"
have_extras=""
if [ -f "$stamp" ]; then
  have_extras="$(sed -n 2p "$stamp")"
fi
missing=""
for extra in "$@"; do
  case ",$have_extras," in *",$extra,"*) ;; *) missing="yes" ;; esac
done
if [ ! -f "$stamp" ] || [ "$(head -n 1 "$stamp")" != "$base" ] || [ -n "$missing" ]; then
  extras="$(printf '%s\n' ${have_extras//,/ } "$@" | sed '/^$/d' | sort -u | paste -sd, -)"
  echo "Installing apache-airflow==$AIRFLOW_VERSION and the provider${extras:+ [$extras]} into $venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "apache-airflow==$AIRFLOW_VERSION" -e "$root${extras:+[$extras]}" >&2
  printf '%s\n%s\n' "$base" "$extras" > "$stamp"
fi
echo "$venv/bin/python"
