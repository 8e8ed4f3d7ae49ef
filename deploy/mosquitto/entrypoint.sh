#!/bin/sh
# Vigil's broker entrypoint (eclipse-mosquitto 2 image): write the service accounts' passwords
# (MQTT_INGEST_PASSWORD, MQTT_RECORDER_PASSWORD, MQTT_API_PASSWORD, MQTT_NOTIFIER_PASSWORD,
# MQTT_DETECTOR_PASSWORD, MQTT_IPCAMS_PASSWORD, and MQTT_HOMEASSISTANT_PASSWORD if set) into
# the password file, keep the cameras' entries that `vigil camera add` wrote there, then run the
# given command (the broker). The password file is shared with the server image's user
# (uid VIGIL_UID, default 10001) through the group-writable auth directory.
set -eu

AUTH_DIR="${VIGIL_BROKER_AUTH_DIR:-/mosquitto/auth}"
PASSWD="$AUTH_DIR/passwd"
VIGIL_UID="${VIGIL_UID:-10001}"

mkdir -p "$AUTH_DIR"
[ -f "$PASSWD" ] || : > "$PASSWD"
for account in ingest recorder api notifier detector ipcams; do
    var="MQTT_$(echo "$account" | tr '[:lower:]' '[:upper:]')_PASSWORD"
    eval "password=\${$var:-}"
    if [ -z "$password" ]; then
        echo "mosquitto entrypoint: $var is not set" >&2
        exit 1
    fi
    mosquitto_passwd -b "$PASSWD" "$account" "$password"
done
# Home Assistant's own account (optional): only when its password is set.
if [ -n "${MQTT_HOMEASSISTANT_PASSWORD:-}" ]; then
    mosquitto_passwd -b "$PASSWD" homeassistant "$MQTT_HOMEASSISTANT_PASSWORD"
fi
if [ "$(id -u)" = 0 ]; then
    chown "$VIGIL_UID:mosquitto" "$AUTH_DIR" "$PASSWD"
    chmod 2770 "$AUTH_DIR"
    chmod 0640 "$PASSWD"
fi
echo "mosquitto entrypoint: service accounts written to $PASSWD"
exec "$@"
