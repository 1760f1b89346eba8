"""Outbound channels (SMS gateway webhook, SMTP) with durable delivery records."""
