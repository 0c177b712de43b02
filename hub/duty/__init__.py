"""duty domain."""
