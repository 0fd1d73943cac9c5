"""Connectors: pull calls from providers (polling) and take them in real time (webhooks)."""
