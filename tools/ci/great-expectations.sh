#!/usr/bin/env bash
# Installs GX Core (great-expectations from PyPI) into a virtual environment cached by version and
# prints the path of its python. The data-pipeline conformance test runs the same suites through it
# and through the service's own quality gate, and compares the results per expectation.
set -euo pipefail
version=1.24.1
venv="${AION_TOOL_CACHE:-$HOME/.cache/aion}/great-expectations-$version"
if [ ! -f "$venv/.installed" ]; then
  echo "[great-expectations] installing great-expectations $version from PyPI into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "great-expectations==$version" >&2
  touch "$venv/.installed"
fi
echo "$venv/bin/python"
