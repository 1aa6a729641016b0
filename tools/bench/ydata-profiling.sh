#!/usr/bin/env bash
# Installs ydata-profiling (PyPI) into a virtual environment cached by version and prints the path
# of its python. tools/bench/pipeline.bench.ts times it (minimal mode) on the same CSV the
# data-pipeline profiles, for comparison.
set -euo pipefail
version=4.18.4
venv="${AION_TOOL_CACHE:-$HOME/.cache/aion}/ydata-profiling-$version"
if [ ! -f "$venv/.installed" ]; then
  echo "[ydata-profiling] installing ydata-profiling $version from PyPI into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  # setuptools: ydata-profiling imports pkg_resources, which new venvs no longer carry.
  "$venv/bin/pip" install --quiet --disable-pip-version-check "ydata-profiling==$version" setuptools >&2
  touch "$venv/.installed"
fi
echo "$venv/bin/python"
