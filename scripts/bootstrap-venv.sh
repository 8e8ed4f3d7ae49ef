#!/usr/bin/env bash
# Create .venv with Python >= 3.11 (installing python3-venv with apt-get if the venv module is missing).
set -euo pipefail
VENV=${1:-.venv}
[ -x "$VENV/bin/python" ] && exit 0
PY=""
for cand in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
  [ -n "$cand" ] || continue
  if command -v "$cand" >/dev/null && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then PY=$cand; break; fi
done
[ -n "$PY" ] || { echo "Vigil needs Python 3.11 or newer" >&2; exit 1; }
if ! "$PY" -m venv "$VENV" 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
    rm -rf "$VENV"; "$PY" -m venv "$VENV"
  else
    echo "cannot create a virtual environment: install python3-venv" >&2; exit 1
  fi
fi
# pip itself is upgraded from the lock by scripts/install.sh (never to an unpinned release).
