"""deadletters domain."""
