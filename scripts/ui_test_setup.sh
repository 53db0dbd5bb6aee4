#!/usr/bin/env bash
# Installs what the browser test of the connection form needs, then runs it (`make test-ui`).
#
# - Debian's Chromium (/usr/bin/chromium), when missing. Playwright drives it through
#   `executable_path`; its own browser download (`playwright install`) is never used.
# - Playwright for Python into the given virtualenv (VENV), pinned by its constraints file
#   (CONSTRAINTS, the one the virtualenv was installed with).
# - pytest on tests/ui (extra pytest arguments are passed through, e.g. `-k success`).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${VENV:-.venv}"
CONSTRAINTS="${CONSTRAINTS:-constraints/airflow-3.3.txt}"
CHROMIUM="${OZONETEL_UI_CHROMIUM:-/usr/bin/chromium}"

if [ ! -x "$CHROMIUM" ]; then
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium
fi

if ! "$VENV/bin/python" -c "import playwright" 2>/dev/null; then
    "$VENV/bin/python" -m pip install --quiet -e '.[test,ui]' -c "$CONSTRAINTS"
fi

exec "$VENV/bin/python" -m pytest tests/ui -m ui "$@"
