#!/bin/sh
# Make deploy/pi/balena a self-contained build context for `balena push`: the Pi image's
# Dockerfile, the two packages it installs and their lock, copied into ./build (not committed).
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
rm -rf "$here/build"
mkdir -p "$here/build/services" "$here/build/requirements"
cp "$root/deploy/pi/Dockerfile" "$here/build/Dockerfile"
cp "$root/deploy/pi/Dockerfile.dockerignore" "$here/build/.dockerignore"
cp -R "$root/services/common" "$root/services/capture" "$here/build/services/"
cp "$root/requirements/capture-pi.txt" "$here/build/requirements/"
find "$here/build" -name __pycache__ -prune -exec rm -rf {} + -o -name '*.egg-info' -prune -exec rm -rf {} +
echo "balena build context ready: cd $here && balena push <fleet>"
