#!/usr/bin/env bash
# Make sure the browser tests have a chromium: Debian's package at /usr/bin/chromium (installed with
# apt-get when missing and we are root). Playwright drives it; we never download browsers
# (no `playwright install`). Without it the browser tests are skipped with a reason.
set -uo pipefail

log() { echo "ensure-browser: $*" >&2; }
CHROMIUM="${VIGIL_TEST_CHROMIUM:-/usr/bin/chromium}"

if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  log "no $CHROMIUM and cannot install it (not root or no apt-get): the browser tests will be skipped"
  exit 0
fi
log "installing chromium (apt-get)"
apt-get update -qq >/dev/null 2>&1 || true
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; then
  log "apt-get install chromium failed: the browser tests will be skipped"
fi
exit 0
