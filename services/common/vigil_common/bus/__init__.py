"""MQTT for every service: ``mqtt`` (the bus over paho-mqtt 2) and ``presence`` (the
connection every service makes, with its retained online/offline status)."""
