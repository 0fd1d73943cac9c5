"""Automations: call results pushed to Slack, signed webhooks and email, with a
delivery log, retries and auto-disable."""
