#!/usr/bin/env bash
# The browser tests' extra set-up, called by `make test-browser`; safe to re-run.
# Playwright's own browser download is not available here, so Playwright for Python (installed with the
# dev extras by .ci/setup.sh) drives Debian's Chromium at /usr/bin/chromium.
set -euo pipefail
CHROMIUM=${LABKIT_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "The browser tests need Chromium at $CHROMIUM: install Debian's 'chromium' package as root" \
         "(apt-get install chromium) or set LABKIT_CHROMIUM to a Chromium binary." >&2
    exit 1
  fi
  echo "Installing Debian's Chromium (about a minute)..."
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
"$CHROMIUM" --version
VENV=${VENV:-.venv}
"$VENV/bin/python" -c 'import playwright; from importlib.metadata import version; print("playwright", version("playwright"))'
