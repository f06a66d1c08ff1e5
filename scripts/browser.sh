#!/usr/bin/env bash
# Headless Chromium for the digest rendering tests (Debian's `chromium` package).
# Installed only when missing and we are root; otherwise those tests skip with a reason.
set -u
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
    || echo "could not install chromium; the browser tests will be skipped" >&2
else
  echo "chromium is not installed (needs root to install); the browser tests will be skipped" >&2
fi
exit 0
