#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine and run the whole suite.
#   bash scripts/test.sh            (extra arguments go to pytest)
# Needs Python 3.11 (python3) and, for the napari tests, Xvfb (installed here with apt-get as root).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v Xvfb >/dev/null 2>&1; then
    echo "Installing Xvfb (virtual display for the napari tests) ..."
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq xvfb >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[all]'
exec .venv/bin/python -m pytest "$@"
