#!/usr/bin/env bash
# LiteLLM's proxy from PyPI for the peer benchmark, in a virtualenv cached by version under the
# user's cache directory. Prints the path of its `litellm` command.
#   LITELLM_VERSION (default below)
set -euo pipefail
version="${LITELLM_VERSION:-1.108.0}"
venv="${XDG_CACHE_HOME:-$HOME/.cache}/aion/litellm-$version"
if [ ! -x "$venv/bin/litellm" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "litellm[proxy]==$version" >&2
fi
echo "$venv/bin/litellm"
