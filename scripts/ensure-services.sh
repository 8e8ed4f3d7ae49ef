#!/usr/bin/env bash
# Make sure the test dependencies run on loopback: PostgreSQL (5432), Redis (6379), Mosquitto (1883).
# Starts them where installed but stopped; installs them with apt-get (as root) where missing.
set -uo pipefail

log() { echo "ensure-services: $*" >&2; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 0.5; done; return 1; }

apt_updated=0
apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    log "cannot install $* (not root or no apt-get)"; return 1
  fi
  if [ "$apt_updated" = 0 ]; then apt-get update -qq >/dev/null 2>&1 || true; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# PostgreSQL
if ! port_open 5432; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then log "installing postgresql"; apt_install postgresql; fi
  ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
  if [ -n "$ver" ]; then
    log "starting PostgreSQL $ver"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start 2>/dev/null || pg_ctlcluster "$ver" main start || true
  fi
  wait_port 5432 || log "PostgreSQL did not come up on 5432"
fi
# Trust auth for loopback test connections is the machine's setup; check we can connect.
if command -v psql >/dev/null && ! psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
  log "warning: cannot connect to PostgreSQL as postgres@127.0.0.1 (set VIGIL_TEST_PG_URL)"
fi

# Redis
if ! port_open 6379; then
  command -v redis-server >/dev/null || { log "installing redis-server"; apt_install redis-server; }
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  log "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || redis-server --daemonize yes --port 6379 --save ""
  wait_port 6379 || log "Redis did not come up on 6379"
fi

# Mosquitto
if ! port_open 1883; then
  command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || { log "installing mosquitto"; apt_install mosquitto; }
  log "starting Mosquitto"
  if [ -f /etc/mosquitto/mosquitto.conf ]; then
    mkdir -p /run/mosquitto /var/lib/mosquitto /var/log/mosquitto 2>/dev/null || true
    chown mosquitto: /run/mosquitto /var/lib/mosquitto /var/log/mosquitto 2>/dev/null || true
    mosquitto -d -c /etc/mosquitto/mosquitto.conf
  fi
  wait_port 1883 || { printf 'listener 1883 127.0.0.1\nallow_anonymous true\n' > /tmp/vigil-mosquitto.conf; mosquitto -d -c /tmp/vigil-mosquitto.conf; wait_port 1883; } \
    || log "Mosquitto did not come up on 1883"
fi
exit 0
