#!/usr/bin/env bash
# Refresh constraints.txt: install the newest releases the package's requirements allow
# (dev and bench extras) into a fresh virtualenv and record their versions. Run
# bash scripts/check.sh afterwards: the new set lands only if the suite passes with it.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
venv="$(mktemp -d)"
trap 'rm -rf "$venv"' EXIT
"$PYTHON" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -e '.[dev,bench]'
{
    sed -n '1,/^# Refresh/p' constraints.txt
    "$venv/bin/python" -m pip freeze --exclude-editable | grep -v -i '^news.monitor' | sort -f
} > constraints.txt.new
mv constraints.txt.new constraints.txt
echo "constraints.txt: $(grep -c -v '^#' constraints.txt) pinned packages"
