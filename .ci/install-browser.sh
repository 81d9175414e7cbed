#!/usr/bin/env bash
# Installs a headless browser for the explain-page test (tests/viz/test_page_browser.py):
# Debian's chromium (apt-get, needs root) and the playwright package (into the active venv, or the
# python3 on PATH). Never fails CI: if something cannot be installed it says so and exits 0, and
# the browser test is then skipped with a message.
set -u

say() { echo "install-browser: $*"; }

if [ -x /usr/bin/chromium ]; then
    say "chromium already installed ($(/usr/bin/chromium --version 2>/dev/null || echo unknown version))"
elif command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    export DEBIAN_FRONTEND=noninteractive
    if (apt-get update -qq && apt-get install -y -qq chromium) >/tmp/install-browser-apt.log 2>&1; then
        say "installed chromium"
    else
        say "could not install chromium with apt-get (see /tmp/install-browser-apt.log); the browser test will be skipped"
    fi
else
    say "no apt-get or not root: chromium not installed; the browser test will be skipped"
fi

PY="${VIRTUAL_ENV:+$VIRTUAL_ENV/bin/python}"
PY="${PY:-python3}"
if "$PY" -c "import playwright" >/dev/null 2>&1; then
    say "playwright already installed"
elif "$PY" -m pip install -q playwright >/tmp/install-browser-pip.log 2>&1; then
    say "installed playwright into $("$PY" -c 'import sys; print(sys.prefix)')"
else
    say "could not pip install playwright (see /tmp/install-browser-pip.log); the browser test will be skipped"
fi
exit 0
