"""The alarm engine: runs each community's alarm rules (hub/policy) over events and time."""
