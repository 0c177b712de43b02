"""rules domain: each community's alarm rules, ticket categories and escalation chains, as data."""
