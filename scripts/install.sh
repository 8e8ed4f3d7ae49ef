#!/usr/bin/env bash
# Install a lock file and then our own packages into a virtual environment:
#   scripts/install.sh VENV LOCK PACKAGE...      e.g. scripts/install.sh .venv requirements/dev.txt services/api
# Every third-party distribution comes from LOCK (exact versions, hashes checked, nothing resolved);
# our packages are installed editable from the tree without their dependencies and without build
# isolation (their build backend, setuptools, is in the lock too). `pip check` then proves the
# lock satisfies every declared dependency.
set -euo pipefail
VENV=$1 LOCK=$2; shift 2
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)
"${PIP[@]}" install -q --require-hashes --no-deps -r "$LOCK"
editables=(); for pkg in "$@"; do editables+=(-e "$pkg"); done
# (PYTHONWARNINGS: setuptools warns about flat layouts for every editable install.)
PYTHONWARNINGS=ignore "${PIP[@]}" install -q --no-deps --no-build-isolation "${editables[@]}"
"${PIP[@]}" check
