"""commands domain: what the hub asks devices to do, and what became of it."""
