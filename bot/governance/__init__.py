"""Governance: who may use the bot, what it may spend, what it costs (issue 13)."""
