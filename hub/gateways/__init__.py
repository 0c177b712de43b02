"""gateways domain: the edge gateways and whether they are online."""
