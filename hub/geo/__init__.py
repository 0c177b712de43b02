"""Where a wearer is, in the datums the map apps people use expect (hub.geo.coords)."""
