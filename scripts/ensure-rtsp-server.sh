#!/usr/bin/env bash
# Make sure the RTSP camera tests have a real RTSP server: GStreamer's gst-rtsp-server driven from
# Debian's /usr/bin/python3 (tests/support/gst_rtsp_server.py; the venv's Python cannot import gi).
# Installed with apt-get when missing and we are root. Without it those tests are skipped with a
# reason.
set -uo pipefail

log() { echo "ensure-rtsp-server: $*" >&2; }
PYTHON="${VIGIL_TEST_GST_PYTHON:-/usr/bin/python3}"
PACKAGES=(gir1.2-gst-rtsp-server-1.0 python3-gst-1.0 gstreamer1.0-plugins-ugly gstreamer1.0-plugins-good
          gstreamer1.0-plugins-base)
PROBE="import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0')
from gi.repository import Gst, GstRtspServer
Gst.init(None)
missing = [e for e in ('videotestsrc', 'x264enc', 'rtph264pay', 'timeoverlay', 'videoconvert')
           if Gst.ElementFactory.find(e) is None]
raise SystemExit(1 if missing else 0)"

usable() { [ -x "$PYTHON" ] && "$PYTHON" -c "$PROBE" >/dev/null 2>&1; }

if usable; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  log "no gst-rtsp-server for $PYTHON and cannot install it (not root or no apt-get): the RTSP tests will be skipped"
  exit 0
fi
log "installing ${PACKAGES[*]} (apt-get)"
apt-get update -qq >/dev/null 2>&1 || true
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${PACKAGES[@]}" >/dev/null; then
  log "apt-get install failed: the RTSP tests will be skipped"
elif ! usable; then
  log "installed, but $PYTHON still cannot run gst-rtsp-server: the RTSP tests will be skipped"
fi
exit 0
