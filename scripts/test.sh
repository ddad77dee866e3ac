#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine and run the whole suite.
#   bash scripts/test.sh            (extra arguments go to pytest)
# Needs Python 3.11 (python3); installs Xvfb and the X libraries Qt needs with apt-get (as root, or via sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

# Xvfb gives the napari tests a display; PyQt5's xcb platform plugin needs the X libraries below.
APT_PACKAGES="xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-xinerama0 libxcb-image0 libxcb-render-util0 libxcb-randr0 libxkbcommon-x11-0 libgl1 libegl1 libdbus-1-3 libfontconfig1"
missing=""
for pkg in $APT_PACKAGES; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    echo "Installing system packages for the napari tests:$missing"
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[all]'
exec .venv/bin/python -m pytest "$@"
