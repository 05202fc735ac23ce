#!/usr/bin/env bash
# The one command that checks everything: installs the test dependencies into
# .venv (at the versions in constraints.txt), then runs ruff, mypy and the whole
# pytest suite.
# Usage: bash scripts/check.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -c constraints.txt -e '.[dev]'

echo "== ruff"
.venv/bin/ruff check monitor tests benchmarks
.venv/bin/ruff format --check monitor tests benchmarks
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
.venv/bin/python -m pytest "$@"
