#!/bin/sh
# Installs Debian's Chromium for the ui's browser tests when it is missing. Needs root (CI runs as root); anyone
# else is told what to run, and those tests are skipped outside CI (under CI=true they fail instead).
set -eu
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing chromium for the ui's browser tests (apt-get)"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
else
    echo "chromium is missing: the ui's browser tests need it (as root: apt-get install chromium)" >&2
fi
