"""A community's policy document: alarm rules as data, ticket categories, escalation
chains, contacts and points. Read by most domains; the alarm engine (hub/rules) runs it."""
