"""Vigil notifier: watches cameras and services over MQTT and e-mails people about outages."""
