"""grid domain."""
