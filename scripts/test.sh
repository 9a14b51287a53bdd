#!/usr/bin/env bash
# The whole test suite in one command, on a fresh machine:  scripts/test.sh [pytest args]
#
# - as root on Debian/Ubuntu, installs the real interop peers and libraries the tests use:
#   SIPp (sip-tester), tshark, libbcg729-0 (G.729), kamailio, baresip;
# - creates .venv (if none is active) and installs gwemu with its test extras;
# - runs ruff, mypy and pytest.  Any failure, and pytest's "no tests collected" (exit 5), fails.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES="sip-tester tshark libbcg729-0 kamailio baresip"

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    missing=""
    for pkg in $DEBIAN_PACKAGES; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
    done
    if [ -n "$missing" ]; then
        echo "== installing Debian packages:$missing"
        export DEBIAN_FRONTEND=noninteractive
        # shellcheck disable=SC2086
        apt-get install -y -q --no-install-recommends $missing >/dev/null 2>&1 || {
            apt-get update -q >/dev/null
            apt-get install -y -q --no-install-recommends $missing >/dev/null
        }
    fi
fi

PYTHON="${PYTHON:-python3}"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "gwemu needs Python >= 3.11 (found $("$PYTHON" --version 2>&1))" >&2
    exit 1
}
if [ -z "${VIRTUAL_ENV:-}" ]; then
    [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
    PATH="$PWD/.venv/bin:$PATH"
    export PATH
fi
echo "== installing gwemu and its test dependencies"
python -m pip install -q --disable-pip-version-check -e '.[test]'

echo "== ruff"
ruff check .
echo "== mypy"
mypy
echo "== pytest"
set +e
python -m pytest "$@"
status=$?
set -e
if [ "$status" = 5 ]; then
    echo "pytest collected no tests: that is a failure, not a pass" >&2
    exit 1
fi
exit "$status"
