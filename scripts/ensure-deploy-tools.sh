#!/usr/bin/env bash
# Tools the deployment checks (tests/deploy) need: Debian's docker-compose (validates the compose
# files with `docker-compose config`; no Docker engine needed) and mosquitto_passwd (ships with
# mosquitto; the broker entrypoint uses it). Installs with apt-get when missing and root;
# otherwise says so and the tests that need them are skipped.
set -uo pipefail

log() { echo "ensure-deploy-tools: $*" >&2; }
missing=()
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v mosquitto_passwd >/dev/null || missing+=(mosquitto)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  log "missing ${missing[*]} (not root or no apt-get): the tests that need them are skipped"
  exit 0
fi
log "installing ${missing[*]}"
apt-get update -qq >/dev/null 2>&1 || true
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
  || log "apt-get install ${missing[*]} failed: the tests that need them are skipped"
exit 0
