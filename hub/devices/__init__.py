"""devices domain."""
