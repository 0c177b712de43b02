"""chargers domain: what residents ask of charging piles: which ports are free."""
